#!/usr/bin/env bash
# Runs one fuzz target of tests/fuzz under libFuzzer.
#
#   tools/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]   e.g. tools/fuzz.sh csv_fuzzer 300
#   tools/fuzz.sh --list                                  the targets
#   tools/fuzz.sh --build TARGET                          build only, print the binary
#
# Builds //tests/fuzz:TARGET with clang++-14 and -fsanitize=fuzzer,address,
# undefined (bazel --config=libfuzzer, in an output base of its own so the
# normal gcc build is untouched), then fuzzes for SECONDS (default 60) on
# fuzz-out/TARGET/corpus, a working copy of tests/fuzz/corpus/TARGET that
# keeps what libFuzzer finds interesting between runs. A crash, hang
# (-timeout, default 10 s per input) or leak stops the run and leaves
# fuzz-out/TARGET/crash-* (or timeout-*, leak-*); reproduce it with
#   fuzz-out/TARGET/TARGET fuzz-out/TARGET/crash-...
# and after the fix copy it into tests/fuzz/corpus/TARGET/ so the
# regression test in `bazel test //tests/fuzz/...` keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

targets() { sed -n 's/^ *name = "\(.*_fuzzer\)",$/\1/p' tests/fuzz/BUILD; }

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [[ $1 == --list ]]; then targets; exit 0; fi
build_only=0
if [[ $1 == --build ]]; then build_only=1; shift; fi
target=$1
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
if ! targets | grep -qx "$target"; then
  echo "unknown fuzz target '$target'; one of:" >&2
  targets >&2
  exit 2
fi

if ! command -v clang-14 >/dev/null ||
   ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "installing clang-14 and its libFuzzer runtime"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi

output_base="${IMPULSE_FUZZ_OUTPUT_BASE:-$HOME/.cache/impulse-fuzz-bazel/$(pwd | md5sum | cut -c1-12)}"
bazel_fuzz=(bazel --output_base="$output_base")
"${bazel_fuzz[@]}" build --config=libfuzzer "//tests/fuzz:$target" >&2
binary="$("${bazel_fuzz[@]}" info --config=libfuzzer bazel-bin 2>/dev/null)/tests/fuzz/$target"
if (( build_only )); then echo "$binary"; exit 0; fi

out="fuzz-out/$target"
mkdir -p "$out/corpus"
cp -n "tests/fuzz/corpus/$target"/* "$out/corpus/" 2>/dev/null || true
# A link, not a copy: the binary finds its libraries relative to its real path.
ln -sfn "$binary" "$out/$target"
# Datasets and temp stores of the targets go to memory, not the disk.
export TMPDIR="${TMPDIR:-/dev/shm}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
echo "fuzzing $target for ${seconds}s; corpus $out/corpus, findings in $out/"
set +e
cd "$out"
"./$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -max_len=8192 -print_final_stats=1 -artifact_prefix=./ "$@" corpus/ 2>&1 |
  tee fuzz.log | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)'
status=${PIPESTATUS[0]}
set -e
found=$(ls crash-* timeout-* leak-* oom-* slow-unit-* 2>/dev/null || true)
if [[ -n "$found" ]]; then
  echo "FOUND in $out/: $(echo $found)"
fi
exit "$status"
