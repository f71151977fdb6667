#!/bin/sh
# The service on a GPU machine: starts the carried impulsed (GPU detected at
# start), runs jobs through the carried CLI with device GPU, CPU and AUTO, and
# fails unless each ends SUCCEEDED on the device it should. gpu_carry/run.sh
# calls it when tools/gpu_carry.sh bundled the service (GPU_CARRY_SERVICE=1).
#
# Usage: gpu_service_smoke.sh BIN_DIR OUT_DIR
BIN="$1"
OUT="$2"
DATA="$(mktemp -d)"
PORT=50151
export IMPULSE_SERVER="127.0.0.1:$PORT"
"$BIN/impulsed" --data_dir="$DATA" --grpc_listen="127.0.0.1:$PORT" \
  --http_listen=127.0.0.1:18180 >"$OUT/impulsed.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT

up=0
for _ in $(seq 1 300); do
  if "$BIN/impulse" list >/dev/null 2>&1; then up=1; break; fi
  sleep 0.1
done
if [ "$up" != 1 ]; then
  echo "service: impulsed did not answer in 30 s; its log:"
  cat "$OUT/impulsed.log"
  exit 1
fi
grep -i "gpu\|cuda\|device" "$OUT/impulsed.log" | head -n 5

failures=0
# run NAME EXPECTED_PLACEMENT SPEC_JSON: one job to its end; the CLI's summary
# line says where it ran and how long it took.
run() {
  printf '%s\n' "$3" >"$OUT/spec_$1.json"
  if ! "$BIN/impulse" run --spec "$OUT/spec_$1.json" -q \
    >"$OUT/run_$1.txt" 2>&1; then
    echo "service: $1 did not succeed:"
    cat "$OUT/run_$1.txt"
    failures=$((failures + 1))
    return
  fi
  summary="$(head -n 1 "$OUT/run_$1.txt")"
  echo "service: $1: $summary"
  case "$summary" in
    *" on $2"*) ;;
    *) echo "service: $1 should have run on $2"; failures=$((failures + 1)) ;;
  esac
}

# The result cache would answer a repeated spec without running it.
run pi_gpu GPU '{"pi": {"samples": "10000000000", "seed": "7"}, "device": "GPU", "noCache": true}'
run pi_cpu CPU '{"pi": {"samples": "10000000000", "seed": "7"}, "device": "CPU", "noCache": true}'
run pi_auto GPU '{"pi": {"samples": "1000000000", "seed": "8"}, "noCache": true}'
run particles_gpu GPU '{"particles": {"random_particles": 100000, "seed": "3", "t_end": 0.1}, "device": "GPU", "noCache": true}'
run particles_cpu CPU '{"particles": {"random_particles": 100000, "seed": "3", "t_end": 0.1}, "device": "CPU", "noCache": true}'

# The distance matrix of 10,000 uploaded points (the book's N), on each device.
awk 'BEGIN { srand(1); for (i = 0; i < 10000; i++) printf "%.9f,%.9f\n", rand(), rand() }' \
  >"$OUT/points.csv"
if "$BIN/impulse" dataset upload "$OUT/points.csv" --name points \
  --format points_csv -q >"$OUT/upload.txt" 2>&1; then
  for device in GPU CPU; do
    printf '{"distance_matrix": {"dataset": "points"}, "device": "%s", "noCache": true}\n' \
      "$device" >"$OUT/spec_dm.json"
    id="$("$BIN/impulse" submit --spec "$OUT/spec_dm.json")"
    "$BIN/impulse" watch "$id" >/dev/null 2>&1
    "$BIN/impulse" get "$id" >"$OUT/get_dm_$device.txt" 2>&1
    echo "service: distance_matrix_$device:" \
      "$(grep -E '^(state|device|started|ended)' "$OUT/get_dm_$device.txt" | tr -s ' ' | tr '\n' ' ')"
    grep -q "SUCCEEDED" "$OUT/get_dm_$device.txt" &&
      grep -q "placed on $device" "$OUT/get_dm_$device.txt" ||
      failures=$((failures + 1))
  done
else
  echo "service: dataset upload failed:"
  cat "$OUT/upload.txt"
  failures=$((failures + 1))
fi

# 3-D points have no GPU kernel: device GPU fails the job and says why.
awk 'BEGIN { for (i = 0; i < 100; i++) printf "%d,%d,%d\n", i, i % 7, i % 3 }' \
  >"$OUT/points3.csv"
"$BIN/impulse" dataset upload "$OUT/points3.csv" --name points3 \
  --format points_csv -q >/dev/null 2>&1
printf '%s\n' '{"distance_matrix": {"dataset": "points3"}, "device": "GPU"}' \
  >"$OUT/spec_dm3.json"
if "$BIN/impulse" run --spec "$OUT/spec_dm3.json" -q >"$OUT/run_dm3.txt" 2>&1 ||
  ! grep -q "2-D points" "$OUT/run_dm3.txt"; then
  echo "service: a 3-D distance matrix on the GPU should fail naming 2-D points:"
  cat "$OUT/run_dm3.txt"
  failures=$((failures + 1))
else
  echo "service: distance_matrix_3d_GPU refused: $(grep -m 1 "2-D" "$OUT/run_dm3.txt")"
fi

echo "service: $failures failure(s)"
[ "$failures" -eq 0 ]
