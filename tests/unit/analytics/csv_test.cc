#include "compute/analytics/csv.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace impulse::analytics {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// Reference RFC 4180 reader (lenient stray quotes, blank lines skipped).
Rows Reference(std::string_view t) {
  Rows rows;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, in_quotes = false, any = false;
  auto end_field = [&] {
    rec.push_back(field);
    field.clear();
    quoted = false;
  };
  auto end_record = [&] {
    end_field();
    rows.push_back(rec);
    rec.clear();
    any = false;
  };
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < t.size() && t[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty() && !quoted) {
      in_quotes = quoted = any = true;
    } else if (c == ',') {
      end_field();
      any = true;
    } else if (c == '\n') {
      if (!quoted && !field.empty() && field.back() == '\r') field.pop_back();
      if (any || !field.empty()) end_record();
    } else if (c == '\r' && quoted) {
      // CR after a closing quote (CRLF)
    } else {
      field += c;
      any = true;
    }
  }
  if (any || !field.empty()) {
    if (!quoted && !field.empty() && field.back() == '\r') field.pop_back();
    end_record();
  }
  return rows;
}

Rows AsStrings(const Table& t) {
  Rows rows;
  std::vector<std::string> header;
  for (const Column& c : t.columns) header.push_back(c.name);
  rows.push_back(header);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    std::vector<std::string> row;
    for (const Column& c : t.columns) row.push_back(c.ToString(r));
    rows.push_back(row);
  }
  return rows;
}

CsvOptions AllStrings(const Rows& ref) {
  CsvOptions o;
  for (const std::string& name : ref[0]) {
    o.column_types.push_back({name, ColumnType::kString});
  }
  return o;
}

void ExpectSameTable(const Table& a, const Table& b) {
  ASSERT_EQ(a.num_columns(), b.num_columns());
  ASSERT_EQ(a.num_rows(), b.num_rows());
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const Column& x = a.columns[c];
    const Column& y = b.columns[c];
    ASSERT_EQ(x.name, y.name);
    ASSERT_EQ(x.type, y.type) << x.name;
    ASSERT_EQ(x.ints, y.ints);
    ASSERT_EQ(x.chars, y.chars);
    ASSERT_EQ(x.offsets, y.offsets);
    ASSERT_EQ(x.valid, y.valid);
    ASSERT_EQ(x.doubles.size(), y.doubles.size());
    for (std::size_t i = 0; i < x.doubles.size(); ++i) {
      if (std::isnan(x.doubles[i])) {
        ASSERT_TRUE(std::isnan(y.doubles[i]));
      } else {
        ASSERT_EQ(x.doubles[i], y.doubles[i]);
      }
    }
  }
}

Error ParseError(std::string_view text, const CsvOptions& o = {}) {
  auto r = ParseCsv(text, o);
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error();
}

TEST(CsvTest, TypedColumnsAreInferred) {
  auto t = ParseCsv("id,bp,name,code\n1,120.5,Alice,007\n2,80,Bob,12\n");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->num_columns(), 4u);
  ASSERT_EQ(t->num_rows(), 2u);
  EXPECT_EQ(t->columns[0].type, ColumnType::kInt64);
  EXPECT_EQ(t->columns[0].ints, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(t->columns[1].type, ColumnType::kDouble);
  EXPECT_EQ(t->columns[1].doubles, (std::vector<double>{120.5, 80}));
  EXPECT_EQ(t->columns[2].type, ColumnType::kString);
  EXPECT_EQ(t->columns[2].str(1), "Bob");
  EXPECT_EQ(t->columns[3].type, ColumnType::kInt64);
  EXPECT_EQ(t->columns[3].ints[0], 7);
}

// "-0" read while a column still looked integer must stay -0.0 when a
// later double makes the column double, in any chunking (found by fuzzing).
TEST(CsvTest, NegativeZeroKeepsItsSignWhenTheColumnTurnsDouble) {
  for (const char* text : {"x\n-0\n1.5\n", "x\n1.5\n-0\n", "x\n -0 \n1.5\n",
                           "x\n\"-0\"\n1.5\n", "x\n-000\n1.5\n"}) {
    for (std::size_t chunk : {std::size_t{1} << 20, std::size_t{3}}) {
      CsvOptions options;
      options.parallel_chunk_bytes = chunk;
      auto t = ParseCsv(text, options);
      ASSERT_TRUE(t.ok()) << t.error().ToString();
      ASSERT_EQ(t->columns[0].type, ColumnType::kDouble) << text;
      const std::size_t row = text[2] == '1' ? 1 : 0;
      EXPECT_TRUE(std::signbit(t->columns[0].doubles[row]))
          << text << " chunk " << chunk;
      EXPECT_FALSE(std::signbit(t->columns[0].doubles[1 - row]));
    }
  }
  // An integer column keeps plain 0.
  auto t = ParseCsv("x\n-0\n2\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->columns[0].type, ColumnType::kInt64);
  EXPECT_EQ(t->columns[0].ints[0], 0);
}

TEST(CsvTest, QuotedFieldsCommasNewlinesEscapesAndCrlf) {
  const std::string text =
      "\"id\",\"the text\"\r\n"
      "1,\"hello, world\"\r\n"
      "2,\"line1\nline2\"\r\n"
      "3,\"say \"\"hi\"\"\"\r\n"
      "4,\"\"\r\n"
      "5,plain\r\n";
  auto t = ParseCsv(text);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->num_rows(), 5u);
  const Column* c = t->Find("the text");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->str(0), "hello, world");
  EXPECT_EQ(c->str(1), "line1\nline2");
  EXPECT_EQ(c->str(2), "say \"hi\"");
  EXPECT_EQ(c->str(3), "");
  EXPECT_EQ(c->str(4), "plain");
  EXPECT_EQ(AsStrings(t.value()), Reference(text));
}

TEST(CsvTest, EmptyFieldsNullsAndBlankLines) {
  auto t = ParseCsv("a,b,c,d\n\n1,,x,\n,2.5,,\n\r\n3, 4 ,y,\n");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->num_rows(), 3u);
  const Column& a = t->columns[0];
  EXPECT_EQ(a.type, ColumnType::kInt64);
  EXPECT_TRUE(a.is_null(1));
  EXPECT_FALSE(a.is_null(2));
  EXPECT_EQ(a.ints[2], 3);
  const Column& b = t->columns[1];
  EXPECT_EQ(b.type, ColumnType::kDouble);
  EXPECT_TRUE(b.is_null(0));
  EXPECT_EQ(b.doubles[2], 4.0);  // spaces around numbers are ignored
  const Column& c = t->columns[2];
  EXPECT_EQ(c.type, ColumnType::kString);
  EXPECT_FALSE(c.is_null(1));  // empty string, not null
  EXPECT_EQ(c.str(1), "");
  EXPECT_EQ(t->columns[3].type, ColumnType::kString);  // never a value
}

TEST(CsvTest, HeaderOnlyAndNoHeader) {
  auto t = ParseCsv("a,b\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->num_columns(), 2u);
  EXPECT_EQ(t->num_rows(), 0u);
  t = ParseCsv("1;2\n3;4", CsvOptions{.delimiter = ';', .has_header = false});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->columns[0].name, "c0");
  EXPECT_EQ(t->columns[1].ints, (std::vector<std::int64_t>{2, 4}));
  t = ParseCsv("x\ty\n\"a\tb\"\tc\n", CsvOptions{.delimiter = '\t'});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->columns[0].str(0), "a\tb");
}

TEST(CsvTest, Errors) {
  Error e = ParseError("");
  EXPECT_EQ(e.field, "csv");
  EXPECT_NE(e.message.find("empty input"), std::string::npos);
  ParseError("\n\r\n\n");

  e = ParseError("a,b\n1,2\n3,4,5\n");
  EXPECT_EQ(e.message, "row 3: expected 2 fields, found 3");
  e = ParseError("a,b\n1,2\n\n3\n");
  EXPECT_EQ(e.message, "row 3 (line 4): expected 2 fields, found 1");
  e = ParseError("a,b\n1,\"abc\n2,3\n");
  EXPECT_EQ(e.message, "row 2, column 'b': unterminated quoted field");
  e = ParseError("a,b\n1,\"abc\"x,3\n");
  EXPECT_EQ(e.message,
            "row 2, column 'b': unexpected character after closing quote");
  e = ParseError("a,a\n1,2\n");
  EXPECT_NE(e.message.find("duplicate column name 'a'"), std::string::npos);
  e = ParseError("a,b\n1,2\n",
                 CsvOptions{.column_types = {{"c", ColumnType::kInt64}}});
  EXPECT_EQ(e.field, "column_types");
  EXPECT_NE(e.message.find("'c'"), std::string::npos);
  e = ParseError("a,b\n\"x\ny\",1\n2,3,4\n");
  EXPECT_EQ(e.message, "row 3 (line 4): expected 2 fields, found 3");
}

TEST(CsvTest, RequestedTypesReportRowAndColumn) {
  std::string text = "patient,bp\n";
  for (int i = 0; i < 15; ++i)
    text += std::to_string(i) + "," + std::to_string(100 + i) + "\n";
  text += "15,abc\n";
  CsvOptions o;
  o.column_types = {{"bp", ColumnType::kDouble}};
  Error e = ParseError(text, o);
  EXPECT_EQ(e.field, "csv");
  EXPECT_EQ(e.message, "row 17, column 'bp': not a number: 'abc'");
  EXPECT_EQ(e.ToString(), "csv: row 17, column 'bp': not a number: 'abc'");

  o.column_types = {{"patient", ColumnType::kInt64}};
  e = ParseError("patient\n1\n1.5\n", o);
  EXPECT_EQ(e.message, "row 3, column 'patient': not an integer: '1.5'");

  o.column_types = {{"bp", ColumnType::kString}};
  auto t = ParseCsv("bp\n1\n2\n", o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->columns[0].type, ColumnType::kString);
  o.column_types = {{"bp", ColumnType::kDouble}};
  t = ParseCsv("bp\n1\n\n2\n", o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->columns[0].type, ColumnType::kDouble);
}

// Large generated CSV with quoted commas, newlines, quotes, CRLF and numbers.
std::string GenerateCsv(std::size_t rows, std::uint64_t seed, bool stray_quotes,
                        std::size_t late_double_at, std::size_t late_text_at) {
  std::mt19937_64 rng(seed);
  std::string t = "id,value,label,ratio\n";
  for (std::size_t r = 0; r < rows; ++r) {
    t += std::to_string(r) + ",";
    if (r == late_text_at) {
      t += "n/a";
    } else {
      t += std::to_string(static_cast<long>(rng() % 100000) - 50000);
    }
    t += ",";
    switch (rng() % 6) {
      case 0:
        t += "\"a, b\"";
        break;
      case 1:
        t += "\"multi\nline \"\"quoted\"\"\"";
        break;
      case 2:
        t += stray_quotes ? "5'11\"" : "plain";
        break;
      case 3:  // empty field
        break;
      default:
        t += 'w';
        t += std::to_string(rng() % 1000);
    }
    t += ",";
    if (r == late_double_at) {
      t += "0.5";
    } else {
      t += std::to_string(rng() % 1000);
    }
    t += rng() % 7 == 0 ? "\r\n" : "\n";
  }
  return t;
}

TEST(CsvTest, ParallelEqualsSequentialAndReference) {
  for (bool stray : {false, true}) {
    const std::string text = GenerateCsv(200000, 5, stray, 190000, 150000);
    ASSERT_GT(text.size(), 4u << 20);  // several 1 MiB chunks
    std::uint64_t last = 0;
    RunControl control;
    control.chunk_seconds = 0.0005;
    auto par = ParseCsv(text, {}, control,
                        [&](std::uint64_t done, std::uint64_t total) {
                          EXPECT_EQ(total, text.size());
                          EXPECT_GE(done, last);
                          last = done;
                        });
    ASSERT_TRUE(par.ok()) << par.error().ToString();
    EXPECT_EQ(last, text.size());
    auto seq = ParseCsvSequential(text);
    ASSERT_TRUE(seq.ok());
    ExpectSameTable(seq.value(), par.value());
    // A late non-number turns the column to string with the original text;
    // a late double turns the int column to double.
    EXPECT_EQ(par->columns[0].type, ColumnType::kInt64);
    EXPECT_EQ(par->columns[1].type, ColumnType::kString);
    EXPECT_EQ(par->columns[1].str(150000), "n/a");
    EXPECT_EQ(par->columns[3].type, ColumnType::kDouble);
    EXPECT_EQ(par->columns[3].doubles[190000], 0.5);
    const Rows ref = Reference(text);
    auto strings = ParseCsv(text, AllStrings(ref));
    ASSERT_TRUE(strings.ok());
    ASSERT_EQ(AsStrings(strings.value()), ref);
  }
}

TEST(CsvTest, ParallelErrorMatchesSequential) {
  std::string text = GenerateCsv(150000, 8, false, -1, -1);
  text += "1,2,3\n";  // ragged last row, several chunks in
  auto par = ParseCsv(text);
  auto seq = ParseCsvSequential(text);
  ASSERT_FALSE(par.ok());
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(par.error().message, seq.error().message);
  EXPECT_NE(par.error().message.find("row 150002 (line "), std::string::npos)
      << par.error().message;
  text += "\"unterminated\n";
  par = ParseCsv(text);
  EXPECT_EQ(par.error().message, ParseCsvSequential(text).error().message);
}

TEST(CsvTest, RoundTripThroughToCsv) {
  auto t = ParseCsv("n,s,d\n1,\"a,b\",1.5\n,\"q\"\"\",\n3,\"x\ny\",-0.25\n");
  ASSERT_TRUE(t.ok());
  const std::string out = ToCsv(t.value());
  EXPECT_EQ(out, "n,s,d\n1,\"a,b\",1.5\n,\"q\"\"\",\n3,\"x\ny\",-0.25\n");
  auto back = ParseCsv(out);
  ASSERT_TRUE(back.ok());
  ExpectSameTable(t.value(), back.value());
}

TEST(CsvTest, Cancellation) {
  const std::string text = GenerateCsv(100000, 1, false, -1, -1);
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  auto t = ParseCsv(text, {}, control);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kCancelled);
}

TEST(CsvTest, ScanCountsRecordsByTheParsersQuoteRules) {
  // A quote inside an unquoted field is literal; "" inside a quoted field is
  // an escaped quote; blank lines are skipped; a quoted line break stays in
  // its record.
  const std::string text = "\n\na\"b,c\r\n5\",\"x\ny\"\n\n\"q\"\"\",7\n8,9";
  CsvRecords scan = ScanCsvRecords(text);
  EXPECT_EQ(scan.error, "");
  EXPECT_EQ(scan.records, 4u);
  EXPECT_EQ(scan.first_record, "\n\na\"b,c\r");
  auto parsed = ParseCsvSequential(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed.value().num_rows() + 1, scan.records);
  auto header = ParseCsvSequential(scan.first_record);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header.value().columns[0].name, "a\"b");
  EXPECT_EQ(header.value().columns[1].name, "c");

  EXPECT_EQ(ScanCsvRecords(text, ',', 1).records, 1u);
  scan = ScanCsvRecords("a,b\n1,2\n3,\"4\n");
  EXPECT_EQ(scan.records, 2u);
  EXPECT_EQ(scan.error, "row 3, column 2: unterminated quoted field");
  EXPECT_EQ(ScanCsvRecords("a\n\"1\"x\n").error,
            "row 2, column 1: unexpected character after closing quote");
  EXPECT_EQ(ScanCsvRecords("").records, 0u);
  EXPECT_EQ(ScanCsvRecords("\r\n\n").records, 0u);
}

}  // namespace
}  // namespace impulse::analytics
