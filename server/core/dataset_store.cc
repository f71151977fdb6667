#include "server/core/dataset_store.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "server/core/clock.h"
#include "server/jobs/dataset_formats.h"

namespace impulse::core {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "manifest.json";

Error IoError(const std::string& what, const std::string& path, int err) {
  return Error{ErrorCode::kInternal,
               what + " '" + path + "': " + std::strerror(err), ""};
}

std::string Hex(const unsigned char* digest, unsigned int length) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 0xF]);
  }
  return out;
}

bool IsHexDigest(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  const std::uint64_t v = rng();
  for (int i = 0; i < 16; ++i) buf[i] = "0123456789abcdef"[(v >> (4 * i)) & 15];
  buf[16] = '\0';
  return buf;
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot sync directory", dir, err);
  return {};
}

Status WriteAll(int fd, const char* data, std::size_t size,
                const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write", path, errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

// A read-only mapping of a whole file; owns it until destroyed.
struct Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size);
  }
};

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(),
             nullptr);
  return Hex(digest, length);
}

// ---------------------------------------------------------------- Upload

DatasetStore::Upload::Upload(DatasetStore* store, v1::DatasetHeader header,
                             std::string path, int fd, void* hash)
    : store_(store),
      header_(std::move(header)),
      temp_path_(std::move(path)),
      fd_(fd),
      hash_(hash) {}

DatasetStore::Upload::~Upload() { Abort(); }

void DatasetStore::Upload::Abort() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
  if (hash_ != nullptr) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(hash_));
    hash_ = nullptr;
  }
}

Status DatasetStore::Upload::Append(std::string_view chunk) {
  if (failed_ || fd_ < 0) {
    return Error{ErrorCode::kFailedPrecondition, "upload already failed",
                 "chunk"};
  }
  const DatasetStoreOptions& options = store_->options_;
  if (chunk.size() > options.max_chunk_bytes) {
    failed_ = true;
    return Error::InvalidArgument(
        "chunk", std::to_string(chunk.size()) + " bytes is over the limit of " +
                     std::to_string(options.max_chunk_bytes) +
                     " bytes per message; send smaller chunks");
  }
  if (size_ + chunk.size() > options.max_dataset_bytes) {
    failed_ = true;
    return Error::InvalidArgument(
        "data", "the dataset is larger than the limit of " +
                    std::to_string(options.max_dataset_bytes) +
                    " bytes (--max_dataset_bytes)");
  }
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(hash_), chunk.data(),
                       chunk.size()) != 1) {
    failed_ = true;
    return Error{ErrorCode::kInternal, "SHA-256 update failed", ""};
  }
  if (Status status = WriteAll(fd_, chunk.data(), chunk.size(), temp_path_);
      !status.ok()) {
    failed_ = true;
    return status;
  }
  size_ += chunk.size();
  return {};
}

Result<v1::Dataset> DatasetStore::Upload::Commit() {
  if (failed_ || fd_ < 0) {
    return Error{ErrorCode::kFailedPrecondition, "upload already failed", ""};
  }
  failed_ = true;  // one Commit only
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(hash_), digest, &length) !=
      1) {
    return Error{ErrorCode::kInternal, "SHA-256 failed", ""};
  }
  const std::string sha256 = Hex(digest, length);
  if (!header_.sha256().empty() && header_.sha256() != sha256) {
    return Error::InvalidArgument(
        "header.sha256", "the content's SHA-256 is " + sha256 + ", not " +
                             header_.sha256() + " (corrupted upload?)");
  }
  if (::fsync(fd_) != 0) return IoError("cannot sync", temp_path_, errno);

  // Check the content against its format through a read-only mapping.
  jobs::ContentSummary summary;
  {
    Mapping mapping;
    mapping.size = size_;
    if (size_ > 0) {
      mapping.addr = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
      if (mapping.addr == MAP_FAILED) {
        mapping.addr = nullptr;
        return IoError("cannot map", temp_path_, errno);
      }
    }
    const std::string_view bytes(static_cast<const char*>(mapping.addr), size_);
    Result<jobs::ContentSummary> inspected =
        jobs::InspectContent(header_.format(), header_.dims(), bytes);
    if (!inspected.ok()) return inspected.error();
    summary = std::move(inspected.value());
  }
  ::close(fd_);
  fd_ = -1;

  v1::Dataset info;
  info.set_name(header_.name());
  info.set_format(header_.format());
  info.set_dims(summary.dims);
  info.set_sha256(sha256);
  info.set_size_bytes(size_);
  info.set_rows(summary.rows);
  for (std::string& column : summary.columns) {
    info.add_columns(std::move(column));
  }
  *info.mutable_create_time() = NowTimestamp();

  DatasetStore& store = *store_;
  std::lock_guard lock(store.mu_);
  auto it = store.datasets_.find(header_.name());
  if (it != store.datasets_.end()) {
    const v1::Dataset& existing = it->second;
    if (existing.sha256() == sha256 && existing.format() == info.format() &&
        existing.dims() == info.dims()) {
      return existing;  // the same upload again; the temp file goes
    }
    return Error{ErrorCode::kAlreadyExists,
                 "a dataset named '" + header_.name() +
                     "' already exists with other content or format; delete "
                     "it first or pick another name",
                 "header.name"};
  }
  const std::string blob = store.BlobPath(sha256);
  if (::rename(temp_path_.c_str(), blob.c_str()) != 0) {
    return IoError("cannot store", blob, errno);
  }
  temp_path_.clear();
  if (Status status = SyncDir(fs::path(blob).parent_path().string());
      !status.ok()) {
    return status.error();
  }
  store.datasets_[info.name()] = info;
  if (Status status = store.WriteManifestLocked(); !status.ok()) {
    store.datasets_.erase(info.name());
    return status.error();
  }
  spdlog::info("dataset={} format={} bytes={} rows={} sha256={} stored",
               info.name(), v1::DatasetFormat_Name(info.format()),
               info.size_bytes(), info.rows(), sha256);
  return info;
}

// ----------------------------------------------------------- DatasetStore

DatasetStore::DatasetStore(DatasetStoreOptions options)
    : options_(std::move(options)) {}

DatasetStore::~DatasetStore() = default;

std::string DatasetStore::BlobPath(const std::string& sha256) const {
  return (fs::path(options_.dir) / "blobs" / sha256).string();
}

Error DatasetStore::Disabled() const {
  return Error{ErrorCode::kFailedPrecondition,
               "this server keeps no datasets (started without a data "
               "directory)",
               ""};
}

Status DatasetStore::EnsureDirs() const {
  std::error_code ec;
  for (const char* sub : {"blobs", "tmp"}) {
    fs::create_directories(fs::path(options_.dir) / sub, ec);
    if (ec) {
      return Error{ErrorCode::kInternal,
                   "cannot create '" + (fs::path(options_.dir) / sub).string() +
                       "': " + ec.message(),
                   ""};
    }
  }
  return {};
}

Status DatasetStore::Open() {
  if (!enabled()) return {};
  const fs::path dir(options_.dir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};  // created on the first upload
  std::lock_guard lock(mu_);
  datasets_.clear();
  const fs::path manifest = dir / kManifest;
  if (fs::exists(manifest, ec)) {
    std::ifstream in(manifest);
    std::stringstream text;
    text << in.rdbuf();
    v1::ListDatasetsResponse stored;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(text.str(), &stored,
                                                     options)
             .ok()) {
      return Error{ErrorCode::kUnavailable,
                   "dataset manifest '" + manifest.string() + "' is corrupt",
                   ""};
    }
    for (v1::Dataset& d : *stored.mutable_datasets()) {
      if (!jobs::IsValidName(d.name()) || !IsHexDigest(d.sha256()) ||
          !fs::exists(BlobPath(d.sha256()), ec)) {
        spdlog::warn(
            "dataset={} dropped from the manifest: its content is "
            "missing",
            d.name());
        continue;
      }
      datasets_[d.name()] = std::move(d);
    }
  }
  // Leftovers: interrupted uploads, and blobs stored just before a crash
  // that kept them out of the manifest.
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(dir / "tmp", ec)) {
    fs::remove(entry.path(), ec);
    ++removed;
  }
  std::set<std::string> used;
  for (const auto& [name, d] : datasets_) used.insert(d.sha256());
  for (const auto& entry : fs::directory_iterator(dir / "blobs", ec)) {
    if (!used.contains(entry.path().filename().string())) {
      fs::remove(entry.path(), ec);
      ++removed;
    }
  }
  spdlog::info("datasets={} dir={} leftovers_removed={}", datasets_.size(),
               options_.dir, removed);
  return {};
}

Status DatasetStore::WriteManifestLocked() const {
  v1::ListDatasetsResponse manifest;
  for (const auto& [name, d] : datasets_) *manifest.add_datasets() = d;
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(manifest, &json, print)
           .ok()) {
    return Error{ErrorCode::kInternal, "cannot encode the dataset manifest",
                 ""};
  }
  const std::string path = (fs::path(options_.dir) / kManifest).string();
  const std::string temp = path + ".tmp-" + RandomSuffix();
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", temp, errno);
  Status written = WriteAll(fd, json.data(), json.size(), temp);
  if (written.ok() && ::fsync(fd) != 0) {
    written = IoError("cannot sync", temp, errno);
  }
  ::close(fd);
  if (written.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    written = IoError("cannot replace", path, errno);
  }
  if (!written.ok()) {
    ::unlink(temp.c_str());
    return written;
  }
  return SyncDir(options_.dir);
}

Result<std::unique_ptr<DatasetStore::Upload>> DatasetStore::BeginUpload(
    const v1::DatasetHeader& header) {
  if (!enabled()) return Disabled();
  if (Status status = jobs::ValidateName(header.name(), "header.name");
      !status.ok()) {
    return status.error();
  }
  switch (header.format()) {
    case v1::TEXT:
    case v1::CSV:
      if (header.dims() != 0) {
        return Error::InvalidArgument("header.dims",
                                      "only points datasets have dims");
      }
      break;
    case v1::POINTS_F64:
      if (header.dims() == 0) {
        return Error::InvalidArgument(
            "header.dims", "POINTS_F64 needs dims (coordinates per point)");
      }
      [[fallthrough]];
    case v1::POINTS_CSV:
      if (header.dims() > 1024) {
        return Error::InvalidArgument("header.dims", "at most 1024");
      }
      break;
    default:
      return Error::InvalidArgument(
          "header.format", "give one of TEXT, CSV, POINTS_F64, POINTS_CSV");
  }
  if (!header.sha256().empty() && !IsHexDigest(header.sha256())) {
    return Error::InvalidArgument("header.sha256",
                                  "must be 64 lower-case hex digits");
  }
  if (Status status = EnsureDirs(); !status.ok()) return status.error();
  const std::string path =
      (fs::path(options_.dir) / "tmp" / ("upload-" + RandomSuffix() + ".part"))
          .string();
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", path, errno);
  EVP_MD_CTX* hash = EVP_MD_CTX_new();
  if (hash == nullptr || EVP_DigestInit_ex(hash, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(hash);
    ::close(fd);
    ::unlink(path.c_str());
    return Error{ErrorCode::kInternal, "cannot start SHA-256", ""};
  }
  return std::unique_ptr<Upload>(new Upload(this, header, path, fd, hash));
}

std::vector<v1::Dataset> DatasetStore::List() const {
  std::lock_guard lock(mu_);
  std::vector<v1::Dataset> out;
  out.reserve(datasets_.size());
  for (const auto& [name, d] : datasets_) out.push_back(d);
  return out;
}

Result<v1::Dataset> DatasetStore::Find(std::string_view name,
                                       const std::string& field) const {
  if (!enabled()) return Disabled();
  std::lock_guard lock(mu_);
  auto it = datasets_.find(name);
  if (it == datasets_.end()) {
    return Error{ErrorCode::kNotFound,
                 "no dataset named '" + std::string(name.substr(0, 200)) + "'",
                 field};
  }
  return it->second;
}

Result<std::shared_ptr<const jobs::DatasetContent>> DatasetStore::Read(
    std::string_view name, const std::string& field) const {
  Result<v1::Dataset> found = Find(name, field);
  if (!found.ok()) return found.error();
  const std::string path = BlobPath(found.value().sha256());
  auto content = std::make_shared<jobs::DatasetContent>();
  content->info = std::move(found.value());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open dataset", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError("cannot stat dataset", path, err);
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size > 0) {
    void* addr = ::mmap(nullptr, mapping->size, PROT_READ, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return IoError("cannot map dataset", path, err);
    }
    mapping->addr = addr;
    ::madvise(addr, mapping->size, MADV_WILLNEED);
  }
  ::close(fd);
  content->bytes =
      std::string_view(static_cast<const char*>(mapping->addr), mapping->size);
  content->keepalive = std::move(mapping);
  return std::shared_ptr<const jobs::DatasetContent>(std::move(content));
}

Result<v1::Dataset> DatasetStore::Delete(std::string_view name) {
  if (!enabled()) return Disabled();
  std::lock_guard lock(mu_);
  auto it = datasets_.find(name);
  if (it == datasets_.end()) {
    return Error{ErrorCode::kNotFound,
                 "no dataset named '" + std::string(name.substr(0, 200)) + "'",
                 "name"};
  }
  v1::Dataset deleted = it->second;
  datasets_.erase(it);
  if (Status status = WriteManifestLocked(); !status.ok()) {
    datasets_[deleted.name()] = deleted;
    return status.error();
  }
  bool shared = false;
  for (const auto& [other, d] : datasets_) {
    shared |= d.sha256() == deleted.sha256();
  }
  if (!shared) ::unlink(BlobPath(deleted.sha256()).c_str());
  spdlog::info("dataset={} sha256={} deleted", deleted.name(),
               deleted.sha256());
  return deleted;
}

}  // namespace impulse::core
