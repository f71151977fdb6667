// Dataset names (server/jobs/dataset_access.h, server/core/dataset_store.cc):
// the one thing a client chooses that becomes part of the server's state on
// disk. Every upload goes through a real DatasetStore in a temporary
// directory: BeginUpload, Append, Commit, then Find, Read, a reopened store
// (the manifest round trip) and Delete.
//
// Input: byte 0 picks the format, byte 1 the name's length, then the name
// (any bytes: '/', "..", NUL, ...), then the content.
//
// Oracle: the store accepts exactly the names an independent reading of the
// documented rule accepts (1..128 of [A-Za-z0-9._-], not "." or ".."); a
// stored dataset reads back byte for byte, survives a reopen and deletes
// cleanly; nothing is ever written outside the store's directory, and only
// blobs/<sha256>, manifest.json and tmp/ inside it.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "server/core/dataset_store.h"
#include "server/jobs/dataset_access.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_datasets.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = impulse::v1;
using impulse::ErrorCode;
using impulse::fuzz::Printable;

constexpr v1::DatasetFormat kFormats[] = {v1::TEXT, v1::CSV, v1::POINTS_F64,
                                          v1::POINTS_CSV};

std::string* g_root = nullptr;   // holds only the store's directory
std::string* g_store = nullptr;  // <root>/datasets

bool DocumentedValid(std::string_view name) {
  if (name.size() < 1 || name.size() > 128) return false;
  if (name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
    if (c >= 0x80) return false;  // isalnum is locale-dependent
  }
  return true;
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckDirectory() {
  for (const auto& entry : fs::directory_iterator(*g_root)) {
    FUZZ_CHECK(entry.path() == fs::path(*g_store))
        << "something was written beside the store: " << entry.path();
  }
  if (!fs::exists(*g_store)) return;
  for (const auto& entry : fs::recursive_directory_iterator(*g_store)) {
    const fs::path rel = fs::relative(entry.path(), *g_store);
    const std::string top = rel.begin()->string();
    const bool expected = rel == "manifest.json" || rel == "blobs" ||
                          rel == "tmp" ||
                          (top == "blobs" && IsHex64(rel.filename().string()) &&
                           std::distance(rel.begin(), rel.end()) == 2);
    FUZZ_CHECK(expected) << "unexpected file in the store: " << rel;
  }
}

impulse::core::DatasetStoreOptions StoreOptions() {
  impulse::core::DatasetStoreOptions options;
  options.dir = *g_store;
  options.max_dataset_bytes = 1 << 20;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_root = new std::string(impulse::fuzz::TempDir("dataset_name_fuzzer-"));
  g_store = new std::string(*g_root + "/datasets");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 2) return 0;
  const v1::DatasetFormat format = kFormats[data[0] % 4];
  const std::size_t name_size = std::min<std::size_t>(data[1], size - 2);
  const std::string name(reinterpret_cast<const char*>(data + 2), name_size);
  const std::string_view content(
      reinterpret_cast<const char*>(data + 2 + name_size),
      size - 2 - name_size);
  const bool valid = DocumentedValid(name);

  FUZZ_CHECK(impulse::jobs::IsValidName(name) == valid)
      << "IsValidName('" << Printable(name) << "') is "
      << impulse::jobs::IsValidName(name);
  FUZZ_CHECK(impulse::jobs::ValidateName(name, "f").ok() == valid)
      << "ValidateName disagrees on '" << Printable(name) << "'";

  impulse::core::DatasetStore store(StoreOptions());
  impulse::Status open = store.Open();
  FUZZ_CHECK(open.ok()) << "store does not open: " << open.error().ToString();

  // Lookups by any name are harmless.
  auto found = store.Find(name);
  FUZZ_CHECK(!found.ok() && found.error().code == ErrorCode::kNotFound)
      << "found '" << Printable(name) << "' in an empty store";
  FUZZ_CHECK(!store.Read(name).ok()) << "read a missing dataset";
  FUZZ_CHECK(!store.Delete(name).ok()) << "deleted a missing dataset";

  v1::DatasetHeader header;
  header.set_name(name);
  header.set_format(format);
  header.set_dims(format == v1::POINTS_F64 ? 1 + data[0] % 3 : 0);
  auto upload = store.BeginUpload(header);
  FUZZ_CHECK(upload.ok() == valid)
      << "BeginUpload " << (upload.ok() ? "accepted" : "refused") << " '"
      << Printable(name) << "'";
  if (!upload.ok()) {
    FUZZ_CHECK(upload.error().code == ErrorCode::kInvalidArgument &&
               upload.error().field == "header.name")
        << upload.error().ToString();
    CheckDirectory();
    return 0;
  }
  impulse::Status appended = upload.value()->Append(content);
  FUZZ_CHECK(appended.ok()) << appended.error().ToString();
  auto committed = upload.value()->Commit();
  upload.value().reset();  // removes the temp file of a refused upload
  if (!committed.ok()) {
    FUZZ_CHECK(committed.error().code == ErrorCode::kInvalidArgument)
        << "commit answered " << committed.error().ToString();
    CheckDirectory();
    FUZZ_CHECK(store.List().empty()) << "a refused upload was listed";
    return 0;
  }
  FUZZ_CHECK(committed.value().name() == name) << "stored under another name";
  CheckDirectory();

  auto read = store.Read(name);
  FUZZ_CHECK(read.ok()) << "cannot read back '" << Printable(name)
                        << "': " << read.error().ToString();
  FUZZ_CHECK(read.value()->bytes == content) << "content changed";
  {
    impulse::core::DatasetStore reopened(StoreOptions());
    impulse::Status reopen = reopened.Open();
    FUZZ_CHECK(reopen.ok())
        << "store does not reopen after storing '" << Printable(name)
        << "': " << reopen.error().ToString();
    auto again = reopened.Find(name);
    FUZZ_CHECK(again.ok() &&
               again.value().sha256() == committed.value().sha256())
        << "'" << Printable(name) << "' lost in the manifest round trip";
  }
  auto deleted = store.Delete(name);
  FUZZ_CHECK(deleted.ok()) << "cannot delete '" << Printable(name) << "'";
  FUZZ_CHECK(store.List().empty()) << "deleted dataset still listed";
  CheckDirectory();
  for (const auto& entry : fs::directory_iterator(*g_store + "/blobs")) {
    FUZZ_CHECK(false) << "blob left after delete: " << entry.path();
  }
  return 0;
}
