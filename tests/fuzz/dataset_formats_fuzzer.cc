// The dataset point and table formats (server/jobs/dataset_formats.h): the
// checks an upload's content gets (InspectContent) and the conversion jobs
// use (LoadPoints).
//
// Input: byte 0 picks the format (TEXT, CSV, POINTS_F64, POINTS_CSV or an
// unknown value), byte 1 the dims of the header (0..8), the rest is the
// content.
//
// Oracle: no crash; what an upload accepts, a job can read: an accepted
// points dataset loads with the rows and dims the upload reported, finite
// values only; an accepted CSV dataset reports the columns (and rows) that
// parsing it gives; a CSV that parses is accepted (unless its header has no
// names, only blanks, or it is not UTF-8); what an upload records survives
// protobuf (the manifest and the journal).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/csv.h"
#include "server/jobs/dataset_formats.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using impulse::fuzz::Printable;
namespace v1 = impulse::v1;

constexpr v1::DatasetFormat kFormats[] = {v1::TEXT, v1::CSV, v1::POINTS_F64,
                                          v1::POINTS_CSV,
                                          static_cast<v1::DatasetFormat>(99)};

void CheckPoints(std::string_view bytes, v1::DatasetFormat format,
                 const impulse::jobs::ContentSummary& summary) {
  // Mapped files are page-aligned; copy into 8-byte-aligned memory.
  std::vector<double> aligned((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(aligned.data(), bytes.data(), bytes.size());
  impulse::jobs::DatasetContent content;
  content.info.set_name("d");
  content.info.set_format(format);
  content.info.set_dims(summary.dims);
  content.info.set_rows(summary.rows);
  content.bytes = std::string_view(
      reinterpret_cast<const char*>(aligned.data()), bytes.size());
  auto points = impulse::jobs::LoadPoints(content, "spec.dataset");
  if (summary.rows == 0) {
    FUZZ_CHECK(!points.ok()) << "an empty dataset loaded as points";
    return;
  }
  FUZZ_CHECK(points.ok()) << "accepted " << v1::DatasetFormat_Name(format)
                          << " dataset does not load: "
                          << points.error().ToString() << " for '"
                          << Printable(bytes) << "'";
  const impulse::jobs::Points& p = *points.value();
  FUZZ_CHECK(p.dims == summary.dims && p.size() == summary.rows &&
             p.values.size() == summary.rows * summary.dims)
      << "upload said " << summary.rows << " x " << summary.dims
      << ", loading gave " << p.size() << " x " << p.dims;
  for (double v : p.values) {
    FUZZ_CHECK(std::isfinite(v)) << "a loaded coordinate is not finite";
  }
}

// What the manifest and the journal do with a dataset's metadata: protobuf
// binary and JSON must both read back (proto3 strings must be UTF-8).
void CheckStorable(const impulse::jobs::ContentSummary& summary) {
  v1::Dataset info;
  info.set_name("d");
  for (const std::string& column : summary.columns) info.add_columns(column);
  v1::Dataset back;
  FUZZ_CHECK(back.ParseFromString(info.SerializeAsString()))
      << "the dataset's metadata does not survive protobuf";
}

bool ValidUtf8(std::string_view text) {
  v1::Dataset probe;
  probe.set_name(std::string(text));
  v1::Dataset back;
  return back.ParseFromString(probe.SerializeAsString());
}

void CheckCsv(std::string_view bytes, bool accepted,
              const impulse::jobs::ContentSummary& summary,
              const std::string& why) {
  const impulse::Result<impulse::analytics::Table> table =
      impulse::analytics::ParseCsvSequential(bytes);
  if (!table.ok()) return;   // a job reading it fails with a row error
  bool blank_header = true;  // refused on purpose: no column names
  for (const auto& column : table.value().columns) {
    blank_header &= column.name.find_first_not_of(" \t\r") == std::string::npos;
  }
  FUZZ_CHECK(accepted || blank_header || !ValidUtf8(bytes))
      << "upload refused a CSV that parses: " << why << " for '"
      << Printable(bytes) << "'";
  if (!accepted) return;
  std::vector<std::string> names;
  for (const auto& column : table.value().columns) names.push_back(column.name);
  FUZZ_CHECK(names == summary.columns)
      << "upload reported other columns than parsing gives for '"
      << Printable(bytes) << "'";
  FUZZ_CHECK(summary.rows == table.value().num_rows())
      << "upload reported " << summary.rows << " rows, parsing gives "
      << table.value().num_rows() << " for '" << Printable(bytes) << "'";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 2) return 0;
  const v1::DatasetFormat format = kFormats[data[0] % 5];
  const std::uint32_t dims = data[1] % 9;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2),
                               size - 2);

  const impulse::Result<impulse::jobs::ContentSummary> summary =
      impulse::jobs::InspectContent(format, dims, bytes);
  if (!summary.ok()) {
    const impulse::Error& error = summary.error();
    FUZZ_CHECK(error.code == impulse::ErrorCode::kInvalidArgument &&
               (error.field == "data" || error.field.starts_with("header.")))
        << "upload check answered " << error.ToString();
    if (format == v1::CSV) CheckCsv(bytes, false, {}, error.ToString());
    if (error.message.starts_with("not valid UTF-8 at byte")) {
      FUZZ_CHECK(!ValidUtf8(bytes)) << "valid UTF-8 refused as invalid";
    }
    return 0;
  }
  CheckStorable(summary.value());
  switch (format) {
    case v1::TEXT:
      FUZZ_CHECK(summary.value().rows == impulse::jobs::CountLines(bytes))
          << "TEXT rows";
      break;
    case v1::CSV:
      CheckCsv(bytes, true, summary.value(), "");
      break;
    case v1::POINTS_F64:
    case v1::POINTS_CSV:
      FUZZ_CHECK(dims == 0 || summary.value().dims == dims ||
                 summary.value().rows == 0)
          << "upload with dims " << dims << " reported dims "
          << summary.value().dims;
      CheckPoints(bytes, format, summary.value());
      break;
    default:
      FUZZ_CHECK(false) << "unknown format accepted";
  }
  return 0;
}
