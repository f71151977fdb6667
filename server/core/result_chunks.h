// Splitting a stored result into GetResult chunks of about `chunk_bytes`
// each, one at a time, so a large result (a distance matrix kept in a file,
// a long k-NN or table result) is never copied whole. Each kind splits along
// its natural unit: particles, matrix rows, k-NN queries, words, table rows.
// The client concatenates the repeated fields of the chunks in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"

namespace impulse::core {

class ResultChunkStream {
 public:
  virtual ~ResultChunkStream() = default;
  // Fills the next chunk (index and last set); false when all were given.
  virtual Result<bool> Next(v1::ResultChunk* chunk) = 0;
};

// `result_dir` holds the files of results too large for memory (the
// distance matrix's storage_key).
std::unique_ptr<ResultChunkStream> StreamResultChunks(
    std::shared_ptr<const v1::JobResult> result, std::size_t chunk_bytes,
    const std::string& result_dir);

// The encoded size of the whole result, counting rows kept in a file.
std::uint64_t FullResultBytes(const v1::JobResult& result);

}  // namespace impulse::core
