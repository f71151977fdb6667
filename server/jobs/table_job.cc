#include "server/jobs/table_job.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>

#include "compute/analytics/csv.h"
#include "compute/analytics/table.h"
#include "server/jobs/analytics_progress.h"
#include "server/jobs/dataset_formats.h"

namespace impulse::jobs {
namespace {

constexpr const char* kDataset = "spec.table.dataset";
constexpr const char* kJoinDataset = "spec.table.join.dataset";

std::string Indexed(const std::string& base, int i) {
  return base + "[" + std::to_string(i) + "]";
}

std::string RightKey(const v1::TableJoin& join) {
  return join.right_key().empty() ? join.left_key() : join.right_key();
}

std::string ColumnList(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// A column of the joined table and where it comes from.
struct Source {
  bool right = false;
  std::string column;  // name in its dataset
};

// The joined table's column names (the rule of analytics::Join: right
// columns whose name is taken get "_right" until free), each with its source.
std::map<std::string, Source> OutputColumns(
    const std::vector<std::string>& left, const std::vector<std::string>* right,
    const v1::TableJoin* join, std::vector<std::string>* order) {
  std::map<std::string, Source> out;
  for (const std::string& name : left) {
    out[name] = {false, name};
    order->push_back(name);
  }
  if (right == nullptr) return out;
  const std::string right_key = RightKey(*join);
  for (const std::string& name : *right) {
    if (name == right_key && join->left_key() == right_key) continue;
    std::string output = name;
    while (out.contains(output)) output += "_right";
    out[output] = {true, name};
    order->push_back(output);
  }
  return out;
}

std::vector<std::string> Columns(const v1::Dataset& dataset) {
  return {dataset.columns().begin(), dataset.columns().end()};
}

// The first value of a string column that is not a number, as the CSV
// parser would name it ("row 5, column 'sys': not a number: 'high'").
std::string NotANumber(const analytics::Column& column) {
  for (std::size_t i = 0; i < column.size(); ++i) {
    std::string_view v = column.str(i);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
      v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
      v.remove_suffix(1);
    }
    if (v.empty()) continue;
    if (v.front() == '+') v.remove_prefix(1);
    double d;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec == std::errc() && ptr == v.data() + v.size()) continue;
    return "row " + std::to_string(i + 2) + ", column '" + column.name +
           "': not a number: '" + std::string(column.str(i).substr(0, 100)) +
           "'";
  }
  return "";
}

Result<analytics::Table> LoadTable(const DatasetContent& dataset,
                                   const v1::TableSpec& spec,
                                   const std::string& field,
                                   JobContext& context, double from,
                                   double to) {
  if (Status status = RequireFormat(dataset.info, {v1::CSV}, field);
      !status.ok()) {
    return status.error();
  }
  analytics::CsvOptions options;
  for (const std::string& name : dataset.info.columns()) {
    auto typed = spec.column_types().find(name);
    if (typed == spec.column_types().end()) continue;
    Result<analytics::ColumnType> type =
        analytics::ParseColumnType(typed->second, "spec.table.column_types");
    if (!type.ok()) return type.error();
    options.column_types.emplace_back(name, type.value());
  }
  Result<analytics::Table> table =
      analytics::ParseCsv(dataset.bytes, options, context.control(),
                          ProgressReporter(context, "bytes", from, to));
  if (!table.ok()) return DataError(table.error(), field, dataset.info.name());
  if (table.value().num_rows() == 0) {
    return Error::InvalidArgument(
        field, "dataset '" + dataset.info.name() + "' has no rows");
  }
  return table;
}

void AppendValue(const analytics::Column& column, std::size_t row,
                 v1::TableValue* out) {
  if (column.is_null(row)) return;
  switch (column.type) {
    case analytics::ColumnType::kInt64:
      out->set_int_value(column.ints[row]);
      break;
    case analytics::ColumnType::kDouble:
      out->set_double_value(column.doubles[row]);
      break;
    case analytics::ColumnType::kString:
      out->set_string_value(std::string(column.str(row)));
      break;
  }
}

// Kernel error fields as spec fields: "keys[i]" is group_by[i].
Error SpecField(Error error) {
  if (error.code == ErrorCode::kCancelled) return error;
  if (error.field.rfind("keys", 0) == 0) {
    error.field = "spec.table.group_by" + error.field.substr(4);
  } else if (error.field == "left_key" || error.field == "right_key") {
    error.field = "spec.table.join." + error.field;
  } else if (!error.field.empty()) {
    error.field = "spec.table." + error.field;
  }
  return error;
}

}  // namespace

Status TableJob::Validate(const v1::JobSpec& job_spec,
                          const Limits& limits) const {
  const v1::TableSpec& spec = job_spec.table();
  for (int i = 0; i < spec.filters_size(); ++i) {
    const std::string base = Indexed("spec.table.filters", i);
    if (spec.filters(i).column().empty()) {
      return Error::InvalidArgument(base + ".column", "must be set");
    }
    Result<analytics::CompareOp> op =
        analytics::ParseCompareOp(spec.filters(i).op(), base + ".op");
    if (!op.ok()) return op.error();
  }
  for (int i = 0; i < spec.aggregates_size(); ++i) {
    const std::string base = Indexed("spec.table.aggregates", i);
    Result<analytics::AggOp> op =
        analytics::ParseAggOp(spec.aggregates(i).op(), base + ".op");
    if (!op.ok()) return op.error();
    if (op.value() != analytics::AggOp::kCount &&
        spec.aggregates(i).column().empty()) {
      return Error::InvalidArgument(
          base + ".column",
          std::string(analytics::AggOpName(op.value())) + " needs a column");
    }
  }
  for (int i = 0; i < spec.group_by_size(); ++i) {
    if (spec.group_by(i).empty()) {
      return Error::InvalidArgument(Indexed("spec.table.group_by", i),
                                    "must be a column name");
    }
  }
  for (const auto& [name, type] : spec.column_types()) {
    Result<analytics::ColumnType> parsed = analytics::ParseColumnType(
        type, "spec.table.column_types[" + name + "]");
    if (!parsed.ok()) return parsed.error();
  }
  if (spec.has_join()) {
    if (spec.join().left_key().empty()) {
      return Error::InvalidArgument("spec.table.join.left_key", "must be set");
    }
    if (!v1::JoinType_IsValid(spec.join().type())) {
      return Error::InvalidArgument("spec.table.join.type",
                                    "use JOIN_TYPE_INNER or JOIN_TYPE_LEFT");
    }
  }
  return {};
}

std::vector<DatasetUse> TableJob::DatasetsUsed(const v1::JobSpec& spec) const {
  std::vector<DatasetUse> uses = {{kDataset, spec.table().dataset()}};
  if (spec.table().has_join()) {
    uses.push_back({kJoinDataset, spec.table().join().dataset()});
  }
  return uses;
}

Status TableJob::ValidateDatasets(const v1::JobSpec& job_spec,
                                  const Limits& limits,
                                  std::span<const v1::Dataset> datasets) const {
  const v1::TableSpec& spec = job_spec.table();
  if (Status status = RequireFormat(datasets[0], {v1::CSV}, kDataset);
      !status.ok()) {
    return status;
  }
  if (datasets[0].rows() == 0) {
    return Error::InvalidArgument(kDataset, "dataset '" + datasets[0].name() +
                                                "' has a header but no rows");
  }
  const std::vector<std::string> left = Columns(datasets[0]);
  std::vector<std::string> right;
  if (spec.has_join()) {
    if (Status status = RequireFormat(datasets[1], {v1::CSV}, kJoinDataset);
        !status.ok()) {
      return status;
    }
    right = Columns(datasets[1]);
    if (std::find(left.begin(), left.end(), spec.join().left_key()) ==
        left.end()) {
      return Error::InvalidArgument(
          "spec.table.join.left_key",
          "no column '" + spec.join().left_key() + "' in dataset '" +
              datasets[0].name() + "' (columns: " + ColumnList(left) + ")");
    }
    if (std::find(right.begin(), right.end(), RightKey(spec.join())) ==
        right.end()) {
      return Error::InvalidArgument(
          spec.join().right_key().empty() ? "spec.table.join.left_key"
                                          : "spec.table.join.right_key",
          "no column '" + RightKey(spec.join()) + "' in dataset '" +
              datasets[1].name() + "' (columns: " + ColumnList(right) + ")");
    }
  }
  std::vector<std::string> order;
  const std::map<std::string, Source> columns =
      OutputColumns(left, spec.has_join() ? &right : nullptr,
                    spec.has_join() ? &spec.join() : nullptr, &order);
  auto check = [&](const std::string& name, const std::string& field) {
    if (columns.contains(name)) return Status{};
    return Status(Error::InvalidArgument(
        field,
        "no column '" + name + "' (columns: " + ColumnList(order) + ")"));
  };
  for (int i = 0; i < spec.filters_size(); ++i) {
    if (Status s = check(spec.filters(i).column(),
                         Indexed("spec.table.filters", i) + ".column");
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < spec.group_by_size(); ++i) {
    if (Status s = check(spec.group_by(i), Indexed("spec.table.group_by", i));
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < spec.aggregates_size(); ++i) {
    if (spec.aggregates(i).column().empty()) continue;
    if (Status s = check(spec.aggregates(i).column(),
                         Indexed("spec.table.aggregates", i) + ".column");
        !s.ok()) {
      return s;
    }
  }
  return {};
}

Result<v1::JobResult> TableJob::Run(const v1::JobSpec& job_spec,
                                    v1::Device device,
                                    JobContext& context) const {
  const v1::TableSpec& spec = job_spec.table();
  const bool join = spec.has_join();
  Result<std::shared_ptr<const DatasetContent>> left_data =
      context.OpenDataset(spec.dataset());
  if (!left_data.ok()) {
    return Error{left_data.error().code, left_data.error().message, kDataset};
  }
  std::shared_ptr<const DatasetContent> right_data;
  if (join) {
    Result<std::shared_ptr<const DatasetContent>> opened =
        context.OpenDataset(spec.join().dataset());
    if (!opened.ok()) {
      return Error{opened.error().code, opened.error().message, kJoinDataset};
    }
    right_data = std::move(opened.value());
  }
  Result<analytics::Table> left = LoadTable(*left_data.value(), spec, kDataset,
                                            context, 0.0, join ? 0.25 : 0.5);
  if (!left.ok()) return left.error();
  std::optional<analytics::Table> right;
  if (join) {
    Result<analytics::Table> loaded =
        LoadTable(*right_data, spec, kJoinDataset, context, 0.25, 0.5);
    if (!loaded.ok()) return loaded.error();
    right = std::move(loaded.value());
  }

  // A summed or averaged column must hold numbers: name the first bad value.
  std::vector<std::string> left_names, right_names, order;
  for (const auto& c : left.value().columns) left_names.push_back(c.name);
  if (join) {
    for (const auto& c : right->columns) right_names.push_back(c.name);
  }
  const std::map<std::string, Source> sources =
      OutputColumns(left_names, join ? &right_names : nullptr,
                    join ? &spec.join() : nullptr, &order);
  for (int i = 0; i < spec.aggregates_size(); ++i) {
    const v1::TableAggregate& agg = spec.aggregates(i);
    Result<analytics::AggOp> op = analytics::ParseAggOp(agg.op());
    if (!op.ok() || (op.value() != analytics::AggOp::kSum &&
                     op.value() != analytics::AggOp::kMean)) {
      continue;
    }
    auto source = sources.find(agg.column());
    if (source == sources.end()) continue;
    const analytics::Table& table =
        source->second.right ? *right : left.value();
    const analytics::Column* column = table.Find(source->second.column);
    if (column == nullptr || column->type != analytics::ColumnType::kString) {
      continue;
    }
    const std::string bad = NotANumber(*column);
    if (!bad.empty()) {
      const DatasetContent& data =
          source->second.right ? *right_data : *left_data.value();
      return Error::InvalidArgument(
          source->second.right ? kJoinDataset : kDataset,
          "dataset '" + data.info.name() + "': " + bad);
    }
  }

  analytics::Table table = std::move(left.value());
  if (join) {
    Result<analytics::Table> joined = analytics::Join(
        table, *right, spec.join().left_key(), RightKey(spec.join()),
        spec.join().type() == v1::JOIN_TYPE_LEFT ? analytics::JoinType::kLeft
                                                 : analytics::JoinType::kInner,
        context.control(), ProgressReporter(context, "rows", 0.5, 0.7));
    if (!joined.ok()) return SpecField(joined.error());
    table = std::move(joined.value());
  }
  if (spec.filters_size() > 0) {
    std::vector<analytics::FilterSpec> filters;
    for (const v1::TableFilter& f : spec.filters()) {
      filters.push_back(
          {f.column(), analytics::ParseCompareOp(f.op()).value(), f.value()});
    }
    Result<analytics::Table> filtered =
        analytics::Filter(table, filters, context.control(),
                          ProgressReporter(context, "rows", 0.7, 0.85));
    if (!filtered.ok()) return SpecField(filtered.error());
    table = std::move(filtered.value());
  }
  if (spec.group_by_size() > 0 || spec.aggregates_size() > 0) {
    std::vector<std::string> keys(spec.group_by().begin(),
                                  spec.group_by().end());
    std::vector<analytics::Aggregate> aggregates;
    for (const v1::TableAggregate& a : spec.aggregates()) {
      aggregates.push_back(
          {analytics::ParseAggOp(a.op()).value(), a.column(), a.output()});
    }
    Result<analytics::Table> grouped =
        analytics::GroupBy(table, keys, aggregates, context.control(),
                           ProgressReporter(context, "rows", 0.85, 1.0));
    if (!grouped.ok()) return SpecField(grouped.error());
    table = std::move(grouped.value());
  }

  const std::size_t rows = table.num_rows();
  const std::uint64_t max_rows = context.limits().max_table_result_rows;
  if (rows > max_rows) {
    return Error::InvalidArgument(
        "spec.table",
        "the result has " + std::to_string(rows) + " rows, over the limit of " +
            std::to_string(max_rows) + "; add filters or a group_by");
  }
  v1::JobResult result;
  v1::TableResult* out = result.mutable_table();
  for (const analytics::Column& column : table.columns) {
    v1::TableColumnInfo* info = out->add_columns();
    info->set_name(column.name);
    info->set_type(analytics::ColumnTypeName(column.type));
  }
  out->set_num_rows(rows);
  out->mutable_rows()->Reserve(static_cast<int>(rows));
  for (std::size_t r = 0; r < rows; ++r) {
    v1::TableRow* row = out->add_rows();
    for (const analytics::Column& column : table.columns) {
      AppendValue(column, r, row->add_values());
    }
  }
  return result;
}

}  // namespace impulse::jobs
