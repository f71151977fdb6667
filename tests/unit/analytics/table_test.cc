#include "compute/analytics/table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "compute/analytics/csv.h"

namespace impulse::analytics {
namespace {

Table Csv(std::string_view text) {
  auto t = ParseCsv(text);
  EXPECT_TRUE(t.ok()) << t.error().ToString();
  return t.ok() ? std::move(t.value()) : Table{};
}

Column MakeColumn(std::string name, ColumnType type) {
  Column c;
  c.name = std::move(name);
  c.type = type;
  return c;
}

// Random table: k (int64 key, some nulls), color (string key), x (double,
// some nulls), y (int64), word (string).
Table RandomTable(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const char* colors[] = {"red", "green", "blue", ""};
  Table t;
  t.columns.push_back(MakeColumn("k", ColumnType::kInt64));
  t.columns.push_back(MakeColumn("color", ColumnType::kString));
  t.columns.push_back(MakeColumn("x", ColumnType::kDouble));
  t.columns.push_back(MakeColumn("y", ColumnType::kInt64));
  t.columns.push_back(MakeColumn("word", ColumnType::kString));
  for (std::size_t i = 0; i < n; ++i) {
    if (rng() % 30 == 0) {
      t.columns[0].AppendNull();
    } else {
      t.columns[0].AppendInt(static_cast<std::int64_t>(rng() % 20) - 5);
    }
    t.columns[1].AppendString(colors[rng() % 4]);
    if (rng() % 20 == 0) {
      t.columns[2].AppendNull();
    } else {
      t.columns[2].AppendDouble(static_cast<double>(rng() % 2000) / 8.0 - 100);
    }
    t.columns[3].AppendInt(static_cast<std::int64_t>(rng() % 1000) - 500);
    std::string word = "w";
    word += std::to_string(rng() % 50);
    t.columns[4].AppendString(word);
  }
  return t;
}

std::vector<std::string> RowStrings(const Table& t, std::size_t r) {
  std::vector<std::string> row;
  for (const Column& c : t.columns) {
    row.push_back(c.is_null(r) ? "<null>" : c.ToString(r));
  }
  return row;
}

// ---- filter ----

TEST(TableTest, FilterMatchesReference) {
  const Table t = RandomTable(20000, 1);
  struct Case {
    const char* column;
    CompareOp op;
    const char* value;
  };
  const Case cases[] = {
      {"k", CompareOp::kEq, "3"},       {"k", CompareOp::kNe, "3"},
      {"k", CompareOp::kLt, "2.5"},     {"k", CompareOp::kGe, "0"},
      {"x", CompareOp::kGt, "10.25"},   {"x", CompareOp::kLe, "-50"},
      {"color", CompareOp::kEq, "red"}, {"color", CompareOp::kLt, "green"},
      {"word", CompareOp::kNe, "w7"},   {"color", CompareOp::kEq, ""}};
  for (const Case& c : cases) {
    FilterSpec spec{c.column, c.op, c.value};
    auto got = Filter(t, std::span<const FilterSpec>(&spec, 1));
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    const Column& col = *t.Find(c.column);
    std::vector<std::size_t> want;
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      if (col.is_null(r)) continue;
      int cmp;
      if (col.type == ColumnType::kString) {
        const int x = col.str(r).compare(c.value);
        cmp = x < 0 ? -1 : x > 0 ? 1 : 0;
      } else {
        const double a = col.number(r);
        const double b = std::stod(c.value);
        cmp = a < b ? -1 : a > b ? 1 : 0;
      }
      bool ok = false;
      switch (c.op) {
        case CompareOp::kEq:
          ok = cmp == 0;
          break;
        case CompareOp::kNe:
          ok = cmp != 0;
          break;
        case CompareOp::kLt:
          ok = cmp < 0;
          break;
        case CompareOp::kLe:
          ok = cmp <= 0;
          break;
        case CompareOp::kGt:
          ok = cmp > 0;
          break;
        case CompareOp::kGe:
          ok = cmp >= 0;
          break;
      }
      if (ok) want.push_back(r);
    }
    ASSERT_EQ(got->num_rows(), want.size()) << c.column << " " << c.value;
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(RowStrings(got.value(), i), RowStrings(t, want[i]));
    }
  }
}

TEST(TableTest, FilterConjunctionNullsAndErrors) {
  const Table t = Csv("a,b\n1,x\n,y\n3,x\n4,z\n");
  const FilterSpec both[] = {{"a", CompareOp::kNe, "4"},
                             {"b", CompareOp::kEq, "x"}};
  auto r = Filter(t, both);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->num_rows(), 2u);  // the null row never matches, even !=
  EXPECT_EQ(r->columns[0].ints, (std::vector<std::int64_t>{1, 3}));

  const FilterSpec bad_col[] = {{"zz", CompareOp::kEq, "1"}};
  r = Filter(t, bad_col);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "filters[0].column");
  const FilterSpec bad_val[] = {{"b", CompareOp::kEq, "x"},
                                {"a", CompareOp::kEq, "one"}};
  r = Filter(t, bad_val);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "filters[1].value");
  EXPECT_EQ(ParseCompareOp(">=").value(), CompareOp::kGe);
  EXPECT_EQ(ParseCompareOp("=~").error().field, "op");
  auto none = Filter(t, std::span<const FilterSpec>());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->num_rows(), 4u);
}

// ---- group-by ----

struct KeyVal {
  bool null = false;
  double num = 0;
  std::string s;
  bool operator<(const KeyVal& o) const {
    if (null != o.null) return null;
    if (num != o.num) return num < o.num;
    return s < o.s;
  }
};

TEST(TableTest, GroupByMatchesReference) {
  for (std::size_t n : {0, 1, 1000, 300000}) {
    const Table t = RandomTable(n, n + 3);
    const std::vector<std::string> keys = {"k", "color"};
    const std::vector<Aggregate> aggs = {
        {AggOp::kCount, "", ""},   {AggOp::kCount, "x", ""},
        {AggOp::kSum, "x", ""},    {AggOp::kSum, "y", "total_y"},
        {AggOp::kMean, "x", ""},   {AggOp::kMean, "y", ""},
        {AggOp::kMin, "x", ""},    {AggOp::kMax, "y", ""},
        {AggOp::kMin, "word", ""}, {AggOp::kMax, "word", ""}};
    auto got = GroupBy(t, keys, aggs);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    // Reference: ordered map of key tuples to row lists.
    std::map<std::vector<KeyVal>, std::vector<std::size_t>> groups;
    const Column& k = *t.Find("k");
    const Column& color = *t.Find("color");
    for (std::size_t r = 0; r < n; ++r) {
      KeyVal a{k.is_null(r), k.is_null(r) ? 0 : double(k.ints[r]), ""};
      KeyVal b{false, 0, std::string(color.str(r))};
      groups[{a, b}].push_back(r);
    }
    ASSERT_EQ(got->num_rows(), groups.size());
    const std::vector<std::string> names = {
        "k",      "color",  "count", "count_x", "sum_x",    "total_y",
        "mean_x", "mean_y", "min_x", "max_y",   "min_word", "max_word"};
    for (std::size_t c = 0; c < names.size(); ++c) {
      ASSERT_EQ(got->columns[c].name, names[c]);
    }
    EXPECT_EQ(got->columns[2].type, ColumnType::kInt64);
    EXPECT_EQ(got->columns[3].type, ColumnType::kInt64);
    EXPECT_EQ(got->columns[4].type, ColumnType::kDouble);
    EXPECT_EQ(got->columns[5].type, ColumnType::kInt64);
    EXPECT_EQ(got->columns[7].type, ColumnType::kDouble);
    EXPECT_EQ(got->columns[10].type, ColumnType::kString);
    const Column& x = *t.Find("x");
    const Column& y = *t.Find("y");
    const Column& w = *t.Find("word");
    std::size_t g = 0;
    for (const auto& [key, rows] : groups) {
      const Table& o = got.value();
      EXPECT_EQ(o.columns[0].is_null(g), key[0].null);
      if (!key[0].null) {
        EXPECT_EQ(o.columns[0].ints[g], key[0].num);
      }
      EXPECT_EQ(o.columns[1].str(g), key[1].s);
      std::int64_t cnt_x = 0, sum_y = 0, max_y = 0;
      double sum_x = 0, min_x = 0;
      std::string min_w, max_w;
      bool first_x = true;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::size_t r = rows[i];
        if (!x.is_null(r)) {
          ++cnt_x;
          sum_x += x.doubles[r];
          if (first_x || x.doubles[r] < min_x) min_x = x.doubles[r];
          first_x = false;
        }
        sum_y += y.ints[r];
        if (i == 0 || y.ints[r] > max_y) max_y = y.ints[r];
        const std::string word(w.str(r));
        if (i == 0 || word < min_w) min_w = word;
        if (i == 0 || word > max_w) max_w = word;
      }
      EXPECT_EQ(o.columns[2].ints[g], static_cast<std::int64_t>(rows.size()));
      EXPECT_EQ(o.columns[3].ints[g], cnt_x);
      EXPECT_NEAR(o.columns[4].doubles[g], sum_x, 1e-9 * (1 + std::abs(sum_x)));
      EXPECT_EQ(o.columns[5].ints[g], sum_y);
      if (cnt_x == 0) {
        EXPECT_TRUE(o.columns[6].is_null(g));
        EXPECT_TRUE(o.columns[8].is_null(g));
      } else {
        EXPECT_NEAR(o.columns[6].doubles[g], sum_x / cnt_x, 1e-9);
        EXPECT_EQ(o.columns[8].doubles[g], min_x);
      }
      EXPECT_NEAR(o.columns[7].doubles[g], double(sum_y) / rows.size(), 1e-9);
      EXPECT_EQ(o.columns[9].ints[g], max_y);
      EXPECT_EQ(o.columns[10].str(g), min_w);
      EXPECT_EQ(o.columns[11].str(g), max_w);
      ++g;
    }
  }
}

TEST(TableTest, GroupByWithoutKeysAndErrors) {
  const Table t = Csv("g,v,s\na,1,x\nb,2,y\na,3,z\n");
  const Aggregate sum[] = {{AggOp::kSum, "v", ""}, {AggOp::kCount, "", "n"}};
  auto r = GroupBy(t, std::span<const std::string>(), sum);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->num_rows(), 1u);
  EXPECT_EQ(r->columns[0].ints[0], 6);
  EXPECT_EQ(r->columns[1].ints[0], 3);

  const Table empty = Slice(t, 0, 0);  // typed, no rows
  const std::vector<std::string> keys = {"g"};
  r = GroupBy(empty, keys, sum);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_rows(), 0u);
  r = GroupBy(empty, std::span<const std::string>(), sum);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_rows(), 1u);

  const std::vector<std::string> bad_keys = {"g", "nope"};
  r = GroupBy(t, bad_keys, sum);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "keys[1]");
  const Aggregate mean_s[] = {{AggOp::kMean, "s", ""}};
  r = GroupBy(t, keys, mean_s);
  EXPECT_EQ(r.error().field, "aggregates[0].column");
  const Aggregate missing[] = {{AggOp::kMax, "w", ""}};
  r = GroupBy(t, keys, missing);
  EXPECT_EQ(r.error().field, "aggregates[0].column");
  const Aggregate no_col[] = {{AggOp::kSum, "", ""}};
  r = GroupBy(t, keys, no_col);
  EXPECT_EQ(r.error().field, "aggregates[0].column");
  const Aggregate dup[] = {{AggOp::kSum, "v", "g"}};
  r = GroupBy(t, keys, dup);
  EXPECT_EQ(r.error().field, "aggregates[0].output");
  EXPECT_EQ(ParseAggOp("avg").value(), AggOp::kMean);
  EXPECT_EQ(ParseAggOp("median").error().field, "op");
}

// ---- join ----

std::vector<std::vector<std::string>> ReferenceJoin(const Table& l,
                                                    const Table& r,
                                                    const std::string& lk,
                                                    const std::string& rk,
                                                    JoinType type) {
  const Column& a = *l.Find(lk);
  const Column& b = *r.Find(rk);
  std::vector<std::vector<std::string>> out;
  for (std::size_t i = 0; i < l.num_rows(); ++i) {
    bool matched = false;
    for (std::size_t j = 0; j < r.num_rows(); ++j) {
      if (a.is_null(i) || b.is_null(j)) continue;
      const bool eq = a.type == ColumnType::kString
                          ? a.str(i) == b.str(j)
                          : a.number(i) == b.number(j);
      if (!eq) continue;
      matched = true;
      auto row = RowStrings(l, i);
      for (std::size_t c = 0; c < r.num_columns(); ++c) {
        if (r.columns[c].name == rk && lk == rk) continue;
        row.push_back(r.columns[c].is_null(j) ? "<null>"
                                              : r.columns[c].ToString(j));
      }
      out.push_back(row);
    }
    if (!matched && type == JoinType::kLeft) {
      auto row = RowStrings(l, i);
      for (std::size_t c = 0; c < r.num_columns(); ++c) {
        if (r.columns[c].name == rk && lk == rk) continue;
        row.push_back("<null>");
      }
      out.push_back(row);
    }
  }
  return out;
}

TEST(TableTest, JoinMatchesReference) {
  const Table left = RandomTable(3000, 11);
  const Table right = RandomTable(200, 12);  // duplicate keys on both sides
  for (JoinType type : {JoinType::kInner, JoinType::kLeft}) {
    for (const auto& [lk, rk] :
         std::vector<std::pair<std::string, std::string>>{
             {"k", "k"}, {"k", "y"}, {"word", "word"}, {"x", "k"}}) {
      auto got = Join(left, right, lk, rk, type);
      ASSERT_TRUE(got.ok()) << got.error().ToString();
      const auto want = ReferenceJoin(left, right, lk, rk, type);
      ASSERT_EQ(got->num_rows(), want.size()) << lk << "=" << rk;
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(RowStrings(got.value(), i), want[i]) << i;
      }
    }
  }
  auto j = Join(left, right, "k", "k");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->num_columns(), 9u);  // right "k" dropped
  EXPECT_EQ(j->columns[5].name, "color_right");
  EXPECT_EQ(j->columns[8].name, "word_right");
  j = Join(left, right, "k", "y");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->columns[5].name, "k_right");
}

TEST(TableTest, JoinErrors) {
  const Table a = Csv("id,name\n1,x\n");
  const Table b = Csv("pid,v\nq,2\n");
  auto r = Join(a, b, "nope", "pid");
  EXPECT_EQ(r.error().field, "left_key");
  r = Join(a, b, "id", "nope");
  EXPECT_EQ(r.error().field, "right_key");
  r = Join(a, b, "id", "pid");  // int64 with string
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "right_key");
}

// The book's patients / blood-pressure example: join + group-by mean.
TEST(TableTest, PatientBloodPressure) {
  const Table patients =
      Csv("patient_id,name\n"
          "1,Alice\n2,Bob\n3,Carol\n4,Dave\n");
  const Table measurements =
      Csv("patient_id,bp\n"
          "1,120\n2,130\n1,125\n3,140\n2,135\n1,110\n5,99\n");
  auto joined = Join(measurements, patients, "patient_id", "patient_id");
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->num_rows(), 6u);  // patient 5 has no record
  EXPECT_EQ(joined->columns[2].name, "name");
  const std::vector<std::string> keys = {"name"};
  const Aggregate mean[] = {{AggOp::kMean, "bp", "mean_bp"},
                            {AggOp::kCount, "", "n"}};
  auto by_name = GroupBy(joined.value(), keys, mean);
  ASSERT_TRUE(by_name.ok());
  ASSERT_EQ(by_name->num_rows(), 3u);
  EXPECT_EQ(by_name->columns[0].str(0), "Alice");
  EXPECT_DOUBLE_EQ(by_name->columns[1].doubles[0], 355.0 / 3);
  EXPECT_EQ(by_name->columns[2].ints[0], 3);
  EXPECT_EQ(by_name->columns[0].str(1), "Bob");
  EXPECT_DOUBLE_EQ(by_name->columns[1].doubles[1], 132.5);
  EXPECT_EQ(by_name->columns[0].str(2), "Carol");
  EXPECT_DOUBLE_EQ(by_name->columns[1].doubles[2], 140.0);

  // Left join from patients: Dave has no measurement -> null mean.
  auto all =
      Join(patients, measurements, "patient_id", "patient_id", JoinType::kLeft);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->num_rows(), 7u);
  by_name = GroupBy(all.value(), keys, mean);
  ASSERT_TRUE(by_name.ok());
  ASSERT_EQ(by_name->num_rows(), 4u);
  EXPECT_EQ(by_name->columns[0].str(3), "Dave");
  EXPECT_TRUE(by_name->columns[1].is_null(3));
  EXPECT_EQ(ToCsv(by_name.value()),
            "name,mean_bp,n\nAlice,118.33333333333333,3\nBob,132.5,2\n"
            "Carol,140,1\nDave,,1\n");
}

TEST(TableTest, SliceAndCancellation) {
  const Table t = RandomTable(200000, 4);
  const Table s = Slice(t, 10, 13);
  ASSERT_EQ(s.num_rows(), 3u);
  EXPECT_EQ(RowStrings(s, 2), RowStrings(t, 12));

  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  const FilterSpec f[] = {{"y", CompareOp::kGt, "0"}};
  EXPECT_EQ(Filter(t, f, control).error().code, ErrorCode::kCancelled);
  const std::vector<std::string> keys = {"k"};
  const Aggregate a[] = {{AggOp::kSum, "y", ""}};
  EXPECT_EQ(GroupBy(t, keys, a, control).error().code, ErrorCode::kCancelled);
  EXPECT_EQ(Join(t, t, "k", "k", JoinType::kInner, control).error().code,
            ErrorCode::kCancelled);
}

}  // namespace
}  // namespace impulse::analytics
