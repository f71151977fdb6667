// The CSV parser (compute/analytics/csv.h) that reads uploaded CSV and
// POINTS_CSV datasets.
//
// Input: byte 0 picks the options (delimiter, header, requested column
// types, parallel chunk size), byte 1 the requested types of the first four
// columns, the rest is the CSV text.
//
// Oracle (differential): the parallel ParseCsv, cut into tiny chunks so the
// quote-parity split runs on small inputs, gives exactly the table or error
// of ParseCsvSequential; a parsed table is well formed; writing it with
// ToCsv and parsing that with the same column types gives the same table.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "compute/analytics/csv.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using impulse::fuzz::Printable;
namespace analytics = impulse::analytics;
using analytics::ColumnType;

constexpr char kDelimiters[] = {',', ';', '\t', '|', ' ', '"', 'a', '0'};
constexpr std::size_t kChunkSizes[] = {1 << 20, 7, 16, 64};

void CheckWellFormed(const analytics::Table& table) {
  const std::size_t rows = table.num_rows();
  for (const analytics::Column& c : table.columns) {
    FUZZ_CHECK(c.size() == rows) << "column '" << Printable(c.name) << "' has "
                                 << c.size() << " rows, not " << rows;
    FUZZ_CHECK(c.valid.empty() || c.valid.size() == rows)
        << "validity of '" << Printable(c.name) << "'";
    if (c.type == ColumnType::kString) {
      FUZZ_CHECK(c.offsets.size() == rows + 1 && c.offsets.front() == 0 &&
                 c.offsets.back() == c.chars.size())
          << "string offsets of '" << Printable(c.name) << "'";
      for (std::size_t r = 0; r < rows; ++r) {
        FUZZ_CHECK(c.offsets[r] <= c.offsets[r + 1]) << "offsets decrease";
      }
    }
  }
}

bool SameValue(const analytics::Column& a, const analytics::Column& b,
               std::size_t r) {
  if (a.is_null(r) != b.is_null(r)) return false;
  if (a.is_null(r)) return true;
  switch (a.type) {
    case ColumnType::kInt64:
      return a.ints[r] == b.ints[r];
    case ColumnType::kDouble:
      return std::bit_cast<std::uint64_t>(a.doubles[r]) ==
                 std::bit_cast<std::uint64_t>(b.doubles[r]) ||
             (std::isnan(a.doubles[r]) && std::isnan(b.doubles[r]));
    case ColumnType::kString:
      return a.str(r) == b.str(r);
  }
  return false;
}

// "" when equal, else where they differ.
std::string Difference(const analytics::Table& a, const analytics::Table& b) {
  if (a.num_columns() != b.num_columns()) return "column count";
  if (a.num_rows() != b.num_rows()) {
    return "row count " + std::to_string(a.num_rows()) + " vs " +
           std::to_string(b.num_rows());
  }
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const analytics::Column& x = a.columns[c];
    const analytics::Column& y = b.columns[c];
    if (x.name != y.name) return "name of column " + std::to_string(c);
    if (x.type != y.type) return "type of column '" + x.name + "'";
    for (std::size_t r = 0; r < a.num_rows(); ++r) {
      if (!SameValue(x, y, r)) {
        return "row " + std::to_string(r) + " of column '" + x.name + "': '" +
               Printable(x.ToString(r)) + "' vs '" + Printable(y.ToString(r)) +
               "'";
      }
    }
  }
  return "";
}

// Whether ToCsv's output can stand for the table: a one-column table whose
// name or a value is empty would write an empty line, which is skipped.
bool RoundTrips(const analytics::Table& table) {
  if (table.num_columns() != 1) return !table.columns.empty();
  const analytics::Column& c = table.columns.front();
  if (c.name.empty()) return false;
  for (std::size_t r = 0; r < c.size(); ++r) {
    if (c.is_null(r) || c.ToString(r).empty()) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t types = data[1];
  const std::string_view text(reinterpret_cast<const char*>(data + 2),
                              size - 2);

  analytics::CsvOptions options;
  options.delimiter = kDelimiters[flags & 7];
  options.has_header = (flags & 8) == 0;
  if (flags & 16) {
    // Request types for the first columns by name (as a table job does).
    impulse::Result<analytics::Table> names =
        analytics::ParseCsvSequential(text.substr(0, text.find('\n')), options);
    if (names.ok()) {
      for (std::size_t c = 0; c < 4 && c < names.value().num_columns(); ++c) {
        const int t = (types >> (2 * c)) & 3;
        if (t == 0) continue;
        options.column_types.emplace_back(
            names.value().columns[c].name,
            t == 1 ? ColumnType::kInt64
                   : (t == 2 ? ColumnType::kDouble : ColumnType::kString));
      }
    }
  }
  const impulse::Result<analytics::Table> sequential =
      analytics::ParseCsvSequential(text, options);
  analytics::CsvOptions parallel_options = options;
  parallel_options.parallel_chunk_bytes = kChunkSizes[(flags >> 5) & 3];
  const impulse::Result<analytics::Table> parallel =
      analytics::ParseCsv(text, parallel_options);

  FUZZ_CHECK(sequential.ok() == parallel.ok())
      << "sequential "
      << (sequential.ok() ? "ok" : sequential.error().ToString())
      << ", parallel " << (parallel.ok() ? "ok" : parallel.error().ToString())
      << " on '" << Printable(text) << "'";
  if (!sequential.ok()) {
    FUZZ_CHECK(sequential.error().ToString() == parallel.error().ToString())
        << "errors differ: '" << sequential.error().ToString() << "' vs '"
        << parallel.error().ToString() << "' on '" << Printable(text) << "'";
    FUZZ_CHECK(sequential.error().code == impulse::ErrorCode::kInvalidArgument)
        << sequential.error().ToString();
    return 0;
  }
  CheckWellFormed(sequential.value());
  CheckWellFormed(parallel.value());
  const std::string diff = Difference(sequential.value(), parallel.value());
  FUZZ_CHECK(diff.empty()) << "parallel parse differs from sequential: " << diff
                           << " on '" << Printable(text) << "'";

  if ((flags & 128) == 0 || !RoundTrips(sequential.value())) return 0;
  const analytics::Table& table = sequential.value();
  const std::string written = analytics::ToCsv(table, options.delimiter);
  analytics::CsvOptions reread_options;
  reread_options.delimiter = options.delimiter;
  for (const analytics::Column& c : table.columns) {
    reread_options.column_types.emplace_back(c.name, c.type);
  }
  const impulse::Result<analytics::Table> reread =
      analytics::ParseCsvSequential(written, reread_options);
  FUZZ_CHECK(reread.ok()) << "ToCsv output does not parse: "
                          << reread.error().ToString() << " in '"
                          << Printable(written) << "'";
  const std::string rediff = Difference(table, reread.value());
  FUZZ_CHECK(rediff.empty()) << "ToCsv round trip changed the table: " << rediff
                             << " via '" << Printable(written) << "'";
  return 0;
}
