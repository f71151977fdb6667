// DatasetStore on a real directory: content addressing, atomic commits,
// validation per format, names, limits, persistence and leftovers.
#include "server/core/dataset_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace impulse::core {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  static std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") /
                 ("datasets-" + std::to_string(rng()));
  fs::create_directories(dir);
  return dir.string();
}

std::size_t FilesIn(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return 0;
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++n;
  }
  return n;
}

v1::DatasetHeader Header(const std::string& name, v1::DatasetFormat format,
                         std::uint32_t dims = 0) {
  v1::DatasetHeader header;
  header.set_name(name);
  header.set_format(format);
  header.set_dims(dims);
  return header;
}

std::string Doubles(const std::vector<double>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(double));
}

class DatasetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    Reopen();
  }
  void Reopen(std::uint64_t max_bytes = 1 << 20) {
    DatasetStoreOptions options;
    options.dir = dir_;
    options.max_dataset_bytes = max_bytes;
    options.max_chunk_bytes = 1024;
    store_ = std::make_unique<DatasetStore>(options);
    Status opened = store_->Open();
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  }

  // Uploads `content` in chunks of up to 1000 bytes.
  Result<v1::Dataset> Upload(const v1::DatasetHeader& header,
                             const std::string& content) {
    auto upload = store_->BeginUpload(header);
    if (!upload.ok()) return upload.error();
    for (std::size_t at = 0; at < content.size(); at += 1000) {
      Status status = upload.value()->Append(content.substr(at, 1000));
      if (!status.ok()) return status.error();
    }
    return upload.value()->Commit();
  }

  std::string dir_;
  std::unique_ptr<DatasetStore> store_;
};

TEST_F(DatasetStoreTest, StoresContentAddressedAndReadsItBack) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + "\n";
  Result<v1::Dataset> stored = Upload(Header("corpus", v1::TEXT), text);
  ASSERT_TRUE(stored.ok()) << stored.error().ToString();
  EXPECT_EQ(stored.value().sha256(), Sha256Hex(text));
  EXPECT_EQ(stored.value().size_bytes(), text.size());
  EXPECT_EQ(stored.value().rows(), 100u);
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "blobs" / Sha256Hex(text)));
  EXPECT_EQ(FilesIn(fs::path(dir_) / "tmp"), 0u);

  auto content = store_->Read("corpus");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(content.value()->bytes, text);
  ASSERT_EQ(store_->List().size(), 1u);
  EXPECT_EQ(store_->List()[0].name(), "corpus");
}

TEST_F(DatasetStoreTest, KnownSha256OfABC) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(DatasetStoreTest, AnAbandonedUploadLeavesNothing) {
  {
    auto upload = store_->BeginUpload(Header("half", v1::TEXT));
    ASSERT_TRUE(upload.ok());
    ASSERT_TRUE(upload.value()->Append("some bytes\n").ok());
    EXPECT_EQ(FilesIn(fs::path(dir_) / "tmp"), 1u);
  }  // destroyed without Commit
  EXPECT_EQ(FilesIn(fs::path(dir_) / "tmp"), 0u);
  EXPECT_EQ(FilesIn(fs::path(dir_) / "blobs"), 0u);
  EXPECT_TRUE(store_->List().empty());
  EXPECT_EQ(store_->Find("half").error().code, ErrorCode::kNotFound);
}

TEST_F(DatasetStoreTest, LeftoversOfACrashAreRemovedOnOpen) {
  ASSERT_TRUE(Upload(Header("kept", v1::TEXT), "kept\n").ok());
  // A temp file of an upload in flight, and a blob that never made it into
  // the manifest.
  std::ofstream(fs::path(dir_) / "tmp" / "upload-x.part") << "partial";
  std::ofstream(fs::path(dir_) / "blobs" / Sha256Hex("orphan")) << "orphan";
  Reopen();
  EXPECT_EQ(FilesIn(fs::path(dir_) / "tmp"), 0u);
  EXPECT_EQ(FilesIn(fs::path(dir_) / "blobs"), 1u);
  ASSERT_EQ(store_->List().size(), 1u);
  EXPECT_EQ(store_->Read("kept").value()->bytes, "kept\n");
}

TEST_F(DatasetStoreTest, SurvivesARestart) {
  ASSERT_TRUE(
      Upload(Header("pts", v1::POINTS_F64, 2), Doubles({1, 2, 3, 4})).ok());
  Reopen();
  Result<v1::Dataset> found = store_->Find("pts");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value().format(), v1::POINTS_F64);
  EXPECT_EQ(found.value().dims(), 2u);
  EXPECT_EQ(found.value().rows(), 2u);
}

TEST_F(DatasetStoreTest, NamesAreImmutableButReuploadIsANoOp) {
  ASSERT_TRUE(Upload(Header("a", v1::TEXT), "x\n").ok());
  Result<v1::Dataset> again = Upload(Header("a", v1::TEXT), "x\n");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().sha256(), Sha256Hex("x\n"));
  Result<v1::Dataset> other = Upload(Header("a", v1::TEXT), "y\n");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(other.error().field, "header.name");
  EXPECT_EQ(FilesIn(fs::path(dir_) / "tmp"), 0u);
}

TEST_F(DatasetStoreTest, SharedContentOutlivesOneOfItsNames) {
  ASSERT_TRUE(Upload(Header("one", v1::TEXT), "same\n").ok());
  ASSERT_TRUE(Upload(Header("two", v1::TEXT), "same\n").ok());
  EXPECT_EQ(FilesIn(fs::path(dir_) / "blobs"), 1u);
  auto mapped = store_->Read("one");
  ASSERT_TRUE(mapped.ok());
  ASSERT_TRUE(store_->Delete("one").ok());
  EXPECT_EQ(store_->Read("two").value()->bytes, "same\n");
  ASSERT_TRUE(store_->Delete("two").ok());
  EXPECT_EQ(FilesIn(fs::path(dir_) / "blobs"), 0u);
  // A mapping taken before the delete stays readable.
  EXPECT_EQ(mapped.value()->bytes, "same\n");
  EXPECT_EQ(store_->Delete("two").error().code, ErrorCode::kNotFound);
}

TEST_F(DatasetStoreTest, RejectsBadNames) {
  for (const std::string& name :
       {std::string(""), std::string(".."), std::string("."),
        std::string("../etc"), std::string("/abs"), std::string("a/b"),
        std::string("sp ace"), std::string("x\\y"), std::string(129, 'a'),
        std::string("caf\xc3\xa9")}) {
    auto upload = store_->BeginUpload(Header(name, v1::TEXT));
    ASSERT_FALSE(upload.ok()) << name;
    EXPECT_EQ(upload.error().code, ErrorCode::kInvalidArgument) << name;
    EXPECT_EQ(upload.error().field, "header.name") << name;
  }
  EXPECT_TRUE(
      store_->BeginUpload(Header(std::string(128, 'a'), v1::TEXT)).ok());
  EXPECT_TRUE(store_->BeginUpload(Header("A-z_0.9", v1::TEXT)).ok());
}

TEST_F(DatasetStoreTest, EnforcesChunkAndTotalLimits) {
  auto upload = store_->BeginUpload(Header("big", v1::TEXT));
  ASSERT_TRUE(upload.ok());
  Status chunk = upload.value()->Append(std::string(1025, 'x'));
  ASSERT_FALSE(chunk.ok());
  EXPECT_EQ(chunk.error().field, "chunk");

  Reopen(/*max_bytes=*/2000);
  auto limited = store_->BeginUpload(Header("big", v1::TEXT));
  ASSERT_TRUE(limited.value()->Append(std::string(1000, 'x')).ok());
  ASSERT_TRUE(limited.value()->Append(std::string(1000, 'x')).ok());
  Status over = limited.value()->Append("x");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(over.error().message.find("2000"), std::string::npos);
}

TEST_F(DatasetStoreTest, ChecksTheDeclaredSha256) {
  v1::DatasetHeader header = Header("t", v1::TEXT);
  header.set_sha256(Sha256Hex("other"));
  Result<v1::Dataset> stored = Upload(header, "text\n");
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.error().field, "header.sha256");
  header.set_sha256(Sha256Hex("text\n"));
  EXPECT_TRUE(Upload(header, "text\n").ok());
  header.set_sha256("not-hex");
  EXPECT_EQ(store_->BeginUpload(header).error().field, "header.sha256");
}

TEST_F(DatasetStoreTest, ValidatesPackedPoints) {
  EXPECT_EQ(store_->BeginUpload(Header("p", v1::POINTS_F64, 0)).error().field,
            "header.dims");
  Result<v1::Dataset> ragged =
      Upload(Header("p", v1::POINTS_F64, 2), Doubles({1, 2, 3}));
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.error().message.find("whole number of points"),
            std::string::npos);
  Result<v1::Dataset> nan =
      Upload(Header("p", v1::POINTS_F64, 2), Doubles({1, 2, 3, NAN}));
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.error().message.find("point 1, coordinate 1"),
            std::string::npos);
  EXPECT_EQ(FilesIn(fs::path(dir_) / "tmp"), 0u);
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(DatasetStoreTest, ValidatesCsv) {
  Result<v1::Dataset> empty = Upload(Header("c", v1::CSV), "");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("header"), std::string::npos);
  Result<v1::Dataset> dup = Upload(Header("c", v1::CSV), "a,a\n1,2\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("duplicate"), std::string::npos);
  Result<v1::Dataset> ok =
      Upload(Header("c", v1::CSV), "id,\"na,me\"\r\n1,\"x\ny\"\n\n2,z\n");
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  ASSERT_EQ(ok.value().columns_size(), 2);
  EXPECT_EQ(ok.value().columns(1), "na,me");
  EXPECT_EQ(ok.value().rows(), 2u);
}

// Found by fuzzing (tests/fuzz/corpus/dataset_formats_fuzzer/csv_*): the
// summary toggled "inside quotes" at every '"', but a quote inside an
// unquoted field is a literal character to the parser, so rows and the
// header's extent were wrong.
TEST_F(DatasetStoreTest, CsvSummaryFollowsTheParsersQuoteRules) {
  Result<v1::Dataset> literal =
      Upload(Header("lit", v1::CSV), "a\"b,c\n1,2\n3,4\"\n5,6\n");
  ASSERT_TRUE(literal.ok()) << literal.error().ToString();
  ASSERT_EQ(literal.value().columns_size(), 2);
  EXPECT_EQ(literal.value().columns(0), "a\"b");
  EXPECT_EQ(literal.value().rows(), 3u);
  // Leading blank lines are skipped, as ParseCsv does; a lone CR at the end
  // of the text is a record (one empty field).
  Result<v1::Dataset> blank =
      Upload(Header("blank", v1::CSV), "\n\r\nx\n1\n\r");
  ASSERT_TRUE(blank.ok()) << blank.error().ToString();
  EXPECT_EQ(blank.value().columns(0), "x");
  EXPECT_EQ(blank.value().rows(), 2u);
  // A malformed row is left to the job (which names it); rows before it
  // count.
  Result<v1::Dataset> open_quote =
      Upload(Header("open", v1::CSV), "a,b\n1,2\n3,\"4\n5,6\n");
  ASSERT_TRUE(open_quote.ok()) << open_quote.error().ToString();
  EXPECT_EQ(open_quote.value().rows(), 1u);
  Result<v1::Dataset> bad_header =
      Upload(Header("bad", v1::CSV), "\"a\"b,c\n1,2\n");
  ASSERT_FALSE(bad_header.ok());
  EXPECT_NE(bad_header.error().message.find("after closing quote"),
            std::string::npos)
      << bad_header.error().message;
}

// Found by fuzzing (tests/fuzz/corpus/dataset_name_fuzzer/
// crash-non_utf8_column_name): a POINTS_CSV or CSV header that is not UTF-8
// was stored as column names, protobuf wrote them into manifest.json anyway
// (logging an error), and the next Open refused the manifest as corrupt, so
// the server could not start again.
TEST_F(DatasetStoreTest, CsvThatIsNotUtf8IsRefusedAndTheStoreStillOpens) {
  for (v1::DatasetFormat format : {v1::CSV, v1::POINTS_CSV}) {
    Result<v1::Dataset> header =
        Upload(Header("h", format), "x,\xff\xfey\n1,2\n");
    ASSERT_FALSE(header.ok()) << v1::DatasetFormat_Name(format);
    EXPECT_EQ(header.error().field, "data");
    EXPECT_NE(header.error().message.find("not valid UTF-8 at byte 2 (line 1)"),
              std::string::npos)
        << header.error().message;
  }
  Result<v1::Dataset> value =
      Upload(Header("v", v1::CSV), "name\nok\ncaf\xc3\n");  // truncated
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("line 3"), std::string::npos);
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    EXPECT_FALSE(Upload(Header("b", v1::CSV), std::string("a\n") + bad).ok())
        << "overlong, surrogate or past U+10FFFF accepted";
  }
  Result<v1::Dataset> good =
      Upload(Header("g", v1::CSV),
             "caf\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80\n1,2,3\n");
  ASSERT_TRUE(good.ok()) << good.error().ToString();
  EXPECT_EQ(good.value().columns(0), "caf\xc3\xa9");
  Reopen();
  EXPECT_TRUE(store_->Find("g").ok());
}

TEST_F(DatasetStoreTest, ValidatesPointsCsv) {
  Result<v1::Dataset> named =
      Upload(Header("a", v1::POINTS_CSV), "x,y\n1,2\n3.5,-4\n");
  ASSERT_TRUE(named.ok()) << named.error().ToString();
  EXPECT_EQ(named.value().dims(), 2u);
  EXPECT_EQ(named.value().rows(), 2u);
  Result<v1::Dataset> bare =
      Upload(Header("b", v1::POINTS_CSV), "1,2,3\n4,5,6");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare.value().dims(), 3u);
  EXPECT_EQ(bare.value().rows(), 2u);
  EXPECT_EQ(bare.value().columns_size(), 0);

  Result<v1::Dataset> text =
      Upload(Header("c", v1::POINTS_CSV), "x,y\n1,2\n3,abc\n");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("row 3, column 'y'"), std::string::npos)
      << text.error().message;
  Result<v1::Dataset> hole = Upload(Header("c", v1::POINTS_CSV), "x,y\n1,\n");
  ASSERT_FALSE(hole.ok());
  EXPECT_NE(hole.error().message.find("row 2, column 'y'"), std::string::npos)
      << hole.error().message;
  Result<v1::Dataset> dims =
      Upload(Header("c", v1::POINTS_CSV, 3), "x,y\n1,2\n");
  ASSERT_FALSE(dims.ok());
  EXPECT_EQ(dims.error().field, "header.dims");
}

TEST(DatasetStoreDisabledTest, AnswersFailedPrecondition) {
  DatasetStore store(DatasetStoreOptions{});
  ASSERT_TRUE(store.Open().ok());
  EXPECT_EQ(store.BeginUpload(Header("a", v1::TEXT)).error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store.Find("a").error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace impulse::core
