// Datasets and the analytics job kinds end to end over real gRPC: upload,
// list and delete; interrupted uploads; names; validation; each kind against
// a straightforward reference on small data; bad input; the result cache.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/server_fixture.h"

namespace impulse::testing {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  static std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") /
                 ("impulse-data-" + std::to_string(rng()));
  fs::create_directories(dir);
  return dir.string();
}

std::string Doubles(const std::vector<double>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(double));
}

std::vector<double> RandomPoints(std::size_t n, std::size_t dims,
                                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> points(n * dims);
  for (double& v : points) v = u(rng);
  return points;
}

double Distance(const double* a, const double* b, std::size_t dims) {
  double sum = 0;
  for (std::size_t d = 0; d < dims; ++d) sum += (a[d] - b[d]) * (a[d] - b[d]);
  return std::sqrt(sum);
}

// Lower-cased runs of ASCII letters (the test corpora are ASCII).
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word.push_back(static_cast<char>(std::tolower(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool HasField(const grpc::Status& status, const std::string& field) {
  return status.error_message().rfind(field + ":", 0) == 0;
}

class DatasetsTest : public ServerTest {
 protected:
  void SetUp() override { StartWith(DefaultOptions()); }

  void StartWith(ServerOptions options) {
    if (dir_.empty()) dir_ = TempDir();
    options.manager.storage_dir = dir_;
    StartServer(std::move(options));
  }

  fs::path TempUploads() const { return fs::path(dir_) / "datasets" / "tmp"; }

  std::size_t FilesIn(const fs::path& dir) const {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return 0;
    return std::distance(fs::directory_iterator(dir), fs::directory_iterator());
  }

  grpc::Status Upload(const std::string& name, v1::DatasetFormat format,
                      const std::string& content, v1::Dataset* out = nullptr,
                      std::uint32_t dims = 0,
                      std::size_t chunk_bytes = 64 << 10) {
    grpc::ClientContext context;
    v1::Dataset answer;
    auto writer = stub_->UploadDataset(&context, &answer);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name(name);
    header.mutable_header()->set_format(format);
    header.mutable_header()->set_dims(dims);
    header.set_last(content.empty());
    writer->Write(header);
    for (std::size_t at = 0; at < content.size(); at += chunk_bytes) {
      v1::UploadDatasetRequest chunk;
      chunk.set_chunk(content.substr(at, chunk_bytes));
      chunk.set_last(at + chunk_bytes >= content.size());
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (out != nullptr) *out = answer;
    return status;
  }

  v1::Dataset MustUpload(const std::string& name, v1::DatasetFormat format,
                         const std::string& content, std::uint32_t dims = 0) {
    v1::Dataset dataset;
    grpc::Status status = Upload(name, format, content, &dataset, dims);
    EXPECT_TRUE(status.ok()) << name << ": " << status.error_message();
    return dataset;
  }

  std::vector<v1::Dataset> ListDatasets() {
    grpc::ClientContext context;
    v1::ListDatasetsResponse response;
    grpc::Status status =
        stub_->ListDatasets(&context, v1::ListDatasetsRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.datasets().begin(), response.datasets().end()};
  }

  grpc::Status DeleteDataset(const std::string& name) {
    grpc::ClientContext context;
    v1::DeleteDatasetRequest request;
    request.set_name(name);
    v1::Dataset deleted;
    return stub_->DeleteDataset(&context, request, &deleted);
  }

  // Runs a job to its end.
  v1::Job RunJob(const v1::JobSpec& spec) {
    v1::Job job = MustSubmit(spec);
    if (job.id().empty()) return job;
    return WaitDone(job.id());
  }

  // The whole result from GetResult, chunks concatenated.
  v1::JobResult FetchResult(const std::string& id, int* chunks = nullptr) {
    grpc::ClientContext context;
    v1::GetResultRequest request;
    request.set_id(id);
    auto reader = stub_->GetResult(&context, request);
    v1::ResultChunk chunk;
    v1::JobResult whole;
    int count = 0;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.index(), static_cast<std::uint32_t>(count));
      if (count++ == 0) {
        whole = chunk.result();
        continue;
      }
      const v1::JobResult& part = chunk.result();
      if (part.has_distance_matrix()) {
        EXPECT_EQ(part.distance_matrix().row_offset(),
                  whole.distance_matrix().rows());
        whole.mutable_distance_matrix()->mutable_values()->MergeFrom(
            part.distance_matrix().values());
        whole.mutable_distance_matrix()->set_rows(
            whole.distance_matrix().rows() + part.distance_matrix().rows());
      } else if (part.has_knn()) {
        whole.mutable_knn()->mutable_indices()->MergeFrom(part.knn().indices());
        whole.mutable_knn()->mutable_distances()->MergeFrom(
            part.knn().distances());
      } else if (part.has_wordcount()) {
        whole.mutable_wordcount()->mutable_words()->MergeFrom(
            part.wordcount().words());
      } else if (part.has_table()) {
        whole.mutable_table()->mutable_rows()->MergeFrom(part.table().rows());
      }
    }
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (chunks != nullptr) *chunks = count;
    return whole;
  }

  static v1::JobSpec WordCount(const std::string& dataset,
                               std::uint32_t top_k = 0) {
    v1::JobSpec spec;
    spec.mutable_wordcount()->set_dataset(dataset);
    spec.mutable_wordcount()->set_top_k(top_k);
    return spec;
  }

  std::string dir_;
};

// ------------------------------------------------------------ datasets

TEST_F(DatasetsTest, UploadListAndDelete) {
  const std::string text = "the quick brown fox\njumps over\nthe lazy dog\n";
  v1::Dataset stored = MustUpload("corpus", v1::TEXT, text);
  EXPECT_EQ(stored.name(), "corpus");
  EXPECT_EQ(stored.format(), v1::TEXT);
  EXPECT_EQ(stored.size_bytes(), text.size());
  EXPECT_EQ(stored.rows(), 3u);
  EXPECT_EQ(stored.sha256(), core::Sha256Hex(text));
  MustUpload("pts", v1::POINTS_F64, Doubles({0, 0, 1, 1, 2, 2}), 2);

  std::vector<v1::Dataset> listed = ListDatasets();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name(), "corpus");
  EXPECT_EQ(listed[1].name(), "pts");
  EXPECT_EQ(listed[1].rows(), 3u);
  EXPECT_EQ(listed[1].dims(), 2u);

  ASSERT_TRUE(DeleteDataset("corpus").ok());
  listed = ListDatasets();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name(), "pts");
  EXPECT_EQ(DeleteDataset("corpus").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DeleteDataset("never").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DatasetsTest, DatasetsSurviveARestart) {
  MustUpload("corpus", v1::TEXT, "alpha beta\nbeta\n");
  StartWith(DefaultOptions());
  std::vector<v1::Dataset> listed = ListDatasets();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name(), "corpus");
  v1::Job job = RunJob(WordCount("corpus"));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
  EXPECT_EQ(job.result().wordcount().total_words(), 3u);
}

TEST_F(DatasetsTest, ManyChunksAndAnEmptyDataset) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "word" + std::to_string(i % 7) + "\n";
  v1::Dataset stored;
  ASSERT_TRUE(Upload("big", v1::TEXT, text, &stored, 0, 1000).ok());
  EXPECT_EQ(stored.sha256(), core::Sha256Hex(text));
  v1::Dataset empty = MustUpload("empty", v1::TEXT, "");
  EXPECT_EQ(empty.size_bytes(), 0u);
  EXPECT_EQ(empty.sha256(), core::Sha256Hex(""));
}

TEST_F(DatasetsTest, AnInterruptedUploadLeavesNothing) {
  {
    grpc::ClientContext context;
    v1::Dataset answer;
    auto writer = stub_->UploadDataset(&context, &answer);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name("half");
    header.mutable_header()->set_format(v1::TEXT);
    ASSERT_TRUE(writer->Write(header));
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk(std::string(100'000, 'a'));
    ASSERT_TRUE(writer->Write(chunk));
    // Give the server time to write the chunk into its temp file.
    for (int i = 0; i < 500 && FilesIn(TempUploads()) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    context.TryCancel();
    EXPECT_FALSE(writer->Finish().ok());
  }
  for (int i = 0; i < 1000 && FilesIn(TempUploads()) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(FilesIn(TempUploads()), 0u);
  EXPECT_TRUE(ListDatasets().empty());

  // A stream that ends without `last` stores nothing either.
  {
    grpc::ClientContext context;
    v1::Dataset answer;
    auto writer = stub_->UploadDataset(&context, &answer);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name("unfinished");
    header.mutable_header()->set_format(v1::TEXT);
    writer->Write(header);
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk("some text\n");
    writer->Write(chunk);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(HasField(status, "last")) << status.error_message();
  }
  EXPECT_TRUE(ListDatasets().empty());
  EXPECT_EQ(FilesIn(TempUploads()), 0u);
  EXPECT_EQ(FilesIn(fs::path(dir_) / "datasets" / "blobs"), 0u);
}

TEST_F(DatasetsTest, AChunkOverOneMebibyteIsRefused) {
  grpc::Status status = Upload("big", v1::TEXT, std::string((1 << 20) + 1, 'x'),
                               nullptr, 0, (1 << 20) + 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(HasField(status, "chunk")) << status.error_message();
  // Exactly 1 MiB is fine.
  EXPECT_TRUE(
      Upload("ok", v1::TEXT, std::string(1 << 20, 'x'), nullptr, 0, 1 << 20)
          .ok());
  EXPECT_EQ(ListDatasets().size(), 1u);
}

TEST_F(DatasetsTest, TheSizeLimitIsEnforced) {
  ServerOptions options = DefaultOptions();
  options.manager.max_dataset_bytes = 1000;
  StartWith(options);
  grpc::Status status = Upload("big", v1::TEXT, std::string(1001, 'x'));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("max_dataset_bytes"),
            std::string::npos);
  EXPECT_TRUE(Upload("fits", v1::TEXT, std::string(1000, 'x')).ok());
}

TEST_F(DatasetsTest, BadNamesAreRefused) {
  for (const std::string& name :
       {std::string(""), std::string(".."), std::string("../x"),
        std::string("/etc/passwd"), std::string("a/b"), std::string("a b"),
        std::string(129, 'n')}) {
    grpc::Status status = Upload(name, v1::TEXT, "x\n");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_TRUE(HasField(status, "header.name")) << status.error_message();
  }
  EXPECT_EQ(DeleteDataset("../x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(ListDatasets().empty());
}

TEST_F(DatasetsTest, ContentIsValidatedOnUpload) {
  grpc::Status status =
      Upload("p", v1::POINTS_F64, Doubles({1, 2, 3}), nullptr, 2);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("multiple"), std::string::npos)
      << status.error_message();
  status = Upload("p", v1::POINTS_F64, Doubles({1, 2}), nullptr, 0);
  EXPECT_TRUE(HasField(status, "header.dims")) << status.error_message();
  status = Upload("c", v1::CSV, "\n\n");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("header"), std::string::npos);
  status = Upload("q", v1::POINTS_CSV, "x,y\n1,2\n3,four\n");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("row 3, column 'y'"), std::string::npos)
      << status.error_message();
  status = Upload("f", static_cast<v1::DatasetFormat>(0), "x");
  EXPECT_TRUE(HasField(status, "header.format")) << status.error_message();
  EXPECT_TRUE(ListDatasets().empty());
  EXPECT_EQ(FilesIn(TempUploads()), 0u);
}

TEST_F(DatasetsTest, NamesAreImmutable) {
  MustUpload("a", v1::TEXT, "one\n");
  EXPECT_TRUE(Upload("a", v1::TEXT, "one\n").ok());  // same content: no-op
  grpc::Status status = Upload("a", v1::TEXT, "two\n");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(DatasetsTest, ADatasetInUseCannotBeDeleted) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.cpu_threads = 1;
  options.manager.scheduler.max_running = 1;
  StartWith(options);
  MustUpload("corpus", v1::TEXT, "a b c\n");
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  v1::Job queued = MustSubmit(WordCount("corpus"));
  ASSERT_EQ(queued.state(), v1::QUEUED);
  grpc::Status status = DeleteDataset("corpus");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find(queued.id()), std::string::npos)
      << status.error_message();
  EXPECT_EQ(ListDatasets().size(), 1u);
  ASSERT_TRUE(Cancel(queued.id()).ok());
  EXPECT_TRUE(DeleteDataset("corpus").ok());
  ASSERT_TRUE(Cancel(blocker.id()).ok());
}

TEST_F(DatasetsTest, JobsOnAMissingDatasetAreNotFound) {
  std::vector<std::pair<v1::JobSpec, std::string>> cases;
  {
    v1::JobSpec spec;
    spec.mutable_distance_matrix()->set_dataset("nope");
    cases.push_back({spec, "spec.distance_matrix.dataset"});
  }
  {
    v1::JobSpec spec;
    spec.mutable_knn()->set_dataset("nope");
    spec.mutable_knn()->set_k(1);
    cases.push_back({spec, "spec.knn.dataset"});
  }
  cases.push_back({WordCount("nope"), "spec.wordcount.dataset"});
  {
    v1::JobSpec spec;
    spec.mutable_index()->set_dataset("nope");
    spec.mutable_index()->set_index_name("i");
    cases.push_back({spec, "spec.index.dataset"});
  }
  {
    v1::JobSpec spec;
    spec.mutable_table()->set_dataset("nope");
    cases.push_back({spec, "spec.table.dataset"});
  }
  for (const auto& [spec, field] : cases) {
    v1::Job job;
    grpc::Status status = Submit(spec, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << field;
    EXPECT_TRUE(HasField(status, field)) << status.error_message();
  }
  v1::Job job;
  grpc::Status status = Submit(WordCount("../etc"), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(HasField(status, "spec.wordcount.dataset"));
}

// ------------------------------------------------------- distance matrix

TEST_F(DatasetsTest, DistanceMatrixMatchesTheReference) {
  const std::vector<double> points = RandomPoints(50, 3, 1);
  MustUpload("pts", v1::POINTS_F64, Doubles(points), 3);
  v1::JobSpec spec;
  spec.mutable_distance_matrix()->set_dataset("pts");
  v1::Job job = RunJob(spec);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
  const v1::DistanceMatrixResult& m = job.result().distance_matrix();
  ASSERT_EQ(m.n(), 50u);
  ASSERT_EQ(m.values_size(), 2500);
  for (std::size_t i = 0; i < 50; ++i) {
    for (std::size_t j = 0; j < 50; ++j) {
      EXPECT_NEAR(m.values(i * 50 + j),
                  Distance(&points[i * 3], &points[j * 3], 3), 1e-12);
    }
  }
  // The same points as CSV give the same matrix.
  std::string csv = "x,y,z\n";
  for (std::size_t i = 0; i < 50; ++i) {
    char line[128];
    std::snprintf(line, sizeof line, "%.17g,%.17g,%.17g\n", points[i * 3],
                  points[i * 3 + 1], points[i * 3 + 2]);
    csv += line;
  }
  MustUpload("pts_csv", v1::POINTS_CSV, csv);
  spec.mutable_distance_matrix()->set_dataset("pts_csv");
  v1::Job from_csv = RunJob(spec);
  ASSERT_EQ(from_csv.state(), v1::SUCCEEDED) << from_csv.error().message();
  for (int i = 0; i < 2500; ++i) {
    EXPECT_EQ(from_csv.result().distance_matrix().values(i), m.values(i));
  }
}

TEST_F(DatasetsTest, ALargeDistanceMatrixStreamsInRowBlocks) {
  const std::size_t n = 600;
  const std::vector<double> points = RandomPoints(n, 2, 2);
  MustUpload("pts", v1::POINTS_F64, Doubles(points), 2);
  v1::JobSpec spec;
  spec.mutable_distance_matrix()->set_dataset("pts");
  v1::Job job = MustSubmit(spec);
  std::vector<v1::JobEvent> events = WatchAll(job.id(), 0);
  bool progress = false;
  for (const v1::JobEvent& e : events) {
    progress |= e.type() == v1::PROGRESS && e.counters().contains("rows");
  }
  EXPECT_TRUE(progress);
  v1::Job done;
  ASSERT_TRUE(Get(job.id(), &done).ok());
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error().message();
  EXPECT_FALSE(done.has_result());  // too large to inline
  EXPECT_GT(done.result_bytes(), n * n * sizeof(double));

  int chunks = 0;
  v1::JobResult result = FetchResult(job.id(), &chunks);
  EXPECT_GE(chunks, 3);
  const v1::DistanceMatrixResult& m = result.distance_matrix();
  ASSERT_EQ(m.n(), n);
  EXPECT_TRUE(m.storage_key().empty());
  ASSERT_EQ(m.values_size(), static_cast<int>(n * n));
  for (std::size_t i = 0; i < n; i += 7) {
    for (std::size_t j = 0; j < n; ++j) {
      ASSERT_NEAR(m.values(i * n + j),
                  Distance(&points[i * 2], &points[j * 2], 2), 1e-12)
          << i << "," << j;
    }
  }
}

TEST_F(DatasetsTest, AMissingResultFileIsUnavailableAndNamesNoPath) {
  // A matrix too large to inline is kept in a file by the server that ran
  // the job; in cluster mode another replica lacks it. Here the file is
  // removed: GetResult says so (UNAVAILABLE, retryable) without a path.
  MustUpload("pts", v1::POINTS_F64, Doubles(RandomPoints(600, 2, 2)), 2);
  v1::JobSpec spec;
  spec.mutable_distance_matrix()->set_dataset("pts");
  v1::Job done = RunJob(spec);
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error().message();
  std::size_t removed = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(dir_ + "/results")) {
    removed += std::filesystem::remove(entry.path()) ? 1 : 0;
  }
  ASSERT_GE(removed, 1u);
  grpc::ClientContext context;
  v1::GetResultRequest request;
  request.set_id(done.id());
  auto reader = stub_->GetResult(&context, request);
  v1::ResultChunk chunk;
  while (reader->Read(&chunk)) {
  }
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_NE(status.error_message().find("not on this server"),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(status.error_message().find(dir_), std::string::npos)
      << status.error_message();
  // The server goes on serving.
  v1::Job again;
  EXPECT_TRUE(Get(done.id(), &again).ok());
}

TEST_F(DatasetsTest, DistanceMatrixLimitsAndBadInput) {
  ServerOptions options = DefaultOptions();
  options.manager.limits.max_distance_matrix_points = 10;
  StartWith(options);
  MustUpload("pts", v1::POINTS_F64, Doubles(RandomPoints(11, 2, 3)), 2);
  MustUpload("text", v1::TEXT, "hello\n");
  MustUpload("none", v1::POINTS_F64, "", 2);
  v1::JobSpec spec;
  v1::Job job;
  for (const char* dataset : {"pts", "text", "none"}) {
    spec.mutable_distance_matrix()->set_dataset(dataset);
    grpc::Status status = Submit(spec, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << dataset;
    EXPECT_TRUE(HasField(status, "spec.distance_matrix.dataset"))
        << status.error_message();
  }
}

// ------------------------------------------------------------------ knn

// Brute force: (distance, index) ascending.
std::vector<std::uint32_t> BruteKnn(const std::vector<double>& points,
                                    const double* query, std::size_t dims,
                                    std::size_t k,
                                    std::optional<std::size_t> exclude) {
  std::vector<std::pair<double, std::uint32_t>> all;
  for (std::size_t j = 0; j < points.size() / dims; ++j) {
    if (exclude && *exclude == j) continue;
    double sq = 0;
    for (std::size_t d = 0; d < dims; ++d) {
      const double diff = points[j * dims + d] - query[d];
      sq += diff * diff;
    }
    all.push_back({sq, static_cast<std::uint32_t>(j)});
  }
  std::sort(all.begin(), all.end());
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < k; ++i) out.push_back(all[i].second);
  return out;
}

TEST_F(DatasetsTest, KnnMatchesBruteForce) {
  std::vector<double> points = RandomPoints(400, 2, 4);
  // Duplicates make ties: broken by the lower index.
  for (int i = 0; i < 20; ++i) {
    points[(100 + i) * 2] = points[i * 2];
    points[(100 + i) * 2 + 1] = points[i * 2 + 1];
  }
  MustUpload("pts", v1::POINTS_F64, Doubles(points), 2);
  const std::size_t k = 6;
  v1::JobSpec spec;
  spec.mutable_knn()->set_dataset("pts");
  spec.mutable_knn()->set_k(k);
  v1::Job job = RunJob(spec);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
  v1::JobResult result = FetchResult(job.id());
  const v1::KnnResult& knn = result.knn();
  ASSERT_EQ(knn.k(), k);
  ASSERT_EQ(knn.num_queries(), 400u);
  ASSERT_EQ(knn.indices_size(), static_cast<int>(400 * k));
  for (std::size_t q = 0; q < 400; ++q) {
    std::vector<std::uint32_t> want = BruteKnn(points, &points[q * 2], 2, k, q);
    for (std::size_t j = 0; j < k; ++j) {
      ASSERT_EQ(knn.indices(q * k + j), want[j]) << "query " << q;
      EXPECT_NEAR(knn.distances(q * k + j),
                  Distance(&points[q * 2], &points[want[j] * 2], 2), 1e-12);
    }
  }

  // Query points from a second dataset.
  const std::vector<double> queries = RandomPoints(30, 2, 5);
  MustUpload("queries", v1::POINTS_F64, Doubles(queries), 2);
  spec.mutable_knn()->set_query_dataset("queries");
  job = RunJob(spec);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
  ASSERT_EQ(job.result().knn().num_queries(), 30u);
  for (std::size_t q = 0; q < 30; ++q) {
    std::vector<std::uint32_t> want =
        BruteKnn(points, &queries[q * 2], 2, k, std::nullopt);
    for (std::size_t j = 0; j < k; ++j) {
      ASSERT_EQ(job.result().knn().indices(q * k + j), want[j]);
    }
  }
}

TEST_F(DatasetsTest, KnnBadInput) {
  MustUpload("pts", v1::POINTS_F64, Doubles(RandomPoints(5, 2, 6)), 2);
  MustUpload("pts3", v1::POINTS_F64, Doubles(RandomPoints(5, 3, 6)), 3);
  MustUpload("text", v1::TEXT, "x\n");
  v1::Job job;
  v1::JobSpec spec;
  spec.mutable_knn()->set_dataset("pts");
  spec.mutable_knn()->set_k(5);  // only 4 other points
  grpc::Status status = Submit(spec, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(HasField(status, "spec.knn.k")) << status.error_message();
  spec.mutable_knn()->set_include_self(true);  // now 5 fit
  EXPECT_EQ(RunJob(spec).state(), v1::SUCCEEDED);
  spec.mutable_knn()->set_k(0);
  EXPECT_TRUE(HasField(Submit(spec, &job), "spec.knn.k"));
  spec.mutable_knn()->set_include_self(false);
  spec.mutable_knn()->set_k(2);
  spec.mutable_knn()->set_dataset("text");
  EXPECT_TRUE(HasField(Submit(spec, &job), "spec.knn.dataset"));
  spec.mutable_knn()->set_dataset("pts");
  spec.mutable_knn()->set_query_dataset("pts3");
  status = Submit(spec, &job);
  EXPECT_TRUE(HasField(status, "spec.knn.query_dataset"))
      << status.error_message();
}

TEST_F(DatasetsTest, ALongKnnJobCancels) {
#if defined(IMPULSE_TSAN)
  // Instrumented, the tree build alone (not interruptible) of a million
  // points can take most of the 10 s below on a loaded machine.
  constexpr std::size_t kPoints = 200'000;
#else
  constexpr std::size_t kPoints = 1'000'000;
#endif
  MustUpload("million", v1::POINTS_F64, Doubles(RandomPoints(kPoints, 2, 7)),
             2);
  v1::JobSpec spec;
  spec.mutable_knn()->set_dataset("million");
  spec.mutable_knn()->set_k(64);
  v1::Job job = MustSubmit(spec);
  for (int i = 0; i < 2000; ++i) {
    v1::Job now;
    ASSERT_TRUE(Get(job.id(), &now).ok());
    if (now.state() != v1::QUEUED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Cancel(job.id()).ok());
  EXPECT_EQ(WaitDone(job.id()).state(), v1::CANCELLED);
  // The KD-tree build is not interruptible; the queries stop within a wave.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// ------------------------------------------------------------ wordcount

TEST_F(DatasetsTest, WordCountMatchesTheReference) {
  std::string text;
  std::mt19937 rng(8);
  const char* vocabulary[] = {"Apple", "banana", "cherry", "date", "elder",
                              "fig",   "grape",  "honey",  "ice",  "jam"};
  for (int line = 0; line < 2000; ++line) {
    for (int w = 0; w < 1 + static_cast<int>(rng() % 9); ++w) {
      text += vocabulary[rng() % (1 + rng() % 10)];
      text += (rng() % 5 == 0) ? ", " : " ";
    }
    text += "\n";
    if (line % 100 == 0) text += "\n";  // empty lines
  }
  MustUpload("corpus", v1::TEXT, text);
  std::map<std::string, std::uint64_t> counts;
  for (const std::string& word : Words(text)) ++counts[word];
  std::vector<std::pair<std::string, std::uint64_t>> ranked(counts.begin(),
                                                            counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });

  v1::Job job = RunJob(WordCount("corpus"));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
  const v1::WordCountResult& all = job.result().wordcount();
  EXPECT_EQ(all.total_words(), Words(text).size());
  EXPECT_EQ(all.distinct_words(), counts.size());
  ASSERT_EQ(all.words_size(), static_cast<int>(ranked.size()));
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    EXPECT_EQ(all.words(i).word(), ranked[i].first);
    EXPECT_EQ(all.words(i).count(), ranked[i].second);
  }

  v1::Job top = RunJob(WordCount("corpus", 3));
  ASSERT_EQ(top.result().wordcount().words_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(top.result().wordcount().words(i).word(), ranked[i].first);
  }
}

TEST_F(DatasetsTest, WordCountBadInput) {
  MustUpload("empty", v1::TEXT, "");
  MustUpload("csv", v1::CSV, "a,b\n1,2\n");
  v1::Job job;
  grpc::Status status = Submit(WordCount("empty"), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(HasField(status, "spec.wordcount.dataset"));
  EXPECT_NE(status.error_message().find("empty"), std::string::npos);
  status = Submit(WordCount("csv"), &job);
  EXPECT_TRUE(HasField(status, "spec.wordcount.dataset"));
  EXPECT_NE(status.error_message().find("TEXT"), std::string::npos);
}

// --------------------------------------------------------- index + query

TEST_F(DatasetsTest, IndexQueryAndComplete) {
  const std::string text =
      "apple banana apple\n"
      "banana cherry\n"
      "\n"
      "apple cherry durian\n"
      "Apricot apple APPLE\n"
      "banana\n";
  MustUpload("docs", v1::TEXT, text);
  v1::JobSpec spec;
  spec.mutable_index()->set_dataset("docs");
  spec.mutable_index()->set_index_name("fruit");
  v1::Job job = RunJob(spec);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
  EXPECT_EQ(job.result().index().documents(), 6u);
  EXPECT_EQ(job.result().index().index_name(), "fruit");

  // Reference: term frequencies per document.
  std::vector<std::map<std::string, std::uint64_t>> tf;
  std::map<std::string, std::uint64_t> total;
  for (const std::string& line : Lines(text)) {
    auto& doc = tf.emplace_back();
    for (const std::string& w : Words(line)) {
      ++doc[w];
      ++total[w];
    }
  }
  auto query = [&](const std::string& q, std::uint32_t offset = 0,
                   std::uint32_t limit = 0, grpc::Status* status = nullptr) {
    grpc::ClientContext context;
    v1::QueryRequest request;
    request.set_index_name("fruit");
    request.set_query(q);
    request.set_offset(offset);
    request.set_limit(limit);
    v1::QueryResponse response;
    grpc::Status s = stub_->Query(&context, request, &response);
    if (status != nullptr) *status = s;
    return response;
  };
  // apple AND banana: docs 0 (apple 2 + banana 1).
  v1::QueryResponse r = query("apple AND banana");
  ASSERT_EQ(r.total_matches(), 1u);
  EXPECT_EQ(r.hits(0).doc(), 0u);
  EXPECT_EQ(r.hits(0).score(), tf[0]["apple"] + tf[0]["banana"]);
  // apple OR banana, ranked by score then doc.
  r = query("apple OR banana");
  std::vector<std::pair<std::uint64_t, std::uint32_t>> want;
  for (std::uint32_t d = 0; d < tf.size(); ++d) {
    if (!tf[d].contains("apple") && !tf[d].contains("banana")) continue;
    want.push_back({tf[d]["apple"] + tf[d]["banana"], d});
  }
  std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  ASSERT_EQ(r.total_matches(), want.size());
  ASSERT_EQ(r.hits_size(), static_cast<int>(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.hits(i).doc(), want[i].second);
    EXPECT_EQ(r.hits(i).score(), want[i].first);
  }
  // Paging.
  r = query("apple OR banana", 1, 2);
  ASSERT_EQ(r.hits_size(), 2);
  EXPECT_EQ(r.hits(0).doc(), want[1].second);
  // NOT.
  r = query("apple AND NOT cherry");
  ASSERT_EQ(r.total_matches(), 2u);
  // Errors.
  grpc::Status status;
  query("apple AND", 0, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(HasField(status, "query")) << status.error_message();

  // Completion: by frequency, then alphabetically.
  grpc::ClientContext context;
  v1::CompleteRequest complete;
  complete.set_index_name("fruit");
  complete.set_prefix("Ap");
  complete.set_n(5);
  v1::CompleteResponse completions;
  ASSERT_TRUE(stub_->Complete(&context, complete, &completions).ok());
  ASSERT_EQ(completions.completions_size(), 2);
  EXPECT_EQ(completions.completions(0).word(), "apple");
  EXPECT_EQ(completions.completions(0).count(), total["apple"]);
  EXPECT_EQ(completions.completions(1).word(), "apricot");

  grpc::ClientContext missing_context;
  complete.set_index_name("nope");
  EXPECT_EQ(
      stub_->Complete(&missing_context, complete, &completions).error_code(),
      grpc::StatusCode::NOT_FOUND);
  spec.mutable_index()->set_index_name("bad/name");
  v1::Job refused;
  EXPECT_TRUE(HasField(Submit(spec, &refused), "spec.index.index_name"));
}

TEST_F(DatasetsTest, QueriesOnA100kDocumentIndexAreFast) {
  std::mt19937 rng(10);
  std::string text;
  for (int d = 0; d < 100'000; ++d) {
    for (int w = 0; w < 8; ++w) {
      text += "w" + std::string(1, static_cast<char>('a' + rng() % 26)) +
              std::string(1, static_cast<char>('a' + rng() % 26)) + " ";
    }
    text += "\n";
  }
  MustUpload("docs", v1::TEXT, text);
  v1::JobSpec spec;
  spec.mutable_index()->set_dataset("docs");
  spec.mutable_index()->set_index_name("big");
  ASSERT_EQ(RunJob(spec).state(), v1::SUCCEEDED);
  std::vector<double> micros;
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext context;
    v1::QueryRequest request;
    request.set_index_name("big");
    request.set_query(i % 2 == 0 ? "wab AND wcd" : "wxy OR wqr AND NOT wzz");
    v1::QueryResponse response;
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(stub_->Query(&context, request, &response).ok());
    micros.push_back(std::chrono::duration<double, std::micro>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  }
  std::sort(micros.begin(), micros.end());
  // Client round trip, an upper bound of the server's time.
  std::printf("Query round trip on 100k documents: p50 %.0f us, p99 %.0f us\n",
              micros[micros.size() / 2], micros[micros.size() * 99 / 100]);
  EXPECT_LT(micros[micros.size() / 2], 5000);
}

// ---------------------------------------------------------------- table

const char* kPatients =
    "patient_id,name,drug\n"
    "1,Alice,A\n"
    "2,Bob,B\n"
    "3,Carol,A\n"
    "4,Dave,B\n"
    "5,Eve,C\n";

const char* kPressure =
    "patient_id,sys,dia\n"
    "1,120,80\n"
    "1,130,85\n"
    "2,140,90\n"
    "3,110,70\n"
    "4,150,95\n"
    "4,160,100\n"
    "6,125,82\n";

v1::JobSpec PatientsByDrug(v1::JoinType type) {
  v1::JobSpec spec;
  v1::TableSpec* table = spec.mutable_table();
  table->set_dataset("patients");
  table->mutable_join()->set_dataset("pressure");
  table->mutable_join()->set_left_key("patient_id");
  table->mutable_join()->set_type(type);
  table->add_group_by("drug");
  auto add = [&](const std::string& op, const std::string& column) {
    v1::TableAggregate* a = table->add_aggregates();
    a->set_op(op);
    a->set_column(column);
  };
  add("mean", "sys");
  add("max", "dia");
  add("count", "");
  add("count", "sys");
  return spec;
}

TEST_F(DatasetsTest, TableJoinGroupByMatchesTheReference) {
  MustUpload("patients", v1::CSV, kPatients);
  MustUpload("pressure", v1::CSV, kPressure);

  // Reference: join by hand, then group by drug.
  struct Acc {
    double sum_sys = 0;
    std::int64_t max_dia = 0;
    std::uint64_t rows = 0, n = 0;
  };
  const std::map<int, std::string> drug = {
      {1, "A"}, {2, "B"}, {3, "A"}, {4, "B"}, {5, "C"}};
  const std::vector<std::array<int, 3>> bp = {
      {1, 120, 80}, {1, 130, 85},  {2, 140, 90}, {3, 110, 70},
      {4, 150, 95}, {4, 160, 100}, {6, 125, 82}};
  std::map<std::string, Acc> inner, left;
  for (const auto& [id, d] : drug) {
    bool matched = false;
    for (const auto& row : bp) {
      if (row[0] != id) continue;
      matched = true;
      for (auto* acc : {&inner[d], &left[d]}) {
        acc->sum_sys += row[1];
        acc->max_dia = std::max<std::int64_t>(acc->max_dia, row[2]);
        ++acc->rows;
        ++acc->n;
      }
    }
    if (!matched) ++left[d].rows;
  }

  for (v1::JoinType type : {v1::JOIN_TYPE_INNER, v1::JOIN_TYPE_LEFT}) {
    const auto& want = type == v1::JOIN_TYPE_INNER ? inner : left;
    v1::Job job = RunJob(PatientsByDrug(type));
    ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error().message();
    const v1::TableResult& t = job.result().table();
    ASSERT_EQ(t.columns_size(), 5);
    EXPECT_EQ(t.columns(0).name(), "drug");
    EXPECT_EQ(t.columns(1).name(), "mean_sys");
    EXPECT_EQ(t.columns(1).type(), "double");
    EXPECT_EQ(t.columns(3).name(), "count");
    ASSERT_EQ(t.num_rows(), want.size()) << v1::JoinType_Name(type);
    int r = 0;
    for (const auto& [d, acc] : want) {
      const v1::TableRow& row = t.rows(r++);
      EXPECT_EQ(row.values(0).string_value(), d);
      if (acc.n == 0) {
        EXPECT_EQ(row.values(1).value_case(), v1::TableValue::VALUE_NOT_SET);
        EXPECT_EQ(row.values(2).value_case(), v1::TableValue::VALUE_NOT_SET);
      } else {
        EXPECT_DOUBLE_EQ(row.values(1).double_value(), acc.sum_sys / acc.n);
        EXPECT_EQ(row.values(2).int_value(), acc.max_dia);
      }
      EXPECT_EQ(row.values(3).int_value(), static_cast<std::int64_t>(acc.rows));
      EXPECT_EQ(row.values(4).int_value(), static_cast<std::int64_t>(acc.n));
    }
  }

  // A filter without aggregates returns the matching rows.
  v1::JobSpec spec;
  spec.mutable_table()->set_dataset("pressure");
  v1::TableFilter* f = spec.mutable_table()->add_filters();
  f->set_column("sys");
  f->set_op(">=");
  f->set_value("140");
  v1::Job filtered = RunJob(spec);
  ASSERT_EQ(filtered.state(), v1::SUCCEEDED) << filtered.error().message();
  ASSERT_EQ(filtered.result().table().num_rows(), 3u);
  EXPECT_EQ(filtered.result().table().rows(0).values(1).int_value(), 140);
}

TEST_F(DatasetsTest, TableBadInput) {
  MustUpload("patients", v1::CSV, kPatients);
  MustUpload("pressure", v1::CSV, kPressure);
  MustUpload("ragged", v1::CSV, "patient_id,sys,dia\n1,120,80\n2,130\n");
  MustUpload("words", v1::CSV, "patient_id,sys,dia\n1,120,80\n2,high,85\n");
  MustUpload("header_only", v1::CSV, "patient_id,sys,dia\n");
  MustUpload("quoted", v1::CSV, "patient_id,sys,dia\n1,\"12,80\n");

  // A missing column is refused on Submit, naming the field.
  v1::JobSpec spec = PatientsByDrug(v1::JOIN_TYPE_INNER);
  spec.mutable_table()->set_group_by(0, "ward");
  v1::Job job;
  grpc::Status status = Submit(spec, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(HasField(status, "spec.table.group_by[0]"))
      << status.error_message();
  EXPECT_NE(status.error_message().find("ward"), std::string::npos);

  spec = PatientsByDrug(v1::JOIN_TYPE_INNER);
  spec.mutable_table()->mutable_aggregates(0)->set_op("median");
  EXPECT_TRUE(HasField(Submit(spec, &job), "spec.table.aggregates[0].op"));
  spec = PatientsByDrug(v1::JOIN_TYPE_INNER);
  spec.mutable_table()->mutable_join()->set_left_key("nope");
  EXPECT_TRUE(HasField(Submit(spec, &job), "spec.table.join.left_key"));
  spec = PatientsByDrug(v1::JOIN_TYPE_INNER);
  spec.mutable_table()->set_dataset("header_only");
  status = Submit(spec, &job);
  EXPECT_TRUE(HasField(status, "spec.table.dataset")) << status.error_message();
  EXPECT_NE(status.error_message().find("no rows"), std::string::npos);

  // Content errors fail the job, naming the row and column.
  auto fails_with = [&](const std::string& right, const std::string& text) {
    v1::JobSpec s = PatientsByDrug(v1::JOIN_TYPE_INNER);
    s.mutable_table()->mutable_join()->set_dataset(right);
    v1::Job done = RunJob(s);
    EXPECT_EQ(done.state(), v1::FAILED) << right;
    EXPECT_NE(done.error().message().find(text), std::string::npos)
        << right << ": " << done.error().message();
    EXPECT_NE(done.error().message().find("spec.table.join.dataset"),
              std::string::npos)
        << done.error().message();
  };
  fails_with("ragged", "row 3");
  fails_with("words", "row 3, column 'sys': not a number: 'high'");
  fails_with("quoted", "unterminated quoted field");

  // The server keeps serving.
  EXPECT_EQ(RunJob(PatientsByDrug(v1::JOIN_TYPE_LEFT)).state(), v1::SUCCEEDED);
}

// ---------------------------------------------------------- result cache

TEST_F(DatasetsTest, IdenticalJobsAreAnsweredFromTheCache) {
  MustUpload("corpus", v1::TEXT, "one two two three three three\n");
  v1::Job first = RunJob(WordCount("corpus"));
  ASSERT_EQ(first.state(), v1::SUCCEEDED);
  EXPECT_FALSE(first.cached());

  // Same kind, spec and data; device, priority and labels do not matter.
  v1::JobSpec again = WordCount("corpus");
  again.set_device(v1::CPU);
  again.set_priority(3);
  (*again.mutable_labels())["team"] = "blue";
  v1::Job cached = MustSubmit(again);
  EXPECT_EQ(cached.state(), v1::SUCCEEDED);  // at once, from Submit
  EXPECT_TRUE(cached.cached());
  EXPECT_EQ(cached.cached_from(), first.id());
  EXPECT_NE(cached.id(), first.id());
  EXPECT_EQ(cached.result().SerializeAsString(),
            first.result().SerializeAsString());
  std::vector<v1::JobEvent> events = WatchAll(cached.id(), 0);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::SUCCEEDED);
  EXPECT_NE(events.back().message().find("cache"), std::string::npos);

  // no_cache runs it again; another top_k is another job.
  v1::JobSpec fresh = WordCount("corpus");
  fresh.set_no_cache(true);
  v1::Job ran = RunJob(fresh);
  EXPECT_FALSE(ran.cached());
  EXPECT_EQ(ran.result().SerializeAsString(),
            first.result().SerializeAsString());
  EXPECT_FALSE(RunJob(WordCount("corpus", 1)).cached());

  // New content under the same name is a different job.
  ASSERT_TRUE(DeleteDataset("corpus").ok());
  MustUpload("corpus", v1::TEXT, "four\n");
  v1::Job changed = RunJob(WordCount("corpus"));
  EXPECT_FALSE(changed.cached());
  EXPECT_EQ(changed.result().wordcount().total_words(), 1u);

  // The cached large matrix streams like the original.
  MustUpload("pts", v1::POINTS_F64, Doubles(RandomPoints(400, 2, 9)), 2);
  v1::JobSpec matrix;
  matrix.mutable_distance_matrix()->set_dataset("pts");
  v1::Job m1 = RunJob(matrix);
  ASSERT_EQ(m1.state(), v1::SUCCEEDED) << m1.error().message();
  v1::Job m2 = MustSubmit(matrix);
  EXPECT_TRUE(m2.cached());
  EXPECT_EQ(FetchResult(m2.id()).SerializeAsString(),
            FetchResult(m1.id()).SerializeAsString());
}

TEST_F(DatasetsTest, TheCacheCanBeTurnedOff) {
  ServerOptions options = DefaultOptions();
  options.manager.result_cache_bytes = 0;
  StartWith(options);
  MustUpload("corpus", v1::TEXT, "one two\n");
  EXPECT_FALSE(RunJob(WordCount("corpus")).cached());
  EXPECT_FALSE(RunJob(WordCount("corpus")).cached());
}

}  // namespace
}  // namespace impulse::testing
