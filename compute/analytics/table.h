// In-memory typed tables and the relational operations of the `table` job
// (book ch3/ch8: pandas / Dask DataFrame): filter, group-by with aggregates,
// inner/left join. Columns are int64, double or string, each value possibly
// null (a missing CSV value, or no match in a left join). All operations are
// parallel over row blocks in the caller's TBB arena, report progress in
// rows between waves and stop with kCancelled when asked.
//
// Null semantics (SQL-like): comparisons with null are false (also !=);
// aggregates skip nulls (count(column) counts non-null values, count without
// a column counts rows; sum of no values is 0, mean/min/max of no values are
// null); null join keys never match; in group-by, null is a key value of its
// own and sorts first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/progress.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::analytics {

enum class ColumnType { kInt64, kDouble, kString };

// "int64", "double", "string".
const char* ColumnTypeName(ColumnType type);
// Accepts those names (plus "int", "float", "str"); field names the spec.
Result<ColumnType> ParseColumnType(std::string_view name,
                                   std::string_view field = "type");

// One column. Exactly one of the value stores is used, by type; null rows
// hold a placeholder (0, NaN, "") in it.
struct Column {
  std::string name;
  ColumnType type = ColumnType::kString;
  std::vector<std::int64_t> ints;         // kInt64
  std::vector<double> doubles;            // kDouble
  std::string chars;                      // kString: values concatenated
  std::vector<std::uint64_t> offsets{0};  // kString: size() + 1 offsets
  std::vector<std::uint8_t> valid;        // empty: no nulls; else 1 = set

  std::size_t size() const;
  bool is_null(std::size_t i) const { return !valid.empty() && !valid[i]; }
  std::string_view str(std::size_t i) const {
    return {chars.data() + offsets[i], offsets[i + 1] - offsets[i]};
  }
  // Numeric value as double (int64 converted); NaN for null. Numeric only.
  double number(std::size_t i) const;
  // The value as text ("" for null; doubles with up to 17 significant
  // digits, shortest round-trip form).
  std::string ToString(std::size_t i) const;

  // Appending (used by builders and tests).
  void AppendInt(std::int64_t v);
  void AppendDouble(double v);
  void AppendString(std::string_view v);
  void AppendNull();
};

struct Table {
  std::vector<Column> columns;

  std::size_t num_rows() const {
    return columns.empty() ? 0 : columns.front().size();
  }
  std::size_t num_columns() const { return columns.size(); }
  // Column by name, or nullptr.
  const Column* Find(std::string_view name) const;
  // Index of a column by name; InvalidArgument(field, "no column 'x'").
  Result<std::size_t> ColumnIndex(std::string_view name,
                                  std::string_view field = "column") const;
};

// ---- filter ----

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

// "==" (or "="), "!=", "<", "<=", ">", ">="; InvalidArgument(field).
Result<CompareOp> ParseCompareOp(std::string_view op,
                                 std::string_view field = "op");

// `column op value`. The value is text converted to the column's type: an
// int64 column compares numerically (as double if the value is not an
// integer, e.g. "2.5"); a value that is not a number for a numeric column
// is InvalidArgument naming "value". Strings compare byte-wise.
struct FilterSpec {
  std::string column;
  CompareOp op = CompareOp::kEq;
  std::string value;
};

// Rows satisfying every condition (AND), in their original order.
// Errors name "filters[i].column" / "filters[i].value".
Result<Table> Filter(const Table& table, std::span<const FilterSpec> filters,
                     const RunControl& control = {},
                     const ProgressCallback& progress = {});

// ---- group-by ----

enum class AggOp { kCount, kSum, kMean, kMin, kMax };

// "count", "sum", "mean" (or "avg"), "min", "max"; InvalidArgument(field).
Result<AggOp> ParseAggOp(std::string_view op, std::string_view field = "op");
const char* AggOpName(AggOp op);

struct Aggregate {
  AggOp op = AggOp::kCount;
  std::string column;  // may be empty for kCount (count rows)
  std::string output;  // result column name; default "<op>_<column>" or
                       // "count"
};

// One output row per distinct key tuple, sorted by the keys ascending (nulls
// first, then numbers / byte-wise strings); columns: the keys, then one per
// aggregate. Result types: count -> int64; sum of int64 -> int64 (wraps on
// overflow), sum of double -> double; mean -> double; min/max -> the input
// type (strings allowed). sum/mean of a string column -> InvalidArgument.
// No keys: a single row aggregating the whole table. Errors name
// "keys[i]" / "aggregates[i].column" / "aggregates[i].output".
// Double sums are combined per thread and may differ in the last bits from
// a sequential sum.
Result<Table> GroupBy(const Table& table, std::span<const std::string> keys,
                      std::span<const Aggregate> aggregates,
                      const RunControl& control = {},
                      const ProgressCallback& progress = {});

// ---- join ----

enum class JoinType { kInner, kLeft };

// Joins on left.left_key == right.right_key. Output rows follow the left
// table's order, and for one left row the matching right rows in their
// order; a left-join row without match has nulls in the right columns.
// Columns: all left columns, then the right columns except right_key when
// it has the same name as left_key; a right column whose name is taken gets
// the suffix "_right". Keys: int64 with int64, double with double or int64
// (compared as double), string with string; otherwise InvalidArgument
// naming "right_key". Missing key columns name "left_key" / "right_key".
Result<Table> Join(const Table& left, const Table& right,
                   std::string_view left_key, std::string_view right_key,
                   JoinType type = JoinType::kInner,
                   const RunControl& control = {},
                   const ProgressCallback& progress = {});

// Rows [begin, end) of every column (copies).
Table Slice(const Table& table, std::size_t begin, std::size_t end);

}  // namespace impulse::analytics
