#include "compute/analytics/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "compute/analytics/parse_number.h"
#include "compute/analytics/waves.h"
#include "compute/common/parallel.h"

namespace impulse::analytics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

enum class Mode : std::uint8_t { kInt, kDouble, kString };

using internal::IsBlank;
using internal::ParseDouble;
using internal::ParseInt64;
using internal::Trim;

// ---- field scanner ----

enum class FieldEnd : std::uint8_t {
  kDelimiter,  // more fields follow in this record
  kRecord,     // record ended (line break consumed, or end of range)
  kError,      // malformed (message in Field::error)
  kUnclean,    // quoted field runs past the chunk end
};

struct Field {
  std::string_view value;
  bool quoted = false;
  FieldEnd end = FieldEnd::kRecord;
  std::uint32_t newlines = 0;  // line breaks consumed (inside and after)
  const char* error = nullptr;
};

// Reads one field at pos (< end or == end for an empty last field) and the
// separator after it. `final_range` says whether end is the end of the text.
inline Field ReadField(std::string_view text, std::size_t& pos, std::size_t end,
                       bool final_range, char delim, std::string& scratch) {
  const char* t = text.data();
  Field f;
  if (pos < end && t[pos] == '"') {
    f.quoted = true;
    std::size_t q = pos + 1;
    bool escaped = false;
    std::size_t close;
    while (true) {
      const void* hit = std::memchr(t + q, '"', end - q);
      if (hit == nullptr) {
        f.end = final_range ? FieldEnd::kError : FieldEnd::kUnclean;
        f.error = "unterminated quoted field";
        return f;
      }
      const std::size_t at = static_cast<const char*>(hit) - t;
      if (at + 1 < end && t[at + 1] == '"') {
        escaped = true;
        q = at + 2;
        continue;
      }
      close = at;
      break;
    }
    const std::string_view raw(t + pos + 1, close - pos - 1);
    f.newlines =
        static_cast<std::uint32_t>(std::count(raw.begin(), raw.end(), '\n'));
    if (escaped) {
      scratch.clear();
      for (std::size_t i = 0; i < raw.size(); ++i) {
        scratch.push_back(raw[i]);
        if (raw[i] == '"') ++i;  // "" -> "
      }
      f.value = scratch;
    } else {
      f.value = raw;
    }
    pos = close + 1;
    if (pos >= end) {
      f.end = FieldEnd::kRecord;
    } else if (t[pos] == delim) {
      ++pos;
      f.end = FieldEnd::kDelimiter;
    } else if (t[pos] == '\n') {
      ++pos;
      ++f.newlines;
      f.end = FieldEnd::kRecord;
    } else if (t[pos] == '\r' && pos + 1 < end && t[pos + 1] == '\n') {
      pos += 2;
      ++f.newlines;
      f.end = FieldEnd::kRecord;
    } else if (t[pos] == '\r' && pos + 1 == end) {
      ++pos;
      f.end = FieldEnd::kRecord;
    } else {
      f.end = FieldEnd::kError;
      f.error = "unexpected character after closing quote";
    }
    return f;
  }
  const std::size_t s = pos;
  while (pos < end && t[pos] != delim && t[pos] != '\n') ++pos;
  std::size_t e = pos;
  if (pos >= end) {
    if (e > s && t[e - 1] == '\r') --e;  // CR before end of text
    f.end = FieldEnd::kRecord;
  } else if (t[pos] == delim) {
    ++pos;
    f.end = FieldEnd::kDelimiter;
  } else {  // '\n'
    if (e > s && t[e - 1] == '\r') --e;
    ++pos;
    f.newlines = 1;
    f.end = FieldEnd::kRecord;
  }
  f.value = std::string_view(t + s, e - s);
  return f;
}

// Skips empty lines (LF or CRLF only) at pos; returns line breaks skipped.
inline std::size_t SkipBlankLines(std::string_view text, std::size_t& pos,
                                  std::size_t end) {
  std::size_t lines = 0;
  while (pos < end) {
    if (text[pos] == '\n') {
      ++pos;
      ++lines;
    } else if (text[pos] == '\r' && pos + 1 < end && text[pos + 1] == '\n') {
      pos += 2;
      ++lines;
    } else {
      break;
    }
  }
  return lines;
}

// Fast path for a plain unquoted number field ([+-]digits[.digits], at most
// 18 digits for an integer, 15 for a decimal) ending at the delimiter, a
// line break or the end of the range: scanned and converted in one pass.
// Anything else (spaces, exponents, quotes, long numbers, text) returns
// false and goes through ReadField and the general parsers, which give the
// same values for the inputs accepted here.
struct FastField {
  bool is_int = false;
  std::int64_t i = 0;
  double d = 0;
  std::size_t next = 0;  // position after the terminator
  bool record_end = false;
  bool newline = false;
};

inline bool FastNumber(const char* t, std::size_t pos, std::size_t end,
                       char delim, FastField* f) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3, 1e4,  1e5,
                                      1e6,  1e7,  1e8,  1e9, 1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15};
  std::size_t p = pos;
  bool neg = false;
  if (p < end && (t[p] == '-' || t[p] == '+')) {
    neg = t[p] == '-';
    ++p;
  }
  std::uint64_t m = 0;
  int digits = 0;
  int frac = -1;
  while (p < end) {
    const unsigned d = static_cast<unsigned char>(t[p]) - '0';
    if (d <= 9) {
      m = m * 10 + d;
      ++digits;
      frac += frac >= 0;
      ++p;
    } else if (t[p] == '.' && frac < 0) {
      frac = 0;
      ++p;
    } else {
      break;
    }
    if (digits > 18) return false;
  }
  if (digits == 0 || (frac >= 0 && digits > 15)) return false;
  if (p >= end) {
    f->record_end = true;
    f->newline = false;
    f->next = p;
  } else if (t[p] == delim) {
    f->record_end = false;
    f->newline = false;
    f->next = p + 1;
  } else if (t[p] == '\n') {
    f->record_end = true;
    f->newline = true;
    f->next = p + 1;
  } else if (t[p] == '\r' && p + 1 < end && t[p + 1] == '\n') {
    f->record_end = true;
    f->newline = true;
    f->next = p + 2;
  } else {
    return false;
  }
  if (frac < 0) {
    f->is_int = true;
    f->i =
        neg ? static_cast<std::int64_t>(0 - m) : static_cast<std::int64_t>(m);
    const double v = static_cast<double>(m);  // correctly rounded
    f->d = neg ? -v : v;                      // keeps -0
  } else {
    f->is_int = false;
    double v = static_cast<double>(m);
    if (frac > 0) v /= kPow10[frac];
    f->d = neg ? -v : v;
  }
  return true;
}

// ---- chunk parsing ----

struct ChunkColumn {
  Mode mode = Mode::kInt;
  std::vector<std::int64_t> ints;
  std::vector<double> doubles;
  std::string chars;
  std::vector<std::uint64_t> offsets;  // end offsets (no leading 0)
  std::vector<std::uint32_t> nulls;    // local rows that are null
  // Int rows written "-0": as int64 they are 0, but if the column becomes
  // double they must read -0.0, as they would had a double come first.
  std::vector<std::uint32_t> negative_zeros;
  bool any_value = false;  // some non-empty value
  std::size_t rows = 0;

  void PushInt(std::int64_t v, bool negative) {
    if (v == 0 && negative) {
      negative_zeros.push_back(static_cast<std::uint32_t>(ints.size()));
    }
    ints.push_back(v);
  }

  void ToDouble() {
    doubles.resize(ints.size());
    for (std::size_t i = 0; i < ints.size(); ++i) {
      doubles[i] = static_cast<double>(ints[i]);
    }
    for (std::uint32_t r : nulls) doubles[r] = kNaN;
    for (std::uint32_t r : negative_zeros) doubles[r] = -0.0;
    ints.clear();
    ints.shrink_to_fit();
    negative_zeros.clear();
    mode = Mode::kDouble;
  }
};

struct ChunkError {
  std::size_t record = 0;  // local record index
  std::size_t line = 0;    // local line index of the record's start
  int column = -1;
  std::string message;
};

enum class Outcome { kOk, kError, kRestart, kUnclean };

struct Chunk {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::vector<ChunkColumn> cols;
  std::size_t records = 0;
  std::size_t lines = 0;
  Outcome outcome = Outcome::kOk;
  ChunkError error;
  int restart_column = -1;
};

struct Schema {
  std::vector<std::string> names;
  std::vector<Mode> modes;   // starting / requested modes
  std::vector<bool> forced;  // requested type: conversion errors
  char delim = ',';
  bool fast_numbers = true;  // the delimiter cannot occur in a number
};

// Parses records of [c.begin, c.end) into c with the given modes.
void RunChunk(std::string_view text, const Schema& schema,
              const std::vector<Mode>& modes, bool final_range, Chunk& c) {
  const std::size_t ncols = schema.names.size();
  c.cols.assign(ncols, ChunkColumn{});
  for (std::size_t i = 0; i < ncols; ++i) c.cols[i].mode = modes[i];
  c.records = 0;
  c.lines = 0;
  c.outcome = Outcome::kOk;
  std::string scratch;
  std::size_t pos = c.begin;
  const std::size_t end = c.end;
  auto fail = [&](std::size_t line, int col, std::string msg) {
    c.outcome = Outcome::kError;
    c.error = {c.records, line, col, std::move(msg)};
  };
  while (true) {
    c.lines += SkipBlankLines(text, pos, end);
    if (pos >= end) break;
    const std::size_t record_line = c.lines;
    std::size_t col = 0;
    while (true) {
      if (schema.fast_numbers && col < ncols &&
          c.cols[col].mode != Mode::kString) {
        FastField ff;
        ChunkColumn& cc = c.cols[col];
        if (FastNumber(text.data(), pos, end, schema.delim, &ff) &&
            (ff.is_int || cc.mode == Mode::kDouble || !schema.forced[col])) {
          ++cc.rows;
          cc.any_value = true;
          if (cc.mode == Mode::kInt && ff.is_int) {
            cc.PushInt(ff.i, std::signbit(ff.d));
          } else {
            if (cc.mode == Mode::kInt) cc.ToDouble();
            cc.doubles.push_back(ff.d);
          }
          pos = ff.next;
          c.lines += ff.newline;
          ++col;
          if (ff.record_end) break;
          continue;
        }
      }
      const Field f =
          ReadField(text, pos, end, final_range, schema.delim, scratch);
      if (f.end == FieldEnd::kUnclean) {
        c.outcome = Outcome::kUnclean;
        return;
      }
      if (f.end == FieldEnd::kError) {
        fail(record_line, static_cast<int>(std::min(col, ncols - 1)), f.error);
        if (col >= ncols) c.error.column = -1;
        return;
      }
      c.lines += f.newlines;
      if (col < ncols) {
        ChunkColumn& cc = c.cols[col];
        const auto row = static_cast<std::uint32_t>(cc.rows++);
        switch (cc.mode) {
          case Mode::kString:
            cc.chars.append(f.value);
            cc.offsets.push_back(cc.chars.size());
            cc.any_value |= !f.value.empty();
            break;
          case Mode::kInt: {
            std::int64_t v;
            double d;
            if (IsBlank(f.value)) {
              cc.ints.push_back(0);
              cc.nulls.push_back(row);
            } else if (ParseInt64(f.value, &v)) {
              cc.PushInt(v, Trim(f.value).front() == '-');
              cc.any_value = true;
            } else if (schema.forced[col]) {
              fail(record_line, static_cast<int>(col),
                   "not an integer: '" + std::string(f.value) + "'");
              return;
            } else if (ParseDouble(f.value, &d)) {
              cc.ToDouble();
              cc.doubles.push_back(d);
              cc.any_value = true;
            } else {
              c.outcome = Outcome::kRestart;
              c.restart_column = static_cast<int>(col);
              return;
            }
            break;
          }
          case Mode::kDouble: {
            double d;
            if (IsBlank(f.value)) {
              cc.doubles.push_back(kNaN);
              cc.nulls.push_back(row);
            } else if (ParseDouble(f.value, &d)) {
              cc.doubles.push_back(d);
              cc.any_value = true;
            } else if (schema.forced[col]) {
              fail(record_line, static_cast<int>(col),
                   "not a number: '" + std::string(f.value) + "'");
              return;
            } else {
              c.outcome = Outcome::kRestart;
              c.restart_column = static_cast<int>(col);
              return;
            }
            break;
          }
        }
      }
      ++col;
      if (f.end == FieldEnd::kRecord) break;
    }
    if (col != ncols) {
      fail(record_line, -1,
           "expected " + std::to_string(ncols) + " field" +
               (ncols == 1 ? "" : "s") + ", found " + std::to_string(col));
      return;
    }
    if (++c.records == 64) {
      // Size the value stores from the first records, to avoid regrowth.
      const double scale =
          1.1 * static_cast<double>(end - c.begin) / (pos - c.begin);
      const auto expect = static_cast<std::size_t>(64 * scale) + 16;
      for (ChunkColumn& cc : c.cols) {
        if (cc.mode == Mode::kInt) cc.ints.reserve(expect);
        if (cc.mode == Mode::kDouble) cc.doubles.reserve(expect);
        if (cc.mode == Mode::kString) {
          cc.offsets.reserve(expect);
          cc.chars.reserve(static_cast<std::size_t>(cc.chars.size() * scale));
        }
      }
    }
  }
}

// RunChunk, restarting with a column switched to string when a value is not
// a number (only inferred columns).
void ParseChunk(std::string_view text, const Schema& schema,
                std::vector<Mode> modes, bool final_range, Chunk& c) {
  while (true) {
    RunChunk(text, schema, modes, final_range, c);
    if (c.outcome != Outcome::kRestart) return;
    modes[c.restart_column] = Mode::kString;
  }
}

std::string Quote(std::string_view name) {
  std::string s;
  s.reserve(name.size() + 2);
  s.push_back('\'');
  s.append(name);
  s.push_back('\'');
  return s;
}

Error RowError(const Schema& schema, std::size_t row, std::size_t line,
               int column, const std::string& message) {
  std::string where = "row " + std::to_string(row);
  if (line != row) where += " (line " + std::to_string(line) + ")";
  if (column >= 0) where += ", column " + Quote(schema.names[column]);
  return Error::InvalidArgument("csv", where + ": " + message);
}

Result<Table> Parse(std::string_view text, const CsvOptions& options,
                    const RunControl& control, const ProgressCallback& progress,
                    bool parallel) {
  Schema schema;
  schema.delim = options.delimiter;
  if (options.delimiter == '"' || options.delimiter == '\n' ||
      options.delimiter == '\r') {
    return Error::InvalidArgument("delimiter", "must not be '\"', CR or LF");
  }
  // Header (or the first record, to count columns).
  std::size_t pos = 0;
  std::size_t header_lines = SkipBlankLines(text, pos, text.size());
  if (pos >= text.size()) {
    return Error::InvalidArgument("csv", "empty input: no header row");
  }
  std::size_t header_end = pos;
  std::vector<std::string> first;
  {
    std::string scratch;
    while (true) {
      const Field f =
          ReadField(text, header_end, text.size(), true, schema.delim, scratch);
      if (f.end == FieldEnd::kError) {
        return Error::InvalidArgument(
            "csv", "row 1, column " + std::to_string(first.size() + 1) + ": " +
                       f.error);
      }
      first.emplace_back(f.value);
      header_lines += f.newlines;
      if (f.end == FieldEnd::kRecord) break;
    }
  }
  std::size_t data_begin;
  std::size_t row_base;  // rows before the first data record
  if (options.has_header) {
    schema.names = std::move(first);
    data_begin = header_end;
    row_base = 1;
    for (std::size_t i = 0; i < schema.names.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (schema.names[i] == schema.names[j]) {
          return Error::InvalidArgument(
              "csv", "duplicate column name " + Quote(schema.names[i]));
        }
      }
    }
  } else {
    for (std::size_t i = 0; i < first.size(); ++i) {
      schema.names.push_back("c" + std::to_string(i));
    }
    data_begin = 0;
    row_base = 0;
    header_lines = 0;
  }
  const std::size_t ncols = schema.names.size();
  schema.fast_numbers = std::string_view("0123456789.+-").find(schema.delim) ==
                        std::string_view::npos;
  schema.modes.assign(ncols, Mode::kInt);
  schema.forced.assign(ncols, false);
  for (const auto& [name, type] : options.column_types) {
    auto it = std::find(schema.names.begin(), schema.names.end(), name);
    if (it == schema.names.end()) {
      return Error::InvalidArgument("column_types", "no column " + Quote(name));
    }
    const std::size_t i = it - schema.names.begin();
    schema.modes[i] = type == ColumnType::kInt64    ? Mode::kInt
                      : type == ColumnType::kDouble ? Mode::kDouble
                                                    : Mode::kString;
    schema.forced[i] = true;
  }

  // Chunks that start on record boundaries: a line break outside quotes,
  // found from the parity of the quote count before it.
  std::vector<Chunk> chunks;
  const std::size_t data_size = text.size() - data_begin;
  const std::size_t chunk_bytes =
      std::max<std::size_t>(options.parallel_chunk_bytes, 1);
  if (!parallel || data_size <= 2 * chunk_bytes) {
    chunks.emplace_back();
    chunks.back().begin = data_begin;
    chunks.back().end = text.size();
  } else {
    const std::size_t pieces = data_size / chunk_bytes;
    std::vector<std::size_t> nominal(pieces + 1);
    for (std::size_t i = 0; i <= pieces; ++i) {
      nominal[i] = data_begin + data_size * i / pieces;
    }
    std::vector<std::uint8_t> odd(pieces);
    parallel::ForEach(std::size_t{0}, pieces, [&](std::size_t i) {
      odd[i] = std::count(text.data() + nominal[i],
                          text.data() + nominal[i + 1], '"') &
               1;
    });
    std::vector<std::uint8_t> inside(pieces);
    for (std::size_t i = 1; i < pieces; ++i) {
      inside[i] = inside[i - 1] ^ odd[i - 1];
    }
    std::vector<std::size_t> starts(pieces);
    starts[0] = data_begin;
    parallel::ForEach(std::size_t{1}, pieces, [&](std::size_t i) {
      bool in = inside[i];
      std::size_t p = nominal[i];
      for (; p < text.size(); ++p) {
        const char ch = text[p];
        if (ch == '"') {
          in = !in;
        } else if (ch == '\n' && !in) {
          break;
        }
      }
      starts[i] = std::min(text.size(), p + 1);
    });
    std::size_t prev_end = data_begin;
    for (std::size_t i = 0; i < pieces; ++i) {
      const std::size_t b = std::max(starts[i], prev_end);
      const std::size_t e =
          i + 1 < pieces ? std::max(b, starts[i + 1]) : text.size();
      if (e > b) {
        chunks.emplace_back();
        chunks.back().begin = b;
        chunks.back().end = e;
        prev_end = e;
      }
    }
    if (chunks.empty()) {
      chunks.emplace_back();
      chunks.back().begin = data_begin;
      chunks.back().end = text.size();
    }
  }

  ProgressCallback chunk_progress;
  if (progress) {
    chunk_progress = [&](std::uint64_t done, std::uint64_t) {
      progress(done < chunks.size() ? chunks[done].begin : text.size(),
               text.size());
    };
  }
  auto parse_range = [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      ParseChunk(text, schema, schema.modes, chunks[i].end == text.size(),
                 chunks[i]);
    }
  };
  if (parallel) {
    if (!internal::RunInWaves(chunks.size(), 2 * internal::Concurrency(), 1,
                              control, chunk_progress, parse_range)) {
      return CancelledError();
    }
  } else {
    if (control.cancelled()) return CancelledError();
    parse_range(0, chunks.size());
    if (progress) progress(text.size(), text.size());
  }

  // Validate in order: an error or an unclean end is authoritative only if
  // every earlier chunk ended cleanly (then this chunk began on a true
  // record boundary).
  std::size_t rows_before = row_base;
  std::size_t lines_before = header_lines;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    Chunk& c = chunks[i];
    if (c.outcome == Outcome::kUnclean) {
      // A stray quote misled the split: parse the rest in one pass.
      c.end = text.size();
      chunks.resize(i + 1);
      if (control.cancelled()) return CancelledError();
      ParseChunk(text, schema, schema.modes, true, c);
    }
    if (c.outcome == Outcome::kError) {
      return RowError(schema, rows_before + c.error.record + 1,
                      lines_before + c.error.line + 1, c.error.column,
                      c.error.message);
    }
    rows_before += c.records;
    lines_before += c.lines;
  }

  // Unify types across chunks: string beats double beats int64.
  std::vector<Mode> final_modes(ncols);
  while (true) {
    for (std::size_t col = 0; col < ncols; ++col) {
      if (schema.forced[col]) {
        final_modes[col] = schema.modes[col];
        continue;
      }
      bool any_string = false;
      bool any_double = false;
      bool any_value = false;
      for (const Chunk& c : chunks) {
        any_string |= c.cols[col].mode == Mode::kString;
        any_double |= c.cols[col].mode == Mode::kDouble;
        any_value |= c.cols[col].any_value;
      }
      final_modes[col] = any_string   ? Mode::kString
                         : any_double ? Mode::kDouble
                         : any_value  ? Mode::kInt
                                      : Mode::kString;
    }
    // Chunks holding numbers where the column became string: re-parse.
    std::vector<std::size_t> redo;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      for (std::size_t col = 0; col < ncols; ++col) {
        if (final_modes[col] == Mode::kString &&
            chunks[i].cols[col].mode != Mode::kString) {
          redo.push_back(i);
          break;
        }
      }
    }
    if (redo.empty()) break;
    if (control.cancelled()) return CancelledError();
    parallel::ForEach(std::size_t{0}, redo.size(), [&](std::size_t k) {
      Chunk& c = chunks[redo[k]];
      std::vector<Mode> modes(ncols);
      for (std::size_t col = 0; col < ncols; ++col) {
        modes[col] = final_modes[col] == Mode::kString ? Mode::kString
                                                       : c.cols[col].mode;
      }
      ParseChunk(text, schema, modes, c.end == text.size(), c);
    });
  }
  for (Chunk& c : chunks) {
    for (std::size_t col = 0; col < ncols; ++col) {
      if (final_modes[col] == Mode::kDouble && c.cols[col].mode == Mode::kInt) {
        c.cols[col].ToDouble();
      }
    }
  }

  // Concatenate.
  Table table;
  table.columns.resize(ncols);
  std::vector<std::size_t> row_start(chunks.size() + 1, 0);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    row_start[i + 1] = row_start[i] + chunks[i].records;
  }
  const std::size_t rows = row_start.back();
  parallel::ForEach(std::size_t{0}, ncols, [&](std::size_t col) {
    Column& out = table.columns[col];
    out.name = schema.names[col];
    const Mode m = final_modes[col];
    bool nulls = false;
    for (const Chunk& c : chunks) nulls |= !c.cols[col].nulls.empty();
    if (nulls && m != Mode::kString) {
      out.valid.assign(rows, 1);
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        for (std::uint32_t r : chunks[i].cols[col].nulls) {
          out.valid[row_start[i] + r] = 0;
        }
      }
    }
    if (m == Mode::kInt) {
      out.type = ColumnType::kInt64;
      out.ints.resize(rows);
    } else if (m == Mode::kDouble) {
      out.type = ColumnType::kDouble;
      out.doubles.resize(rows);
    } else {
      out.type = ColumnType::kString;
      std::size_t total = 0;
      for (const Chunk& c : chunks) total += c.cols[col].chars.size();
      out.chars.reserve(total);
      out.offsets.resize(rows + 1);
      out.offsets[0] = 0;
    }
    std::uint64_t char_base = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      const ChunkColumn& cc = chunks[i].cols[col];
      const std::size_t r0 = row_start[i];
      if (m == Mode::kInt) {
        std::copy(cc.ints.begin(), cc.ints.end(), out.ints.begin() + r0);
      } else if (m == Mode::kDouble) {
        std::copy(cc.doubles.begin(), cc.doubles.end(),
                  out.doubles.begin() + r0);
      } else {
        out.chars.append(cc.chars);
        for (std::size_t r = 0; r < cc.offsets.size(); ++r) {
          out.offsets[r0 + r + 1] = char_base + cc.offsets[r];
        }
        char_base += cc.chars.size();
      }
    }
  });
  return table;
}

bool NeedsQuotes(std::string_view v, char delim) {
  for (char c : v) {
    if (c == delim || c == '"' || c == '\n' || c == '\r') return true;
  }
  return false;
}

}  // namespace

Result<Table> ParseCsv(std::string_view text, const CsvOptions& options,
                       const RunControl& control,
                       const ProgressCallback& progress) {
  return Parse(text, options, control, progress, /*parallel=*/true);
}

Result<Table> ParseCsvSequential(std::string_view text,
                                 const CsvOptions& options) {
  return Parse(text, options, RunControl{}, ProgressCallback{},
               /*parallel=*/false);
}

CsvRecords ScanCsvRecords(std::string_view text, char delimiter,
                          std::uint64_t max_records) {
  CsvRecords out;
  if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
    out.error = "delimiter must not be '\"', CR or LF";
    return out;
  }
  std::string scratch;
  std::size_t pos = 0;
  std::size_t line = 0;  // line breaks before `pos`
  while (out.records != max_records || max_records == 0) {
    line += SkipBlankLines(text, pos, text.size());
    if (pos >= text.size()) break;
    const std::size_t record_line = line;
    for (int column = 1;; ++column) {
      const Field f =
          ReadField(text, pos, text.size(), true, delimiter, scratch);
      if (f.end == FieldEnd::kError) {
        out.error = "row " + std::to_string(out.records + 1);
        if (record_line != out.records) {
          out.error += " (line " + std::to_string(record_line + 1) + ")";
        }
        out.error += ", column " + std::to_string(column) + ": " + f.error;
        return out;
      }
      line += f.newlines;
      if (f.end == FieldEnd::kRecord) break;
    }
    if (out.records == 0) {
      // Without its LF; a CR before it (CRLF) the parser drops itself.
      out.first_record = text.substr(0, pos);
      if (out.first_record.ends_with('\n')) out.first_record.remove_suffix(1);
    }
    ++out.records;
  }
  return out;
}

std::string ToCsv(const Table& table, char delimiter) {
  std::string out;
  auto put = [&](std::string_view v) {
    if (NeedsQuotes(v, delimiter)) {
      out.push_back('"');
      for (char c : v) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
      }
      out.push_back('"');
    } else {
      out.append(v);
    }
  };
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    if (c > 0) out.push_back(delimiter);
    put(table.columns[c].name);
  }
  out.push_back('\n');
  for (std::size_t r = 0; r < table.num_rows(); ++r) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      if (c > 0) out.push_back(delimiter);
      put(table.columns[c].ToString(r));
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace impulse::analytics
