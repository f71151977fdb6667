// A DatasetStore in a fresh temporary directory, for fuzz targets that need
// datasets to exist. The directory is removed at exit.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "server/core/dataset_store.h"

namespace impulse::fuzz {

// A new empty directory under $TEST_TMPDIR (Bazel) or $TMPDIR or /tmp,
// removed when the process exits normally.
inline std::string TempDir(std::string_view prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  if (base == nullptr) base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base ? base : "/tmp") + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  static std::string* to_remove = new std::string(pattern);
  *to_remove = pattern;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(*to_remove, ec);
  });
  return pattern;
}

// Uploads `bytes` under `name`; aborts when the store refuses it (setup).
inline void MustUpload(core::DatasetStore& store, std::string_view name,
                       v1::DatasetFormat format, std::uint32_t dims,
                       std::string_view bytes) {
  v1::DatasetHeader header;
  header.set_name(std::string(name));
  header.set_format(format);
  header.set_dims(dims);
  auto upload = store.BeginUpload(header);
  if (!upload.ok()) {
    std::fprintf(stderr, "setup: %s\n", upload.error().ToString().c_str());
    std::abort();
  }
  Status appended = upload.value()->Append(bytes);
  auto committed = upload.value()->Commit();
  if (!appended.ok() || !committed.ok()) {
    std::fprintf(stderr, "setup: cannot store dataset %s\n",
                 std::string(name).c_str());
    std::abort();
  }
}

}  // namespace impulse::fuzz
