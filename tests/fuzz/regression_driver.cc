// Runs a libFuzzer target as a bounded, deterministic regression test (linked
// into every tests/fuzz target in the normal and sanitizer builds; the
// libFuzzer build links libFuzzer's own main instead, see tools/fuzz.sh):
//
//   1. every file of the seed corpus (directories given as arguments), then
//   2. pseudo-random mutations of those seeds (bit flips, byte edits,
//      inserted "interesting" bytes, deleted / duplicated ranges, splices of
//      two seeds) from a fixed seed, so a failure reproduces exactly,
//
// until --mutations inputs have run or --max_seconds have passed. A crash
// (signal, sanitizer report, failed check) fails the test; the input that
// caused it is written to $TEST_UNDECLARED_OUTPUTS_DIR (else the working
// directory) as crash-<hash>, ready to be added to the corpus.
//
// Flags: --mutations=N (default 2000), --max_seconds=S (default 3),
// --max_len=N (default 4096; longer mutants are cut), --seed=N. The
// environment variable FUZZ_MUTATIONS overrides --mutations (0 = seeds only).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);
// Present in sanitizer builds: runs before the process dies of a report.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(
    void (*callback)(void));

namespace {

namespace fs = std::filesystem;

struct Options {
  std::vector<std::string> corpus_paths;
  std::uint64_t mutations = 2000;
  double max_seconds = 3.0;
  std::size_t max_len = 4096;
  std::uint64_t seed = 0x1badb002;
};

// The input being run, for the crash handlers (set before every run).
const std::uint8_t* g_current_data = nullptr;
std::size_t g_current_size = 0;
char g_crash_path[4096] = "crash-input";

std::uint64_t Fnv1a(const std::uint8_t* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < size; ++i) {
    h = (h ^ data[i]) * 0x100000001b3ull;
  }
  return h;
}

// Async-signal-safe: open, write, close and a hand-made message.
void DumpCurrentInput() {
  static volatile sig_atomic_t dumped = 0;
  if (dumped) return;
  dumped = 1;
  const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    std::size_t off = 0;
    while (off < g_current_size) {
      const ssize_t n = ::write(fd, g_current_data + off, g_current_size - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  static const char kMsg[] = "\n*** fuzz regression: the failing input is in ";
  (void)!::write(2, kMsg, sizeof(kMsg) - 1);
  (void)!::write(2, g_crash_path, std::strlen(g_crash_path));
  (void)!::write(2, "\n", 1);
}

void OnFatalSignal(int sig) {
  DumpCurrentInput();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallCrashHandlers() {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
    ::signal(sig, OnFatalSignal);
  }
  if (__sanitizer_set_death_callback != nullptr) {
    __sanitizer_set_death_callback(DumpCurrentInput);
  }
}

void Run(const std::vector<std::uint8_t>& input) {
  // A copy of exactly `size` bytes, so reads past the end are caught.
  std::vector<std::uint8_t> copy(input);
  char name[64];
  std::snprintf(
      name, sizeof(name), "crash-%016llx",
      static_cast<unsigned long long>(Fnv1a(copy.data(), copy.size())));
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  std::snprintf(g_crash_path, sizeof(g_crash_path), "%s%s%s", dir ? dir : "",
                dir ? "/" : "", name);
  g_current_data = copy.data();
  g_current_size = copy.size();
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
  g_current_data = nullptr;
  g_current_size = 0;
}

// xorshift64*: fixed sequence for a fixed seed on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed ? seed : 1) {}
  std::uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dull;
  }
  std::size_t Below(std::size_t n) { return n == 0 ? 0 : Next() % n; }

 private:
  std::uint64_t s_;
};

// Bytes that tend to matter to text parsers: delimiters, quotes, escapes,
// line ends, JSON and HTTP punctuation, and edge values.
constexpr std::string_view kInteresting =
    "\0\x01\x7f\x80\xbf\xc0\xc3\xe2\xf0\xf4\xff\"',;:\t\r\n %+-.0123456789eE"
    "{}[]/\\?&=#_xX";

void Mutate(std::vector<std::uint8_t>& data,
            const std::vector<std::vector<std::uint8_t>>& seeds, Rng& rng,
            std::size_t max_len) {
  const int ops = 1 + static_cast<int>(rng.Below(4));
  for (int op = 0; op < ops; ++op) {
    switch (rng.Below(data.empty() ? 3 : 9)) {
      case 0: {  // insert an interesting byte
        const std::uint8_t b = static_cast<std::uint8_t>(
            kInteresting[rng.Below(kInteresting.size())]);
        data.insert(data.begin() + rng.Below(data.size() + 1), b);
        break;
      }
      case 1: {  // insert a random byte
        data.insert(data.begin() + rng.Below(data.size() + 1),
                    static_cast<std::uint8_t>(rng.Next()));
        break;
      }
      case 2: {  // splice: our prefix + another seed's suffix
        const auto& other = seeds[rng.Below(seeds.size())];
        const std::size_t cut = rng.Below(data.size() + 1);
        const std::size_t from = rng.Below(other.size() + 1);
        data.resize(cut);
        data.insert(data.end(), other.begin() + from, other.end());
        break;
      }
      case 3:  // flip a bit
        data[rng.Below(data.size())] ^= std::uint8_t(1u << rng.Below(8));
        break;
      case 4:  // overwrite with an interesting byte
        data[rng.Below(data.size())] = static_cast<std::uint8_t>(
            kInteresting[rng.Below(kInteresting.size())]);
        break;
      case 5: {  // delete a range
        const std::size_t at = rng.Below(data.size());
        const std::size_t n =
            1 + rng.Below(std::min<std::size_t>(16, data.size() - at));
        data.erase(data.begin() + at, data.begin() + at + n);
        break;
      }
      case 6: {  // duplicate a range
        const std::size_t at = rng.Below(data.size());
        const std::size_t n =
            1 + rng.Below(std::min<std::size_t>(64, data.size() - at));
        std::vector<std::uint8_t> piece(data.begin() + at,
                                        data.begin() + at + n);
        const int times = 1 + static_cast<int>(rng.Below(8));
        for (int t = 0; t < times; ++t) {
          data.insert(data.begin() + at, piece.begin(), piece.end());
        }
        break;
      }
      case 7:  // truncate
        data.resize(rng.Below(data.size()));
        break;
      default: {  // bump a byte (digits become other digits, and so on)
        std::uint8_t& b = data[rng.Below(data.size())];
        b = static_cast<std::uint8_t>(b + (rng.Below(2) ? 1 : -1));
        break;
      }
    }
  }
  if (data.size() > max_len) data.resize(max_len);
}

bool ParseFlag(std::string_view arg, std::string_view name,
               std::string* value) {
  if (!arg.starts_with(name) || arg.size() <= name.size() ||
      arg[name.size()] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 1));
  return true;
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string value;
    if (ParseFlag(arg, "--mutations", &value)) {
      options.mutations = std::strtoull(value.c_str(), nullptr, 10);
    } else if (ParseFlag(arg, "--max_seconds", &value)) {
      options.max_seconds = std::strtod(value.c_str(), nullptr);
    } else if (ParseFlag(arg, "--max_len", &value)) {
      options.max_len = std::strtoull(value.c_str(), nullptr, 10);
    } else if (ParseFlag(arg, "--seed", &value)) {
      options.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else if (arg.starts_with("-")) {
      std::fprintf(stderr, "ignoring unknown flag %s\n", argv[i]);
    } else {
      options.corpus_paths.emplace_back(arg);
    }
  }
  if (const char* env = std::getenv("FUZZ_MUTATIONS")) {
    options.mutations = std::strtoull(env, nullptr, 10);
  }
  return options;
}

std::vector<std::uint8_t> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  InstallCrashHandlers();

  // Seeds in a fixed order (sorted paths), so mutations are reproducible.
  std::vector<fs::path> files;
  for (const std::string& path : options.corpus_paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(path, ec)) {
      files.emplace_back(path);
    } else {
      std::fprintf(stderr, "corpus path %s not found\n", path.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no seed inputs: give corpus directories\n");
    return 2;
  }
  std::vector<std::vector<std::uint8_t>> seeds;
  for (const fs::path& file : files) {
    seeds.push_back(ReadFile(file));
    Run(seeds.back());
  }

  const auto start = std::chrono::steady_clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  std::chrono::duration<double>(options.max_seconds));
  Rng rng(options.seed);
  std::uint64_t ran = 0;
  for (; ran < options.mutations; ++ran) {
    if ((ran & 15) == 0 && std::chrono::steady_clock::now() > deadline) break;
    std::vector<std::uint8_t> input = seeds[ran % seeds.size()];
    Mutate(input, seeds, rng, options.max_len);
    Run(input);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("fuzz regression: %zu seeds, %llu mutations in %.2f s: ok\n",
              seeds.size(), static_cast<unsigned long long>(ran), seconds);
  return 0;
}
