#include "compute/analytics/table.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "compute/analytics/parse_number.h"
#include "compute/analytics/string_table.h"
#include "compute/analytics/waves.h"
#include "compute/common/parallel.h"

namespace impulse::analytics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kNullRow = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kBlockRows = 1 << 16;

std::string Quote(std::string_view name) {
  std::string s;
  s.reserve(name.size() + 2);
  s.push_back('\'');
  s.append(name);
  s.push_back('\'');
  return s;
}

// Rows of `c` picked by `rows` (kNullRow -> null).
Column GatherColumn(const Column& c, const std::vector<std::uint64_t>& rows,
                    std::string name) {
  Column out;
  out.name = std::move(name);
  out.type = c.type;
  const std::size_t n = rows.size();
  bool nulls = false;
  for (std::uint64_t r : rows) {
    if (r == kNullRow || c.is_null(r)) {
      nulls = true;
      break;
    }
  }
  if (nulls) {
    out.valid.resize(n);
    parallel::ForRanges(
        0, n, kBlockRows, [&](std::size_t first, std::size_t last) {
          for (std::size_t i = first; i < last; ++i) {
            out.valid[i] = rows[i] != kNullRow && !c.is_null(rows[i]);
          }
        });
  }
  switch (c.type) {
    case ColumnType::kInt64:
      out.ints.resize(n);
      parallel::ForRanges(
          0, n, kBlockRows, [&](std::size_t first, std::size_t last) {
            for (std::size_t i = first; i < last; ++i) {
              out.ints[i] = rows[i] == kNullRow ? 0 : c.ints[rows[i]];
            }
          });
      break;
    case ColumnType::kDouble:
      out.doubles.resize(n);
      parallel::ForRanges(
          0, n, kBlockRows, [&](std::size_t first, std::size_t last) {
            for (std::size_t i = first; i < last; ++i) {
              out.doubles[i] = rows[i] == kNullRow ? kNaN : c.doubles[rows[i]];
            }
          });
      break;
    case ColumnType::kString: {
      out.offsets.resize(n + 1);
      out.offsets[0] = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t len =
            rows[i] == kNullRow ? 0
                                : c.offsets[rows[i] + 1] - c.offsets[rows[i]];
        out.offsets[i + 1] = out.offsets[i] + len;
      }
      out.chars.resize(out.offsets[n]);
      parallel::ForRanges(0, n, kBlockRows,
                          [&](std::size_t first, std::size_t last) {
                            for (std::size_t i = first; i < last; ++i) {
                              if (rows[i] == kNullRow) continue;
                              const std::string_view v = c.str(rows[i]);
                              std::memcpy(out.chars.data() + out.offsets[i],
                                          v.data(), v.size());
                            }
                          });
      break;
    }
  }
  return out;
}

// Canonical bits of a double key (+0 for -0, one NaN).
std::uint64_t DoubleKey(double d) {
  if (d == 0.0) d = 0.0;
  if (std::isnan(d)) d = kNaN;
  return std::bit_cast<std::uint64_t>(d);
}

void AppendBytes(std::string& key, const void* p, std::size_t n) {
  key.append(static_cast<const char*>(p), n);
}

// Appends the encoding of row r of column c (as_double: int64 as double).
void EncodeKey(const Column& c, std::size_t r, bool as_double,
               std::string& key) {
  if (c.is_null(r)) {
    key.push_back('\0');
    return;
  }
  key.push_back('\1');
  switch (c.type) {
    case ColumnType::kInt64: {
      if (as_double) {
        const std::uint64_t b = DoubleKey(static_cast<double>(c.ints[r]));
        AppendBytes(key, &b, 8);
      } else {
        AppendBytes(key, &c.ints[r], 8);
      }
      break;
    }
    case ColumnType::kDouble: {
      const std::uint64_t b = DoubleKey(c.doubles[r]);
      AppendBytes(key, &b, 8);
      break;
    }
    case ColumnType::kString: {
      const std::string_view v = c.str(r);
      const auto len = static_cast<std::uint32_t>(v.size());
      AppendBytes(key, &len, 4);
      key.append(v);
      break;
    }
  }
}

// Total order for sorting: null first, numbers ascending with NaN last,
// strings byte-wise.
int CompareValues(const Column& c, std::size_t a, std::size_t b) {
  const bool na = c.is_null(a);
  const bool nb = c.is_null(b);
  if (na || nb) return na == nb ? 0 : (na ? -1 : 1);
  switch (c.type) {
    case ColumnType::kInt64:
      return c.ints[a] < c.ints[b] ? -1 : c.ints[a] > c.ints[b] ? 1 : 0;
    case ColumnType::kDouble: {
      const double x = c.doubles[a];
      const double y = c.doubles[b];
      const bool xn = std::isnan(x);
      const bool yn = std::isnan(y);
      if (xn || yn) return xn == yn ? 0 : (xn ? 1 : -1);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case ColumnType::kString: {
      const int r = c.str(a).compare(c.str(b));
      return r < 0 ? -1 : r > 0 ? 1 : 0;
    }
  }
  return 0;
}

Table Gather(const Table& t, const std::vector<std::uint64_t>& rows) {
  Table out;
  out.columns.resize(t.columns.size());
  parallel::ForEach(std::size_t{0}, t.columns.size(), [&](std::size_t c) {
    out.columns[c] = GatherColumn(t.columns[c], rows, t.columns[c].name);
  });
  return out;
}

}  // namespace

// ---- Column / Table ----

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kDouble:
      return "double";
    case ColumnType::kString:
      return "string";
  }
  return "string";
}

Result<ColumnType> ParseColumnType(std::string_view name,
                                   std::string_view field) {
  if (name == "int64" || name == "int") return ColumnType::kInt64;
  if (name == "double" || name == "float") return ColumnType::kDouble;
  if (name == "string" || name == "str") return ColumnType::kString;
  return Error::InvalidArgument(
      std::string(field),
      "unknown type " + Quote(name) + " (int64, double or string)");
}

std::size_t Column::size() const {
  switch (type) {
    case ColumnType::kInt64:
      return ints.size();
    case ColumnType::kDouble:
      return doubles.size();
    case ColumnType::kString:
      return offsets.empty() ? 0 : offsets.size() - 1;
  }
  return 0;
}

double Column::number(std::size_t i) const {
  if (is_null(i)) return kNaN;
  return type == ColumnType::kInt64 ? static_cast<double>(ints[i]) : doubles[i];
}

std::string Column::ToString(std::size_t i) const {
  if (is_null(i)) return "";
  switch (type) {
    case ColumnType::kInt64:
      return std::to_string(ints[i]);
    case ColumnType::kDouble: {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof(buf), doubles[i]);
      return std::string(buf, r.ptr);
    }
    case ColumnType::kString:
      return std::string(str(i));
  }
  return "";
}

void Column::AppendInt(std::int64_t v) {
  ints.push_back(v);
  if (!valid.empty()) valid.push_back(1);
}

void Column::AppendDouble(double v) {
  doubles.push_back(v);
  if (!valid.empty()) valid.push_back(1);
}

void Column::AppendString(std::string_view v) {
  if (offsets.empty()) offsets.push_back(0);
  chars.append(v);
  offsets.push_back(chars.size());
  if (!valid.empty()) valid.push_back(1);
}

void Column::AppendNull() {
  const std::size_t n = size();
  if (valid.empty()) valid.assign(n, 1);
  switch (type) {
    case ColumnType::kInt64:
      ints.push_back(0);
      break;
    case ColumnType::kDouble:
      doubles.push_back(kNaN);
      break;
    case ColumnType::kString:
      if (offsets.empty()) offsets.push_back(0);
      offsets.push_back(chars.size());
      break;
  }
  valid.push_back(0);
}

const Column* Table::Find(std::string_view name) const {
  for (const Column& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<std::size_t> Table::ColumnIndex(std::string_view name,
                                       std::string_view field) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return i;
  }
  return Error::InvalidArgument(std::string(field), "no column " + Quote(name));
}

Table Slice(const Table& table, std::size_t begin, std::size_t end) {
  end = std::min(end, table.num_rows());
  begin = std::min(begin, end);
  std::vector<std::uint64_t> rows(end - begin);
  for (std::size_t i = begin; i < end; ++i) rows[i - begin] = i;
  return Gather(table, rows);
}

// ---- filter ----

Result<CompareOp> ParseCompareOp(std::string_view op, std::string_view field) {
  if (op == "==" || op == "=") return CompareOp::kEq;
  if (op == "!=") return CompareOp::kNe;
  if (op == "<") return CompareOp::kLt;
  if (op == "<=") return CompareOp::kLe;
  if (op == ">") return CompareOp::kGt;
  if (op == ">=") return CompareOp::kGe;
  return Error::InvalidArgument(
      std::string(field),
      "unknown operator " + Quote(op) + " (==, !=, <, <=, >, >=)");
}

namespace {

struct Condition {
  const Column* column;
  CompareOp op;
  bool as_int = false;  // int64 column compared with an int64 value
  std::int64_t ivalue = 0;
  double dvalue = 0;
  std::string svalue;
};

template <typename T>
bool Compare(const T& a, const T& b, CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return a == b;
    case CompareOp::kNe:
      return a != b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
  }
  return false;
}

bool Matches(const Condition& c, std::size_t r) {
  const Column& col = *c.column;
  if (col.is_null(r)) return false;
  switch (col.type) {
    case ColumnType::kInt64:
      return c.as_int
                 ? Compare(col.ints[r], c.ivalue, c.op)
                 : Compare(static_cast<double>(col.ints[r]), c.dvalue, c.op);
    case ColumnType::kDouble:
      return Compare(col.doubles[r], c.dvalue, c.op);
    case ColumnType::kString:
      return Compare(col.str(r), std::string_view(c.svalue), c.op);
  }
  return false;
}

}  // namespace

Result<Table> Filter(const Table& table, std::span<const FilterSpec> filters,
                     const RunControl& control,
                     const ProgressCallback& progress) {
  std::vector<Condition> conds;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    const FilterSpec& f = filters[i];
    const std::string prefix = "filters[" + std::to_string(i) + "]";
    auto idx = table.ColumnIndex(f.column, prefix + ".column");
    if (!idx.ok()) return idx.error();
    Condition c;
    c.column = &table.columns[idx.value()];
    c.op = f.op;
    if (c.column->type == ColumnType::kString) {
      c.svalue = f.value;
    } else if (c.column->type == ColumnType::kInt64 &&
               internal::ParseInt64(f.value, &c.ivalue)) {
      c.as_int = true;
    } else if (!internal::ParseDouble(f.value, &c.dvalue)) {
      return Error::InvalidArgument(
          prefix + ".value", "not a number: " + Quote(f.value) + " (column " +
                                 Quote(f.column) + " is " +
                                 ColumnTypeName(c.column->type) + ")");
    }
    conds.push_back(std::move(c));
  }
  const std::size_t n = table.num_rows();
  const std::size_t blocks = (n + kBlockRows - 1) / kBlockRows;
  std::vector<std::vector<std::uint64_t>> selected(blocks);
  ProgressCallback block_progress;
  if (progress) {
    block_progress = [&](std::uint64_t done, std::uint64_t) {
      progress(std::min<std::uint64_t>(done * kBlockRows, n), n);
    };
  }
  if (!internal::RunInWaves(
          blocks, 2 * internal::Concurrency(), 1, control, block_progress,
          [&](std::size_t b, std::size_t e) {
            for (std::size_t blk = b; blk < e; ++blk) {
              const std::size_t r1 = std::min(n, (blk + 1) * kBlockRows);
              for (std::size_t r = blk * kBlockRows; r < r1; ++r) {
                bool ok = true;
                for (const Condition& c : conds) {
                  if (!Matches(c, r)) {
                    ok = false;
                    break;
                  }
                }
                if (ok) selected[blk].push_back(r);
              }
            }
          })) {
    return CancelledError();
  }
  std::vector<std::uint64_t> rows;
  for (const auto& s : selected) rows.insert(rows.end(), s.begin(), s.end());
  return Gather(table, rows);
}

// ---- group-by ----

Result<AggOp> ParseAggOp(std::string_view op, std::string_view field) {
  if (op == "count") return AggOp::kCount;
  if (op == "sum") return AggOp::kSum;
  if (op == "mean" || op == "avg") return AggOp::kMean;
  if (op == "min") return AggOp::kMin;
  if (op == "max") return AggOp::kMax;
  return Error::InvalidArgument(
      std::string(field),
      "unknown aggregate " + Quote(op) + " (count, sum, mean, min, max)");
}

const char* AggOpName(AggOp op) {
  switch (op) {
    case AggOp::kCount:
      return "count";
    case AggOp::kSum:
      return "sum";
    case AggOp::kMean:
      return "mean";
    case AggOp::kMin:
      return "min";
    case AggOp::kMax:
      return "max";
  }
  return "count";
}

namespace {

struct AggPlan {
  AggOp op;
  const Column* column;  // nullptr: count rows
  std::string output;
};

// Running state of one aggregate in one group.
struct AggState {
  std::uint64_t count = 0;
  std::int64_t isum = 0;
  double dsum = 0;
  std::int64_t ibest = 0;      // int64 min/max
  double dbest = 0;            // double min/max
  std::uint64_t best_row = 0;  // string min/max
};

struct GroupTable {
  internal::StringTable keys{256};
  std::vector<std::uint64_t> first_row;  // smallest row of each group
  std::vector<AggState> states;          // group * num_aggs + agg
  std::string scratch;
};

bool IsMin(AggOp op) { return op == AggOp::kMin; }

// Folds value of row r into s (non-null rows only).
void Update(const AggPlan& a, AggState& s, std::size_t r) {
  if (a.column == nullptr) {
    ++s.count;
    return;
  }
  const Column& c = *a.column;
  if (c.is_null(r)) return;
  switch (a.op) {
    case AggOp::kCount:
      break;
    case AggOp::kSum:
    case AggOp::kMean:
      if (c.type == ColumnType::kInt64) {
        s.isum =
            static_cast<std::int64_t>(static_cast<std::uint64_t>(s.isum) +
                                      static_cast<std::uint64_t>(c.ints[r]));
      } else {
        s.dsum += c.doubles[r];
      }
      break;
    case AggOp::kMin:
    case AggOp::kMax: {
      const bool first = s.count == 0;
      const bool mn = IsMin(a.op);
      switch (c.type) {
        case ColumnType::kInt64:
          if (first || (mn ? c.ints[r] < s.ibest : c.ints[r] > s.ibest)) {
            s.ibest = c.ints[r];
          }
          break;
        case ColumnType::kDouble:
          if (first || (mn ? c.doubles[r] < s.dbest : c.doubles[r] > s.dbest) ||
              std::isnan(s.dbest)) {
            if (!std::isnan(c.doubles[r]) || first) s.dbest = c.doubles[r];
          }
          break;
        case ColumnType::kString: {
          const int cmp = first ? 0 : c.str(r).compare(c.str(s.best_row));
          if (first || (mn ? cmp < 0 : cmp > 0) ||
              (cmp == 0 && r < s.best_row)) {
            s.best_row = r;
          }
          break;
        }
      }
      break;
    }
  }
  ++s.count;
}

// Folds partial state `o` into `s`.
void Merge(const AggPlan& a, AggState& s, const AggState& o) {
  if (o.count == 0) return;
  if (a.column == nullptr || a.op == AggOp::kCount) {
    s.count += o.count;
    return;
  }
  const Column& c = *a.column;
  switch (a.op) {
    case AggOp::kCount:
      break;
    case AggOp::kSum:
    case AggOp::kMean:
      s.isum = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.isum) +
                                         static_cast<std::uint64_t>(o.isum));
      s.dsum += o.dsum;
      break;
    case AggOp::kMin:
    case AggOp::kMax: {
      const bool mn = IsMin(a.op);
      if (s.count == 0) {
        s.ibest = o.ibest;
        s.dbest = o.dbest;
        s.best_row = o.best_row;
        break;
      }
      switch (c.type) {
        case ColumnType::kInt64:
          if (mn ? o.ibest < s.ibest : o.ibest > s.ibest) s.ibest = o.ibest;
          break;
        case ColumnType::kDouble:
          if (std::isnan(s.dbest) ||
              (mn ? o.dbest < s.dbest : o.dbest > s.dbest)) {
            if (!std::isnan(o.dbest)) s.dbest = o.dbest;
          }
          break;
        case ColumnType::kString: {
          const int cmp = c.str(o.best_row).compare(c.str(s.best_row));
          if ((mn ? cmp < 0 : cmp > 0) ||
              (cmp == 0 && o.best_row < s.best_row)) {
            s.best_row = o.best_row;
          }
          break;
        }
      }
      break;
    }
  }
  s.count += o.count;
}

}  // namespace

Result<Table> GroupBy(const Table& table, std::span<const std::string> keys,
                      std::span<const Aggregate> aggregates,
                      const RunControl& control,
                      const ProgressCallback& progress) {
  std::vector<const Column*> key_cols;
  std::vector<std::string> out_names;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto idx = table.ColumnIndex(keys[i], "keys[" + std::to_string(i) + "]");
    if (!idx.ok()) return idx.error();
    key_cols.push_back(&table.columns[idx.value()]);
    out_names.push_back(keys[i]);
  }
  std::vector<AggPlan> plans;
  for (std::size_t i = 0; i < aggregates.size(); ++i) {
    const Aggregate& a = aggregates[i];
    const std::string prefix = "aggregates[" + std::to_string(i) + "]";
    AggPlan p{a.op, nullptr, a.output};
    if (!a.column.empty()) {
      auto idx = table.ColumnIndex(a.column, prefix + ".column");
      if (!idx.ok()) return idx.error();
      p.column = &table.columns[idx.value()];
    } else if (a.op != AggOp::kCount) {
      return Error::InvalidArgument(
          prefix + ".column", std::string(AggOpName(a.op)) + " needs a column");
    }
    if ((a.op == AggOp::kSum || a.op == AggOp::kMean) &&
        p.column->type == ColumnType::kString) {
      return Error::InvalidArgument(prefix + ".column",
                                    std::string("cannot ") + AggOpName(a.op) +
                                        " string column " + Quote(a.column));
    }
    if (p.output.empty()) {
      p.output = a.column.empty()
                     ? std::string("count")
                     : std::string(AggOpName(a.op)) + "_" + a.column;
    }
    if (std::find(out_names.begin(), out_names.end(), p.output) !=
        out_names.end()) {
      return Error::InvalidArgument(
          prefix + ".output", "duplicate output column " + Quote(p.output));
    }
    out_names.push_back(p.output);
    plans.push_back(std::move(p));
  }
  const std::size_t naggs = plans.size();
  const std::size_t n = table.num_rows();

  // Map: per-thread hash tables of encoded key tuples with partial states.
  tbb::enumerable_thread_specific<GroupTable> locals;
  auto add_rows = [&](std::size_t b, std::size_t e) {
    GroupTable& g = locals.local();
    for (std::size_t r = b; r < e; ++r) {
      g.scratch.clear();
      for (const Column* c : key_cols) EncodeKey(*c, r, false, g.scratch);
      const auto [id, inserted] = g.keys.Insert(g.scratch);
      if (inserted) {
        g.first_row.push_back(r);
        g.states.resize(g.states.size() + naggs);
      } else if (r < g.first_row[id]) {
        g.first_row[id] = r;
      }
      AggState* s = g.states.data() + std::size_t{id} * naggs;
      for (std::size_t a = 0; a < naggs; ++a) Update(plans[a], s[a], r);
    }
  };
  if (!internal::RunInWaves(n, kBlockRows, 8192, control, progress, add_rows)) {
    return CancelledError();
  }

  // Reduce: merge the partial tables.
  GroupTable merged;
  for (GroupTable& g : locals) {
    for (std::uint32_t id = 0; id < g.keys.size(); ++id) {
      const auto [gid, inserted] =
          merged.keys.Insert(g.keys.key(id), g.keys.hash(id));
      if (inserted) {
        merged.first_row.push_back(g.first_row[id]);
        merged.states.insert(merged.states.end(),
                             g.states.begin() + std::size_t{id} * naggs,
                             g.states.begin() + std::size_t{id + 1} * naggs);
        continue;
      }
      merged.first_row[gid] = std::min(merged.first_row[gid], g.first_row[id]);
      for (std::size_t a = 0; a < naggs; ++a) {
        Merge(plans[a], merged.states[std::size_t{gid} * naggs + a],
              g.states[std::size_t{id} * naggs + a]);
      }
    }
  }
  std::size_t groups = merged.first_row.size();
  if (keys.empty() && groups == 0) {  // empty table, no keys: one row
    merged.first_row.push_back(0);
    merged.states.resize(naggs);
    groups = 1;
  }

  // Sort groups by key values.
  std::vector<std::uint32_t> order(groups);
  for (std::uint32_t i = 0; i < groups; ++i) order[i] = i;
  auto before = [&](std::uint32_t x, std::uint32_t y) {
    for (const Column* c : key_cols) {
      const int cmp =
          CompareValues(*c, merged.first_row[x], merged.first_row[y]);
      if (cmp != 0) return cmp < 0;
    }
    return false;
  };
  if (groups > 100000) {
    parallel::Sort(order.begin(), order.end(), before);
  } else {
    std::sort(order.begin(), order.end(), before);
  }

  Table out;
  std::vector<std::uint64_t> rep(groups);
  for (std::size_t i = 0; i < groups; ++i) {
    rep[i] = merged.first_row[order[i]];
  }
  for (std::size_t k = 0; k < key_cols.size(); ++k) {
    out.columns.push_back(GatherColumn(*key_cols[k], rep, keys[k]));
  }
  for (std::size_t a = 0; a < naggs; ++a) {
    const AggPlan& p = plans[a];
    Column col;
    col.name = p.output;
    auto state = [&](std::size_t i) -> const AggState& {
      return merged.states[std::size_t{order[i]} * naggs + a];
    };
    if (p.op == AggOp::kCount) {
      col.type = ColumnType::kInt64;
      for (std::size_t i = 0; i < groups; ++i) {
        col.ints.push_back(static_cast<std::int64_t>(state(i).count));
      }
    } else if (p.op == AggOp::kSum) {
      col.type = p.column->type;
      for (std::size_t i = 0; i < groups; ++i) {
        if (col.type == ColumnType::kInt64) {
          col.ints.push_back(state(i).isum);
        } else {
          col.doubles.push_back(state(i).dsum);
        }
      }
    } else if (p.op == AggOp::kMean) {
      col.type = ColumnType::kDouble;
      for (std::size_t i = 0; i < groups; ++i) {
        const AggState& s = state(i);
        if (s.count == 0) {
          col.AppendNull();
        } else {
          const double sum = p.column->type == ColumnType::kInt64
                                 ? static_cast<double>(s.isum)
                                 : s.dsum;
          col.AppendDouble(sum / static_cast<double>(s.count));
        }
      }
    } else {  // min / max
      col.type = p.column->type;
      for (std::size_t i = 0; i < groups; ++i) {
        const AggState& s = state(i);
        if (s.count == 0) {
          col.AppendNull();
        } else if (col.type == ColumnType::kInt64) {
          col.AppendInt(s.ibest);
        } else if (col.type == ColumnType::kDouble) {
          col.AppendDouble(s.dbest);
        } else {
          col.AppendString(p.column->str(s.best_row));
        }
      }
    }
    out.columns.push_back(std::move(col));
  }
  return out;
}

// ---- join ----

Result<Table> Join(const Table& left, const Table& right,
                   std::string_view left_key, std::string_view right_key,
                   JoinType type, const RunControl& control,
                   const ProgressCallback& progress) {
  auto li = left.ColumnIndex(left_key, "left_key");
  if (!li.ok()) return li.error();
  auto ri = right.ColumnIndex(right_key, "right_key");
  if (!ri.ok()) return ri.error();
  const Column& lk = left.columns[li.value()];
  const Column& rk = right.columns[ri.value()];
  const bool lstr = lk.type == ColumnType::kString;
  const bool rstr = rk.type == ColumnType::kString;
  if (lstr != rstr) {
    return Error::InvalidArgument(
        "right_key", "cannot join " + std::string(ColumnTypeName(lk.type)) +
                         " column " + Quote(left_key) + " with " +
                         ColumnTypeName(rk.type) + " column " +
                         Quote(right_key));
  }
  const bool as_double = !lstr && lk.type != rk.type;

  // Build: right key -> right rows (in order).
  internal::StringTable index(std::max<std::size_t>(16, right.num_rows()));
  std::vector<std::uint32_t> right_group(
      right.num_rows(), std::numeric_limits<std::uint32_t>::max());
  {
    std::string key;
    for (std::size_t r = 0; r < right.num_rows(); ++r) {
      if (rk.is_null(r)) continue;
      key.clear();
      EncodeKey(rk, r, as_double, key);
      right_group[r] = index.Insert(key).first;
    }
  }
  std::vector<std::uint64_t> begin(index.size() + 1, 0);
  for (std::uint32_t g : right_group) {
    if (g != std::numeric_limits<std::uint32_t>::max()) ++begin[g + 1];
  }
  for (std::size_t i = 0; i < index.size(); ++i) begin[i + 1] += begin[i];
  std::vector<std::uint64_t> members(begin.back());
  {
    std::vector<std::uint64_t> cursor(begin.begin(), begin.end() - 1);
    for (std::size_t r = 0; r < right.num_rows(); ++r) {
      if (right_group[r] != std::numeric_limits<std::uint32_t>::max()) {
        members[cursor[right_group[r]]++] = r;
      }
    }
  }

  // Probe: left rows in blocks, pairs in left order.
  const std::size_t n = left.num_rows();
  const std::size_t blocks = (n + kBlockRows - 1) / kBlockRows;
  std::vector<std::vector<std::uint64_t>> lrows(blocks);
  std::vector<std::vector<std::uint64_t>> rrows(blocks);
  ProgressCallback block_progress;
  if (progress) {
    block_progress = [&](std::uint64_t done, std::uint64_t) {
      progress(std::min<std::uint64_t>(done * kBlockRows, n), n);
    };
  }
  if (!internal::RunInWaves(
          blocks, 2 * internal::Concurrency(), 1, control, block_progress,
          [&](std::size_t b, std::size_t e) {
            std::string key;
            for (std::size_t blk = b; blk < e; ++blk) {
              const std::size_t r1 = std::min(n, (blk + 1) * kBlockRows);
              for (std::size_t r = blk * kBlockRows; r < r1; ++r) {
                std::int64_t g = -1;
                if (!lk.is_null(r)) {
                  key.clear();
                  EncodeKey(lk, r, as_double, key);
                  g = index.Find(key);
                }
                if (g < 0) {
                  if (type == JoinType::kLeft) {
                    lrows[blk].push_back(r);
                    rrows[blk].push_back(kNullRow);
                  }
                  continue;
                }
                for (std::uint64_t m = begin[g]; m < begin[g + 1]; ++m) {
                  lrows[blk].push_back(r);
                  rrows[blk].push_back(members[m]);
                }
              }
            }
          })) {
    return CancelledError();
  }
  std::vector<std::uint64_t> lsel;
  std::vector<std::uint64_t> rsel;
  for (std::size_t blk = 0; blk < blocks; ++blk) {
    lsel.insert(lsel.end(), lrows[blk].begin(), lrows[blk].end());
    rsel.insert(rsel.end(), rrows[blk].begin(), rrows[blk].end());
  }

  // Output columns and names.
  std::vector<std::pair<const Column*, std::string>> right_cols;
  std::vector<std::string> names;
  for (const Column& c : left.columns) names.push_back(c.name);
  for (std::size_t i = 0; i < right.columns.size(); ++i) {
    if (i == ri.value() && left_key == right_key) continue;
    std::string name = right.columns[i].name;
    while (std::find(names.begin(), names.end(), name) != names.end()) {
      name += "_right";
    }
    names.push_back(name);
    right_cols.emplace_back(&right.columns[i], name);
  }
  Table out;
  out.columns.resize(left.columns.size() + right_cols.size());
  parallel::ForEach(std::size_t{0}, out.columns.size(), [&](std::size_t i) {
    if (i < left.columns.size()) {
      out.columns[i] =
          GatherColumn(left.columns[i], lsel, left.columns[i].name);
    } else {
      const auto& [col, name] = right_cols[i - left.columns.size()];
      out.columns[i] = GatherColumn(*col, rsel, name);
    }
  });
  return out;
}

}  // namespace impulse::analytics
