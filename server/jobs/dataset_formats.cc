#include "server/jobs/dataset_formats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "compute/analytics/csv.h"

namespace impulse::jobs {
namespace {

Error DataError(std::string message) {
  return Error::InvalidArgument("data", std::move(message));
}

bool AllNumeric(const analytics::Table& table) {
  for (const analytics::Column& column : table.columns) {
    if (column.type == analytics::ColumnType::kString) return false;
  }
  return !table.columns.empty();
}

// The header of a CSV as column names (via the CSV parser, so quoting and
// duplicate names are checked like everywhere else). `header` is the first
// record as ScanCsvRecords finds it.
Result<analytics::Table> ParseHeader(std::string_view header, bool names) {
  analytics::CsvOptions options;
  options.has_header = names;
  Result<analytics::Table> table = analytics::ParseCsv(header, options);
  if (!table.ok()) return Error::InvalidArgument("data", table.error().message);
  return table;
}

struct PointsCsv {
  std::vector<double> values;
  std::size_t dims = 0;
  std::vector<std::string> columns;
};

// POINTS_CSV: a header row of names is optional (a first row of numbers is
// data); every value must be a number.
Result<PointsCsv> ParsePointsCsv(std::string_view text,
                                 const RunControl& control) {
  bool blank = true;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
      blank = false;
      break;
    }
  }
  if (blank) return PointsCsv{};
  const analytics::CsvRecords records =
      analytics::ScanCsvRecords(text, ',', /*max_records=*/1);
  if (!records.error.empty()) return DataError(records.error);
  const std::string_view first_record = records.first_record;
  Result<analytics::Table> first = ParseHeader(first_record, /*names=*/false);
  if (!first.ok()) return first.error();
  const bool has_header = !AllNumeric(first.value());
  analytics::CsvOptions options;
  options.has_header = has_header;
  if (has_header) {
    Result<analytics::Table> header = ParseHeader(first_record, /*names=*/true);
    if (!header.ok()) return header.error();
    for (const analytics::Column& column : header.value().columns) {
      options.column_types.emplace_back(column.name,
                                        analytics::ColumnType::kDouble);
    }
  } else {
    for (std::size_t i = 0; i < first.value().num_columns(); ++i) {
      options.column_types.emplace_back("c" + std::to_string(i),
                                        analytics::ColumnType::kDouble);
    }
  }
  Result<analytics::Table> parsed = analytics::ParseCsv(text, options, control);
  if (!parsed.ok()) {
    if (parsed.error().code == ErrorCode::kCancelled) return parsed.error();
    return DataError(parsed.error().message);
  }
  const analytics::Table& table = parsed.value();
  PointsCsv points;
  points.dims = table.num_columns();
  const std::size_t n = table.num_rows();
  points.values.resize(n * points.dims);
  for (std::size_t c = 0; c < points.dims; ++c) {
    const analytics::Column& column = table.columns[c];
    if (has_header) points.columns.push_back(column.name);
    for (std::size_t r = 0; r < n; ++r) {
      if (column.is_null(r)) {
        return DataError("row " + std::to_string(r + (has_header ? 2 : 1)) +
                         ", column '" + column.name +
                         "': empty value; every coordinate must be a number");
      }
      const double v = column.doubles[r];
      if (!std::isfinite(v)) {
        return DataError("row " + std::to_string(r + (has_header ? 2 : 1)) +
                         ", column '" + column.name + "': not a finite number");
      }
      points.values[r * points.dims + c] = v;
    }
  }
  return points;
}

// The offset of the first byte that is not part of well-formed UTF-8 (no
// overlong forms, surrogates or code points past U+10FFFF), or npos.
std::size_t FirstInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs eight bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, sizeof word);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// CSV text becomes protobuf strings (column names in the dataset's metadata
// and manifest, values in table results, both journaled), which must be
// UTF-8: a stored name that is not made the manifest unreadable, so the
// server would not start again.
Status RequireUtf8(std::string_view text) {
  const std::size_t bad = FirstInvalidUtf8(text);
  if (bad == std::string_view::npos) return {};
  const std::size_t line = std::count(text.begin(), text.begin() + bad, '\n');
  return DataError("not valid UTF-8 at byte " + std::to_string(bad) +
                   " (line " + std::to_string(line + 1) +
                   "); CSV datasets must be UTF-8 text");
}

std::string FormatName(v1::DatasetFormat format) {
  return v1::DatasetFormat_Name(format);
}

}  // namespace

std::uint64_t CountLines(std::string_view text) {
  if (text.empty()) return 0;
  std::uint64_t lines = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while ((p = static_cast<const char*>(std::memchr(p, '\n', end - p))) !=
         nullptr) {
    ++lines;
    ++p;
  }
  if (text.back() != '\n') ++lines;
  return lines;
}

Result<ContentSummary> InspectContent(v1::DatasetFormat format,
                                      std::uint32_t dims,
                                      std::string_view bytes,
                                      const RunControl& control) {
  ContentSummary summary;
  switch (format) {
    case v1::TEXT:
      summary.rows = CountLines(bytes);
      return summary;
    case v1::CSV: {
      if (Status utf8 = RequireUtf8(bytes); !utf8.ok()) return utf8.error();
      // One scan by the parser's own rules (quotes, blank lines) finds the
      // header and counts the records, so the summary is what a job reads.
      // Only the header must be well formed here; a malformed row fails the
      // jobs that read it, naming the row.
      const analytics::CsvRecords records = analytics::ScanCsvRecords(bytes);
      if (records.records == 0 && !records.error.empty()) {
        return DataError(records.error);
      }
      const std::string_view header = records.first_record;
      if (records.records == 0 ||
          header.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return DataError(
            "a CSV dataset needs a header row (column names) on its first "
            "non-empty line");
      }
      Result<analytics::Table> names = ParseHeader(header, /*names=*/true);
      if (!names.ok()) return names.error();
      for (const analytics::Column& column : names.value().columns) {
        summary.columns.push_back(column.name);
      }
      summary.rows = records.records - 1;
      return summary;
    }
    case v1::POINTS_F64: {
      if (dims == 0) {
        return Error::InvalidArgument(
            "header.dims", "POINTS_F64 needs dims (coordinates per point)");
      }
      const std::size_t point_bytes = sizeof(double) * dims;
      if (bytes.size() % point_bytes != 0) {
        return DataError(std::to_string(bytes.size()) +
                         " bytes is not a multiple of " +
                         std::to_string(point_bytes) +
                         " (8 * dims): not a whole number of points of " +
                         std::to_string(dims) + " float64 values");
      }
      const std::size_t count = bytes.size() / sizeof(double);
      for (std::size_t i = 0; i < count; ++i) {
        double v;
        std::memcpy(&v, bytes.data() + i * sizeof(double), sizeof v);
        if (!std::isfinite(v)) {
          return DataError("point " + std::to_string(i / dims) +
                           ", coordinate " + std::to_string(i % dims) +
                           ": not a finite number");
        }
      }
      summary.dims = dims;
      summary.rows = bytes.size() / point_bytes;
      return summary;
    }
    case v1::POINTS_CSV: {
      if (Status utf8 = RequireUtf8(bytes); !utf8.ok()) return utf8.error();
      Result<PointsCsv> points = ParsePointsCsv(bytes, control);
      if (!points.ok()) return points.error();
      if (dims != 0 && points.value().dims != 0 &&
          points.value().dims != dims) {
        return Error::InvalidArgument(
            "header.dims", "is " + std::to_string(dims) + " but the CSV has " +
                               std::to_string(points.value().dims) +
                               " columns");
      }
      summary.dims =
          points.value().dims != 0 ? points.value().dims : std::max(dims, 1u);
      summary.rows = points.value().dims == 0
                         ? 0
                         : points.value().values.size() / points.value().dims;
      summary.columns = std::move(points.value().columns);
      return summary;
    }
    default:
      return Error::InvalidArgument(
          "header.format", "give one of TEXT, CSV, POINTS_F64, POINTS_CSV");
  }
}

Status RequireFormat(const v1::Dataset& dataset,
                     std::initializer_list<v1::DatasetFormat> formats,
                     const std::string& field) {
  std::string names;
  for (v1::DatasetFormat format : formats) {
    if (dataset.format() == format) return {};
    if (!names.empty()) names += " or ";
    names += FormatName(format);
  }
  return Error::InvalidArgument(field, "dataset '" + dataset.name() + "' is " +
                                           FormatName(dataset.format()) +
                                           "; this job needs " + names);
}

Result<std::unique_ptr<Points>> LoadPoints(const DatasetContent& dataset,
                                           const std::string& field) {
  if (Status status =
          RequireFormat(dataset.info, {v1::POINTS_F64, v1::POINTS_CSV}, field);
      !status.ok()) {
    return status.error();
  }
  auto points = std::make_unique<Points>();
  if (dataset.info.format() == v1::POINTS_F64) {
    points->dims = dataset.info.dims();
    if (points->dims == 0 || dataset.bytes.size() % (8 * points->dims) != 0 ||
        reinterpret_cast<std::uintptr_t>(dataset.bytes.data()) % 8 != 0) {
      return Error::InvalidArgument(
          field, "dataset '" + dataset.info.name() + "' is not packed points");
    }
    points->values = {reinterpret_cast<const double*>(dataset.bytes.data()),
                      dataset.bytes.size() / sizeof(double)};
  } else {
    Result<PointsCsv> parsed = ParsePointsCsv(dataset.bytes, {});
    if (!parsed.ok()) {
      return Error::InvalidArgument(field, "dataset '" + dataset.info.name() +
                                               "': " + parsed.error().message);
    }
    points->dims = parsed.value().dims;
    points->storage = std::move(parsed.value().values);
    points->values = points->storage;
  }
  if (points->size() == 0) {
    return Error::InvalidArgument(
        field, "dataset '" + dataset.info.name() + "' has no points");
  }
  return points;
}

}  // namespace impulse::jobs
