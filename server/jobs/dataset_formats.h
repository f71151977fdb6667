// Reading the dataset formats (impulse.v1.DatasetFormat): checks done on
// upload and the conversions analytics jobs need (points as doubles, CSV
// header columns). Errors are InvalidArgument and name the row and column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"
#include "server/jobs/dataset_access.h"

namespace impulse::jobs {

// What upload validation learns about a dataset's content.
struct ContentSummary {
  std::uint32_t dims = 0;
  std::uint64_t rows = 0;
  std::vector<std::string> columns;
};

// Checks `bytes` against the format (POINTS_F64: a whole number of points of
// `dims` finite doubles; CSV: UTF-8 text with a header row of distinct names;
// POINTS_CSV: UTF-8, numbers only, the same count per row, matching `dims`
// when it is set; TEXT: anything) and counts rows. Errors name field
// "header.dims" or "data".
Result<ContentSummary> InspectContent(v1::DatasetFormat format,
                                      std::uint32_t dims,
                                      std::string_view bytes,
                                      const RunControl& control = {});

// Points of a POINTS_F64 or POINTS_CSV dataset as row-major doubles. For
// POINTS_F64 `values` views the mapped bytes; for CSV it views `storage`.
struct Points {
  std::span<const double> values;
  std::size_t dims = 0;
  std::vector<double> storage;
  std::size_t size() const { return dims == 0 ? 0 : values.size() / dims; }
};

// `field` names the spec field that named the dataset in errors (wrong
// format, empty, malformed). Not copyable: `values` may view `storage`.
Result<std::unique_ptr<Points>> LoadPoints(const DatasetContent& dataset,
                                           const std::string& field);

// Checks that a dataset has one of the formats; the error names `field`.
Status RequireFormat(const v1::Dataset& dataset,
                     std::initializer_list<v1::DatasetFormat> formats,
                     const std::string& field);

// Lines of a TEXT: '\n'-terminated, plus a last line without one.
std::uint64_t CountLines(std::string_view text);

}  // namespace impulse::jobs
