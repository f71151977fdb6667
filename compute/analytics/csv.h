// CSV parsing into a typed Table (RFC 4180): fields separated by a delimiter,
// records by LF or CRLF; a field may be quoted with '"', and then contains
// delimiters, line breaks and doubled quotes ("" -> "). The first record is
// the header (column names) unless has_header is false (then columns are
// c0, c1, ...). Completely empty lines are skipped. A '"' inside an unquoted
// field is kept literally (lenient, like pandas); after a closing quote only
// a delimiter or the end of the record may follow.
//
// Types: a column named in column_types gets that type and a value that does
// not convert is an error; other columns are inferred: int64 if every
// non-empty value is an integer, else double if every non-empty value is a
// number (std::from_chars syntax plus a leading '+', "inf", "nan";
// surrounding spaces ignored), else string. In numeric columns an empty
// field is null; in string columns it is the empty string. A column with no
// non-empty value is string.
//
// Errors (InvalidArgument, field "csv" unless noted), naming the row and
// column: rows are counted from 1 including the header, like a spreadsheet;
// the physical line is added when it differs (quoted line breaks, skipped
// blank lines):
//   "empty input: no header row"
//   "row 17, column 'bp': not a number: 'abc'"       (requested double)
//   "row 17, column 'id': not an integer: '1.5'"     (requested int64)
//   "row 17 (line 19): expected 3 fields, found 2"   (ragged row)
//   "row 17, column 'name': unterminated quoted field"
//   "row 17, column 'name': unexpected character after closing quote"
//   "duplicate column name 'x'" ; field "column_types": "no column 'x'"
//
// Parallel: the text is cut into chunks at line breaks that lie outside
// quotes (found from the parity of quote counts), and chunks are parsed and
// converted in parallel, then concatenated. Every chunk verifies that it
// ends on a record boundary; if one does not (only possible with stray
// quotes), the rest is parsed in one sequential pass, so results and error
// messages are always those of a sequential parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/analytics/progress.h"
#include "compute/analytics/table.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::analytics {

struct CsvOptions {
  char delimiter = ',';
  bool has_header = true;
  // Requested types by column name; other columns are inferred.
  std::vector<std::pair<std::string, ColumnType>> column_types;
  // ParseCsv cuts data larger than twice this into chunks of about this
  // size. Only tests and fuzzing change it: small chunks put the split
  // logic to work on small inputs.
  std::size_t parallel_chunk_bytes = 1 << 20;
};

// progress(bytes_done, text.size()) between waves; cancel -> kCancelled.
Result<Table> ParseCsv(std::string_view text, const CsvOptions& options = {},
                       const RunControl& control = {},
                       const ProgressCallback& progress = {});

// Sequential single-thread parse with the same rules (benchmark baseline).
Result<Table> ParseCsvSequential(std::string_view text,
                                 const CsvOptions& options = {});

// The record structure of CSV text by the rules of ParseCsv, without
// converting values: the number of records (header included; blank lines
// skipped) and the text of the first one (from the start of `text`, leading
// blank lines included, without its final LF: ParseCsv of it gives the
// header). The scan stops at the first malformed quoted field, with
// ParseCsv's message for it in `error` (row counted from 1 including the
// header, and column number), or after max_records records when that is not
// 0. Sequential, no allocation per record: cheap enough for upload checks.
struct CsvRecords {
  std::uint64_t records = 0;  // complete records (before `error`, if any)
  std::string_view first_record;
  std::string error;  // "" when the text is well formed
};
CsvRecords ScanCsvRecords(std::string_view text, char delimiter = ',',
                          std::uint64_t max_records = 0);

// Writes a table as CSV (header + rows, LF line ends; fields quoted when they
// contain the delimiter, a quote, CR or LF; nulls as empty fields).
std::string ToCsv(const Table& table, char delimiter = ',');

}  // namespace impulse::analytics
