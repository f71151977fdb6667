#!/usr/bin/env bash
# Impulse against what users would pick instead, in one run on one machine:
# the book's Python and NumPy versions (Debian's python3 + python3-numpy),
# Impulse's bare kernels (bench/kernels_bench, bench/analytics), the same jobs
# through a running impulsed (so the service's overhead shows), and many tiny
# tasks through Dask distributed (LocalCluster, 2 workers) against the same
# through Impulse (//bench:load). Writes bench/results/README.md (the table),
# PNG plots and the raw JSON under bench/results/, all regenerated each run.
#
# Usage: bench/compare.sh [--quick] [--priority]
#   --quick     fewer concurrency levels, shorter runs, estimates for the
#               slowest pure-Python runs (about 3 minutes instead of about 8).
#   --priority  (root) run everything measured at CPU priority -15 (the nice
#               value of this session's autogroup and of the processes), so
#               other work on a shared machine disturbs the run less; every
#               side compared (Python, NumPy, Dask, Impulse) gets the same.
# Installs the Debian packages it needs (apt-get; root or sudo). Not part of
# CI. The machine should be otherwise idle; `uptime` before and after is
# recorded in the results, so a noisy run shows.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
priority=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --priority) priority=1 ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "compare.sh: unknown argument $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

PY=/usr/bin/python3  # Debian's, with python3-numpy and python3-dask
out="$root/bench/results"
raw="$out/raw"
work=$(mktemp -d /tmp/impulse-compare.XXXXXX)
server_pid=""
autogroup_nice=""
cleanup() {
  local status=$?
  if [[ -n "$autogroup_nice" ]]; then
    echo "$autogroup_nice" >/proc/self/autogroup 2>/dev/null || true
  fi
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }

if ((priority)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "compare.sh: --priority needs root" >&2
    exit 2
  fi
  # Linux shares the CPU between sessions (autogroups) before processes:
  # raise this session's group and this process (children inherit).
  if [[ -r /proc/self/autogroup ]]; then
    autogroup_nice=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\).*/\1/p' /proc/self/autogroup)
    echo -15 >/proc/self/autogroup
  fi
  renice -n -15 -p $$ >/dev/null
fi

# ---------------------------------------------------------------- packages
need=()
for pkg in python3-numpy python3-dask python3-distributed python3-matplotlib; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]} > 0)); then
  log "installing ${need[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

# ------------------------------------------------------------------- build
log "building"
bazel build //server:impulsed //bench:load //bench:kernels_bench \
  //bench/analytics:analytics_bench //client:impulse >&2
bin=$(bazel info bazel-bin 2>/dev/null)
impulsed="$bin/server/impulsed"
load="$bin/bench/load/load"
impulse="$bin/client/impulse"

rm -rf "$raw"
mkdir -p "$raw"
{
  echo "{\"started\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo " \"quick\": $quick,"
  echo " \"priority\": $priority,"
  echo " \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo " \"cpu\": \"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)\","
  echo " \"cores\": $(nproc),"
  echo " \"memory_gib\": $(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo),"
  echo " \"kernel\": \"$(uname -r)\","
  echo " \"python\": \"$($PY -c 'import sys; print(sys.version.split()[0])')\","
  echo " \"numpy\": \"$($PY -c 'import numpy; print(numpy.__version__)')\","
  echo " \"uptime_before\": \"$(uptime | sed 's/^ *//')\"}"
} >"$raw/machine.json"

if ((quick)); then
  levels="1 4 16 64"
  rest_levels="1 16"
  secs=2
  warm=0.5
  particles_measure="--measure_t_end 0.01"  # pure Python: 1/10, scaled
  pi_measure="--measure 1e5"
  reps=1
  scaled_jobs=2
  text_mib=8
else
  levels="1 2 4 8 16 32 64 128"
  rest_levels="1 4 16 64"
  secs=3
  warm=1
  particles_measure=""
  pi_measure="--measure 1e6"
  reps=3
  scaled_jobs=3
  text_mib=32
fi

# ------------------------------------------------- the book's Python versions
book() {  # book NAME ARGS...: runs bench/compare/book.py into raw/NAME.json
  local name="$1"
  shift
  log "book: $name"
  $PY bench/compare/book.py "$@" >"$raw/book_$name.json"
}
book particles_python particles_python --particles 1000 --t_end 0.1 $particles_measure
book particles_numpy particles_numpy --particles 1000 --t_end 0.1
book pi_python_1e6 pi_python --samples 1e6 $pi_measure
book pi_python_1e8 pi_python --samples 1e8 $pi_measure
book pi_numpy_1e6 pi_numpy --samples 1e6
book pi_numpy_1e8 pi_numpy --samples 1e8
$PY bench/compare/book.py make_points --n 10000 --out "$work/points.f64" >/dev/null
book distance_numpy distance_numpy --points "$work/points.f64"
log "generating a ${text_mib} MiB text"
$PY bench/compare/book.py make_text --mib "$text_mib" --out "$work/corpus.txt" >/dev/null
book wordcount wordcount --text "$work/corpus.txt"

# --------------------------------------------------------- Impulse's kernels
log "kernels: bench/kernels_bench"
"$bin/bench/kernels_bench" \
  --benchmark_filter='BM_ParticlesBook/|BM_PiSamples' \
  --benchmark_repetitions="$reps" --benchmark_format=json \
  >"$raw/kernels.json" 2>/dev/null
log "kernels: bench/analytics (generates its 160 MiB texts first)"
"$bin/bench/analytics/analytics_bench" \
  --benchmark_filter='BM_DistanceRows/10000/2/0|BM_DistanceMatrixAlloc|BM_WordCount/0/0' \
  --benchmark_repetitions="$reps" --benchmark_format=json \
  >"$raw/analytics.json" 2>/dev/null

# ------------------------------------------------------- through the service
log "starting impulsed"
: >"$work/impulsed.log"
"$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$work/data" --log_level=info >"$work/impulsed.log" 2>&1 &
server_pid=$!
port=""
http_port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*impulsed serving .* port=\([0-9][0-9]*\).*/\1/p' "$work/impulsed.log" | head -n 1 || true)
  http_port=$(sed -n 's/.*http gateway serving .* port=\([0-9][0-9]*\).*/\1/p' "$work/impulsed.log" | head -n 1 || true)
  [[ -n "$port" && -n "$http_port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/impulsed.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "impulsed did not start" >&2; exit 1; }
grpc="--target=127.0.0.1:$port"
export IMPULSE_SERVER="127.0.0.1:$port"

service() {  # service NAME LOAD-ARGS...: one load run into raw/service_NAME.json
  local name="$1"
  shift
  log "service: $name"
  "$load" --json "$@" >"$raw/service_$name.json" ||
    log "service: $name had errors (see raw/service_$name.json)"
}
duration=$(awk -v a="$secs" -v b="$warm" 'BEGIN { print a + b }')
# Tiny jobs over gRPC run interleaved with Dask's levels (below).
for c in $rest_levels; do
  service "tiny_rest_c$c" --protocol=rest --http_target="127.0.0.1:$http_port" \
    --clients="$c" --duration="$duration" --warmup="$warm"
done
service watch_fanout $grpc --mode=watch --workload=medium --clients=1000 --duration="$secs"
service particles_book $grpc --workload=book --clients=1 --jobs=10 --duration=120
# The book's particles at 1e9 particle-steps: the bare kernel and the same
# job through the service, alternately, so both see the same machine.
for i in $(seq 1 "$scaled_jobs"); do
  log "particles 1e9: kernel, then service ($i of $scaled_jobs)"
  # One iteration; /usr/bin/time adds the process's CPU seconds, comparable
  # with the server's CPU seconds for the job (the load generator's report).
  /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S}' \
    -o "$raw/kernel_particles_1e9_${i}_cpu.json" \
    "$bin/bench/kernels_bench" --benchmark_filter='BM_ParticlesBookScaled' \
    --benchmark_min_time=0.01 --benchmark_format=json \
    >"$raw/kernel_particles_1e9_$i.json" 2>/dev/null
  "$load" --json $grpc --clients=1 --jobs=1 --duration=300 \
    --spec='{"particles": {"randomParticles": 1000, "tEnd": 10}}' \
    >"$raw/service_particles_1e9_$i.json"
done
service pi_1e6 $grpc --clients=1 --jobs=10 --duration=120 --spec='{"pi": {"samples": "1000000"}}'
service pi_1e8 $grpc --clients=1 --jobs=3 --duration=120 --spec='{"pi": {"samples": "100000000"}}'
log "uploading the datasets"
"$impulse" dataset upload "$work/points.f64" --name points10k --format points_f64 --dims 2 -q >/dev/null
"$impulse" dataset upload "$work/corpus.txt" --name corpus --format text -q >/dev/null
service distance_matrix $grpc --clients=1 --jobs=1 --duration=300 \
  --spec='{"distanceMatrix": {"dataset": "points10k"}}'
service wordcount $grpc --clients=1 --jobs=3 --duration=300 \
  --spec='{"wordcount": {"dataset": "corpus", "topK": 100}}'

# ------------------------------------------------------------------ Dask
# Each Dask level is followed by the same level of tiny jobs through Impulse
# (--also), so the two see the same machine conditions: over the Run RPC
# (every event streamed) and over Execute (one answer with the finished job
# and its result, the counterpart of Dask's submit().result()).
log "dask and impulse: tiny tasks at $levels clients (Dask: LocalCluster, 2 workers)"
$PY bench/compare/dask_tiny.py --concurrency "$(echo $levels | tr ' ' ',')" \
  --seconds "$secs" --warmup "$warm" \
  --also "'$load' --json $grpc --clients={clients} --duration=$duration --warmup=$warm >'$raw/service_tiny_grpc_c{clients}.json'; '$load' --json $grpc --mode=execute --clients={clients} --duration=$duration --warmup=$warm >'$raw/service_tiny_exec_c{clients}.json'" \
  >"$raw/dask_tiny.json" 2>"$work/dask.log" || {
  cat "$work/dask.log" >&2
  exit 1
}
kill -TERM "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=""

$PY - "$raw/machine.json" "$(uptime | sed 's/^ *//')" <<'PY'
import json, sys
path, up = sys.argv[1], sys.argv[2]
m = json.load(open(path))
m["uptime_after"] = up
json.dump(m, open(path, "w"), indent=1)
PY

# ------------------------------------------------------------------ report
log "writing the table and the plots"
$PY bench/compare/report.py "$raw" "$out"
log "done: $out/README.md"
