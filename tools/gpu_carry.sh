#!/usr/bin/env bash
# Builds the GPU test suite and GPU benchmarks so they run on the bare, offline
# GPU machine (NVIDIA driver, no Bazel, none of our Debian libraries), and puts
# them with a run script into the ignored folder gpu_carry/:
#
#   gpu_carry/bin/gpu_tests   //tests/gpu:gpu_tests_static: gtest from
#                             Debian's .a, cudart_static, -static-libstdc++
#                             -static-libgcc -> needs glibc only
#   gpu_carry/bin/gpu_bench   //bench/gpu:gpu_bench: Google Benchmark and
#                             oneTBB exist only as shared libraries in Debian,
#                             so those (and the libstdc++/libgcc_s they need)
#                             are copied into gpu_carry/lib
#   gpu_carry/run.sh          sets LD_LIBRARY_PATH, runs both, logs to $OUT
# With GPU_CARRY_SERVICE=1 it also bundles impulsed and the impulse CLI
# (stripped, their shared libraries copied too) and tools/gpu_service_smoke.sh,
# which run.sh then runs: jobs placed on the GPU through the real service.
#
# Then, with the device tool: carry ["gpu_carry"], command
#   gpu_carry/run.sh
# Environment for run.sh: OUT (log folder, default gpu_carry/out),
# GTEST_FILTER, BENCH_FILTER (--benchmark_filter, default all), SKIP_BENCH=1.
#
# Usage: tools/gpu_carry.sh   (from anywhere inside the checkout)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUTPUT_BASE="${GPU_CARRY_OUTPUT_BASE:-/root/.cache/bazel-ob-gpu}"
BAZEL=(bazel "--output_base=$OUTPUT_BASE")
TARGETS=(//tests/gpu:gpu_tests_static //bench/gpu:gpu_bench)
SERVICE="${GPU_CARRY_SERVICE:-0}"
[[ "$SERVICE" == 1 ]] && TARGETS+=(//server:impulsed //client:impulse)

# --symlink_prefix=/: leave the workspace's bazel-* links to whoever owns them.
"${BAZEL[@]}" build --symlink_prefix=/ "${TARGETS[@]}"
BIN="$("${BAZEL[@]}" info bazel-bin 2>/dev/null)"

CARRY="$ROOT/gpu_carry"
rm -rf "$CARRY"
mkdir -p "$CARRY/bin" "$CARRY/lib"
install -m 755 "$BIN/tests/gpu/gpu_tests_static" "$CARRY/bin/gpu_tests"
install -m 755 "$BIN/bench/gpu/gpu_bench" "$CARRY/bin/gpu_bench"
if [[ "$SERVICE" == 1 ]]; then
  # Stripped: the tree that travels is limited to 64 MiB.
  install -s -m 755 "$BIN/server/impulsed" "$CARRY/bin/impulsed"
  install -s -m 755 "$BIN/client/impulse" "$CARRY/bin/impulse"
  install -m 755 tools/gpu_service_smoke.sh "$CARRY/gpu_service_smoke.sh"
fi

# Libraries every Linux machine has (glibc and the loader); all else is copied.
is_system_lib() {
  case "${1##*/}" in
    linux-vdso.so.* | ld-linux-x86-64.so.* | libc.so.* | libm.so.* | \
      libdl.so.* | libpthread.so.* | librt.so.*)
      return 0 ;;
  esac
  return 1
}

# "NAME PATH" for each library `ldd` lists for $1 (PATH empty when ldd has
# none); a library with no dependencies of its own lists nothing.
ldd_deps() {
  ldd "$1" | awk '/statically linked/ {next} /=>/ {print $1, $3; next}
    {print $1, ""}'
}

copy_deps() {
  local file="$1" name path
  while read -r name path; do
    is_system_lib "$name" && continue
    if [[ -z "$path" || "$path" == "not" ]]; then
      echo "gpu_carry: $file needs $name, which is not found" >&2
      exit 1
    fi
    if [[ ! -e "$CARRY/lib/$name" ]]; then
      cp -L "$path" "$CARRY/lib/$name"
      chmod 644 "$CARRY/lib/$name"
    fi
  done < <(ldd_deps "$file")
}

for binary in "$CARRY"/bin/*; do copy_deps "$binary"; done
# oneTBB loads its scalable allocator with dlopen when present (ldd cannot
# see that); carry it so the CPU baselines run as they do here.
# awk reads to the end: an early exit would kill ldconfig with SIGPIPE, which
# pipefail turns into a failure of the whole script.
TBBMALLOC="$(ldconfig -p | awk '/libtbbmalloc\.so\.2 / && !found {print $NF; found = 1}')"
if [[ -n "$TBBMALLOC" && -e "$CARRY/lib/libtbb.so.12" ]]; then
  cp -L "$TBBMALLOC" "$CARRY/lib/libtbbmalloc.so.2"
  chmod 644 "$CARRY/lib/libtbbmalloc.so.2"
  copy_deps "$CARRY/lib/libtbbmalloc.so.2"
fi

# Verify: with LD_LIBRARY_PATH set, every library is glibc or a carried copy.
status=0
for file in "$CARRY"/bin/* "$CARRY"/lib/*; do
  while read -r name path; do
    is_system_lib "$name" && continue
    case "$path" in
      "$CARRY"/lib/*) ;;
      *)
        echo "gpu_carry: $(basename "$file") resolves $name to '$path'" >&2
        status=1 ;;
    esac
  done < <(LD_LIBRARY_PATH="$CARRY/lib" ldd_deps "$file")
done
[[ $status -eq 0 ]] || exit 1

cat >"$CARRY/run.sh" <<'RUN'
#!/bin/sh
# Runs the carried GPU tests and benchmarks; logs and results go to $OUT.
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-$HERE/out}"
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{ nvidia-smi || echo "nvidia-smi not available"; } >"$OUT/nvidia-smi.txt" 2>&1
"$HERE/bin/gpu_tests" --gtest_filter="${GTEST_FILTER:-*}" \
  --gtest_output="xml:$OUT/gpu_tests.xml" >"$OUT/gpu_tests.log" 2>&1
tests_rc=$?
tail -n 80 "$OUT/gpu_tests.log"
bench_rc=0
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  "$HERE/bin/gpu_bench" --benchmark_filter="${BENCH_FILTER:-.}" \
    --benchmark_out="$OUT/gpu_bench.json" --benchmark_out_format=json \
    >"$OUT/gpu_bench.log" 2>&1
  bench_rc=$?
  tail -n 40 "$OUT/gpu_bench.log"
fi
service_rc=0
if [ -x "$HERE/gpu_service_smoke.sh" ]; then
  "$HERE/gpu_service_smoke.sh" "$HERE/bin" "$OUT"
  service_rc=$?
fi
echo "gpu_tests exit $tests_rc, gpu_bench exit $bench_rc," \
  "service exit $service_rc" | tee "$OUT/summary.txt"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ "$service_rc" -eq 0 ]
RUN
chmod 755 "$CARRY/run.sh"

echo "gpu_carry: contents"
(cd "$CARRY" && ls -l bin lib && du -sh .)
for file in "$CARRY"/bin/*; do
  echo "gpu_carry: ldd $(basename "$file") (LD_LIBRARY_PATH=gpu_carry/lib)"
  LD_LIBRARY_PATH="$CARRY/lib" ldd "$file" | sed 's/^/  /'
done
GLIBC="$(for file in "$CARRY"/bin/* "$CARRY"/lib/*; do objdump -T "$file"; done |
  grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
echo "gpu_carry: the GPU machine needs glibc >= $GLIBC"
echo "gpu_carry: ready; run on the GPU machine with: gpu_carry/run.sh"
