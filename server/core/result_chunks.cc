#include "server/core/result_chunks.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>

namespace impulse::core {
namespace {

// A result cut into `count` pieces; piece(i, out) fills piece i.
class PieceStream final : public ResultChunkStream {
 public:
  using PieceFn = std::function<Status(std::size_t, v1::JobResult*)>;
  PieceStream(std::size_t count, PieceFn piece)
      : count_(std::max<std::size_t>(count, 1)), piece_(std::move(piece)) {}

  Result<bool> Next(v1::ResultChunk* chunk) override {
    if (next_ >= count_) return false;
    chunk->Clear();
    if (Status status = piece_(next_, chunk->mutable_result()); !status.ok()) {
      return status.error();
    }
    chunk->set_index(static_cast<std::uint32_t>(next_));
    chunk->set_last(next_ + 1 == count_);
    ++next_;
    return true;
  }

 private:
  const std::size_t count_;
  const PieceFn piece_;
  std::size_t next_ = 0;
};

std::size_t CeilDiv(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Items per chunk from the average encoded size of one item.
std::size_t PerChunk(std::size_t chunk_bytes, std::size_t total_bytes,
                     std::size_t items) {
  if (items == 0) return 1;
  const std::size_t per_item = std::max<std::size_t>(1, total_bytes / items);
  return std::max<std::size_t>(1, chunk_bytes / per_item);
}

// Rows of a matrix kept in a file of n x n doubles.
class MatrixFile {
 public:
  ~MatrixFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      // The client gets no server path; the log has it.
      const int err = errno;
      spdlog::warn("result file {} cannot be opened: {}", path,
                   std::strerror(err));
      if (err == ENOENT) {
        // In cluster mode the file is on the replica that ran the job, and
        // a retry through the balancer may reach it.
        return Error{ErrorCode::kUnavailable,
                     "the job's result is a file kept by the server that ran "
                     "the job, and it is not on this server (in cluster "
                     "mode: another replica; retry)",
                     ""};
      }
      return Error{ErrorCode::kInternal,
                   std::string("the job's stored result cannot be read (") +
                       std::strerror(err) + "); see the server log",
                   ""};
    }
    return {};
  }
  Status ReadRows(std::uint64_t n, std::uint64_t begin, std::uint64_t end,
                  v1::DistanceMatrixResult* out) const {
    const std::size_t count = (end - begin) * n;
    out->mutable_values()->Resize(static_cast<int>(count), 0.0);
    char* dst = reinterpret_cast<char*>(out->mutable_values()->mutable_data());
    std::size_t left = count * sizeof(double);
    off_t offset = static_cast<off_t>(begin * n * sizeof(double));
    while (left > 0) {
      const ssize_t got = ::pread(fd_, dst, left, offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        spdlog::warn("result file {} is truncated", path_);
        return Error{ErrorCode::kInternal,
                     "the job's stored result is truncated; see the server "
                     "log",
                     ""};
      }
      dst += got;
      left -= static_cast<std::size_t>(got);
      offset += got;
    }
    return {};
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::unique_ptr<ResultChunkStream> Whole(
    std::shared_ptr<const v1::JobResult> result) {
  return std::make_unique<PieceStream>(
      1, [result](std::size_t, v1::JobResult* out) -> Status {
        *out = *result;
        return {};
      });
}

}  // namespace

std::uint64_t FullResultBytes(const v1::JobResult& result) {
  std::uint64_t bytes = result.ByteSizeLong();
  if (result.has_distance_matrix() &&
      !result.distance_matrix().storage_key().empty()) {
    const std::uint64_t n = result.distance_matrix().n();
    bytes += n * n * sizeof(double) + 16;
  }
  return bytes;
}

std::unique_ptr<ResultChunkStream> StreamResultChunks(
    std::shared_ptr<const v1::JobResult> result, std::size_t chunk_bytes,
    const std::string& result_dir) {
  chunk_bytes = std::max<std::size_t>(chunk_bytes, 1024);
  const std::size_t total = result->ByteSizeLong();
  const bool file_backed = result->has_distance_matrix() &&
                           !result->distance_matrix().storage_key().empty();
  if (total <= chunk_bytes && !file_backed) return Whole(std::move(result));

  switch (result->kind_case()) {
    case v1::JobResult::kParticles: {
      const std::size_t n = result->particles().x_size();
      const std::size_t per = std::max<std::size_t>(1, chunk_bytes / 16);
      return std::make_unique<PieceStream>(
          CeilDiv(n, per),
          [result, per, n](std::size_t i, v1::JobResult* out) -> Status {
            const v1::ParticlesResult& all = result->particles();
            const std::size_t begin = i * per, end = std::min(n, begin + per);
            v1::ParticlesResult* part = out->mutable_particles();
            part->mutable_x()->Add(all.x().begin() + begin,
                                   all.x().begin() + end);
            part->mutable_y()->Add(all.y().begin() + begin,
                                   all.y().begin() + end);
            part->set_offset(begin);
            part->set_total_particles(all.total_particles());
            part->set_steps(all.steps());
            return {};
          });
    }
    case v1::JobResult::kDistanceMatrix: {
      const v1::DistanceMatrixResult& all = result->distance_matrix();
      const std::uint64_t n = all.n();
      const std::size_t per = std::max<std::size_t>(
          1, chunk_bytes / std::max<std::uint64_t>(1, n * sizeof(double)));
      std::shared_ptr<MatrixFile> file;
      if (file_backed) {
        file = std::make_shared<MatrixFile>();
        if (Status status = file->Open(
                (std::filesystem::path(result_dir) / all.storage_key())
                    .string());
            !status.ok()) {
          const Error error = status.error();
          return std::make_unique<PieceStream>(
              1,
              [error](std::size_t, v1::JobResult*) -> Status { return error; });
        }
      }
      return std::make_unique<PieceStream>(
          CeilDiv(n, per),
          [result, per, n, file](std::size_t i, v1::JobResult* out) -> Status {
            const v1::DistanceMatrixResult& all = result->distance_matrix();
            const std::uint64_t begin = i * per;
            const std::uint64_t end = std::min<std::uint64_t>(n, begin + per);
            v1::DistanceMatrixResult* part = out->mutable_distance_matrix();
            part->set_n(n);
            part->set_dims(all.dims());
            part->set_row_offset(begin);
            part->set_rows(end - begin);
            if (file != nullptr) return file->ReadRows(n, begin, end, part);
            part->mutable_values()->Add(all.values().begin() + begin * n,
                                        all.values().begin() + end * n);
            return {};
          });
    }
    case v1::JobResult::kKnn: {
      const v1::KnnResult& all = result->knn();
      const std::size_t k = std::max<std::uint32_t>(1, all.k());
      const std::size_t queries = all.indices_size() / k;
      const std::size_t per = std::max<std::size_t>(1, chunk_bytes / (13 * k));
      return std::make_unique<PieceStream>(
          CeilDiv(queries, per),
          [result, per, k, queries](std::size_t i,
                                    v1::JobResult* out) -> Status {
            const v1::KnnResult& all = result->knn();
            const std::size_t begin = i * per;
            const std::size_t end = std::min(queries, begin + per);
            v1::KnnResult* part = out->mutable_knn();
            part->set_k(all.k());
            part->set_num_queries(all.num_queries());
            part->set_query_offset(begin);
            part->set_queries(end - begin);
            part->mutable_indices()->Add(all.indices().begin() + begin * k,
                                         all.indices().begin() + end * k);
            part->mutable_distances()->Add(all.distances().begin() + begin * k,
                                           all.distances().begin() + end * k);
            return {};
          });
    }
    case v1::JobResult::kWordcount: {
      const std::size_t words = result->wordcount().words_size();
      const std::size_t per = PerChunk(chunk_bytes, total, words);
      return std::make_unique<PieceStream>(
          CeilDiv(words, per),
          [result, per, words](std::size_t i, v1::JobResult* out) -> Status {
            const v1::WordCountResult& all = result->wordcount();
            const std::size_t begin = i * per;
            const std::size_t end = std::min(words, begin + per);
            v1::WordCountResult* part = out->mutable_wordcount();
            part->set_total_words(all.total_words());
            part->set_distinct_words(all.distinct_words());
            for (std::size_t w = begin; w < end; ++w) {
              *part->add_words() = all.words(static_cast<int>(w));
            }
            return {};
          });
    }
    case v1::JobResult::kTable: {
      const std::size_t rows = result->table().rows_size();
      const std::size_t per = PerChunk(chunk_bytes, total, rows);
      return std::make_unique<PieceStream>(
          CeilDiv(rows, per),
          [result, per, rows](std::size_t i, v1::JobResult* out) -> Status {
            const v1::TableResult& all = result->table();
            const std::size_t begin = i * per;
            const std::size_t end = std::min(rows, begin + per);
            v1::TableResult* part = out->mutable_table();
            if (i == 0) *part->mutable_columns() = all.columns();
            part->set_num_rows(all.num_rows());
            part->set_row_offset(begin);
            for (std::size_t r = begin; r < end; ++r) {
              *part->add_rows() = all.rows(static_cast<int>(r));
            }
            return {};
          });
    }
    default:
      return Whole(std::move(result));
  }
}

}  // namespace impulse::core
