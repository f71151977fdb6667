// Named datasets under <data_dir>/datasets, content-addressed by SHA-256:
//
//   blobs/<sha256>    the content, immutable; shared by names with equal bytes
//   manifest.json     name -> digest, format and summary (ListDatasetsResponse
//                     in protobuf JSON), replaced atomically on every change
//   tmp/              uploads in progress; emptied on open
//
// An upload streams into a temp file while hashing; only a complete and valid
// upload is renamed into blobs/ and entered in the manifest, so an
// interrupted upload (or a crash at any point) leaves nothing behind. Names
// are immutable while they exist: the same content again is a no-op, other
// content under a taken name is kAlreadyExists (delete it first).
//
// The store knows nothing of jobs: the JobManager refuses deleting a dataset
// a queued or running job uses. Jobs read a dataset through a read-only
// mapping that stays valid even if the dataset is deleted meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"
#include "server/jobs/dataset_access.h"

namespace impulse::core {

struct DatasetStoreOptions {
  std::string dir;  // "" = no datasets (calls answer kFailedPrecondition)
  std::uint64_t max_dataset_bytes = std::uint64_t{2} << 30;
  std::size_t max_chunk_bytes = 1 << 20;
};

class DatasetStore {
 public:
  explicit DatasetStore(DatasetStoreOptions options);
  ~DatasetStore();

  // Loads the manifest (when the directory exists; it is created on the
  // first upload), removes what interrupted uploads left and blobs no name
  // refers to. Call once before use.
  Status Open();
  bool enabled() const { return !options_.dir.empty(); }
  const DatasetStoreOptions& options() const { return options_; }

  // One upload in progress. Destroying it without Commit removes its data.
  class Upload {
   public:
    ~Upload();
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;

    // Appends one chunk (at most max_chunk_bytes; field "chunk"); the total
    // may not pass max_dataset_bytes (field "data").
    Status Append(std::string_view chunk);
    // Checks the content against its format and the header's sha256, then
    // stores it under the name. Blocking (hashing, parsing, fsync).
    Result<v1::Dataset> Commit();
    std::uint64_t size() const { return size_; }
    const v1::DatasetHeader& header() const { return header_; }

   private:
    friend class DatasetStore;
    Upload(DatasetStore* store, v1::DatasetHeader header, std::string path,
           int fd, void* hash);
    void Abort();

    DatasetStore* store_;
    v1::DatasetHeader header_;
    std::string temp_path_;
    int fd_ = -1;
    void* hash_ = nullptr;  // EVP_MD_CTX
    std::uint64_t size_ = 0;
    bool failed_ = false;
  };

  // Checks the header (name, format, dims: fields "header.name", ...) and
  // opens a temp file.
  Result<std::unique_ptr<Upload>> BeginUpload(const v1::DatasetHeader& header);

  std::vector<v1::Dataset> List() const;
  // kNotFound naming `field` when there is no such dataset.
  Result<v1::Dataset> Find(std::string_view name,
                           const std::string& field = "name") const;
  // The content, mapped read-only.
  Result<std::shared_ptr<const jobs::DatasetContent>> Read(
      std::string_view name, const std::string& field = "name") const;
  // Removes the name (and the blob when no other name shares it); returns
  // what was deleted. The caller checks that no job uses it.
  Result<v1::Dataset> Delete(std::string_view name);

 private:
  std::string BlobPath(const std::string& sha256) const;
  Status WriteManifestLocked() const;
  Status EnsureDirs() const;
  Error Disabled() const;

  const DatasetStoreOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, v1::Dataset, std::less<>> datasets_;  // by name
};

// Lower-case hex SHA-256 of `bytes` (tests and tools).
std::string Sha256Hex(std::string_view bytes);

}  // namespace impulse::core
