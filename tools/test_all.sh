#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs the whole test suite:
#   1. bazel test //... (gcc -O3; includes the fuzz regression tests),
#   2. the dashboard in a real browser,
#   3. ASan+UBSan (--config=asan): the unit, integration, REST, security,
#      CLI, fault (journal faults, kill -9 recovery), cluster (three
#      replicas, Redis, haproxy), load and fuzz regression tests, every
#      sanitizer error fatal,
#   4. TSan (--config=tsan): the unit tests of the server's core, cluster
#      store, metrics and kernels (the concurrency tests and every parallel
#      loop among them), the REST gateway's, the gRPC integration suites, the
#      token/tenant/TLS, CLI, journal fault and fuzz regression tests,
#   5. a short libFuzzer run of every fuzz target (clang-14).
# Prints one line per stage, then "N passed, N failed, N skipped" over all
# stages, counted from the test results, and exits non-zero when anything
# failed or did not build. Arguments go to every bazel test.
#
# IMPULSE_SANITIZERS=0 skips stages 3 and 4 and IMPULSE_FUZZ_SECONDS=0 stage 5
# (a quick local run; CI runs all).
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh || exit 1

# Stage 3 leaves out the 1,000-client SSE load test (it times out under ASan
# on 2 cores), the GPU tests (CUDA code is not instrumented; they skip
# without a GPU anyway) and the browser test, and what is bound to fail
# instrumented: the slow-watcher test's memory bound and the Dockerfile
# test's ldd check (it then lists libasan), both seen failing. The kill -9
# recovery (about 40 s under ASan), cluster (25 s) and load tests run.
ASAN_TESTS=(
  //tests/unit/... //tests/integration/... //tests/rest/... //tests/fuzz/...
  //tests/security/... //tests/cli/... //tests/cluster/... //tests/load/...
  //tests/fault:journal_fault_test //tests/fault:crash_recovery_test
  //client:spec_from_flags_test
  -//tests/rest:sse_fanout_test
)
# Stage 4: the unit tests of the server's own threads: JobManager, journal,
# scheduler, event logs, dataset store, both job stores (the Redis one with
# its claim and heartbeat threads, against a real redis-server) and metrics;
# the kernels' parallel loops (//tests/unit/cpu, //tests/unit/analytics); the
# REST gateway against a real ImpulseServer (sessions, SSE watchers, submits
# answered from the journal's thread); the CompletionQueue bridge's
# operations alone (tests/unit/grpc) and the gRPC integration suites
# (watchers, drain, uploads, Execute); and the token and tenant checks on
# every route of both APIs, with TLS; the CLI suites; the journal fault test
# (its file-size-limit cases skip: the TSan runtime dies under ulimit -f);
# and the fuzz regression tests. Test servers run their kernels on two
# threads here too, so loops split. TSan needs every happens-before edge to
# be visible; see tools/sanitizers/tsan.supp for the uninstrumented libraries
# and how oneTBB's and the gRPC bridge's hand-offs are annotated. Left out
# (stage 3 runs them), each tried: the kill -9 recovery test (205 s
# instrumented), the cluster test (its instrumented replicas miss its
# takeover deadlines) and the load tests (the load generator's own
# CompletionQueue hand-offs are not annotated, so TSan reports them); and
# what stage 3 leaves out.
TSAN_TESTS=(
  //tests/unit/core/... //tests/unit/cluster/... //tests/unit/metrics/...
  //tests/unit/grpc/... //tests/unit/cpu/... //tests/unit/analytics/...
  //tests/rest:router_test //tests/rest:rest_gateway_test
  //tests/rest:rest_datasets_test //tests/integration/...
  //tests/security/... //tests/cli/... //tests/fuzz/...
  //tests/fault:journal_fault_test //client:spec_from_flags_test
)
# The options of .bazelrc's test:tsan plus the suppressions file, which
# needs an absolute path (tests run in their runfiles directory).
TSAN_ENV="--test_env=TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1"
TSAN_ENV+=":suppressions=$PWD/tools/sanitizers/tsan.supp"

bazel build //... || { echo "0 passed, 1 failed (build)"; exit 1; }
bazel test //... "$@"
bazel_status=$?
testlogs=$(bazel info bazel-testlogs 2>/dev/null)

# The dashboard in a real browser (headless Debian chromium + playwright-core).
e2e_log=$(mktemp)
tools_bin=$(bazel info bazel-bin 2>/dev/null)
tests/e2e/run.sh "$tools_bin/server/impulsed" 2>&1 | tee "$e2e_log"
e2e_status=${PIPESTATUS[0]}
e2e_pass=$(sed -n 's/^[^a-z]*pass \([0-9][0-9]*\)$/\1/p' "$e2e_log" | tail -n 1)
e2e_fail=$(sed -n 's/^[^a-z]*fail \([0-9][0-9]*\)$/\1/p' "$e2e_log" | tail -n 1)
if [[ -z "$e2e_pass" || ( $e2e_status -ne 0 && "${e2e_fail:-0}" -eq 0 ) ]]; then
  e2e_fail=$(( ${e2e_fail:-0} + 1 ))  # the browser test did not run to its summary
fi

# Sanitizer stages. Each config builds in its own output directory, so the
# normal build above stays as it is (and bazel-bin keeps pointing at it).
# A stage counts only its own targets' results.
stage_args=()
run_sanitizer_stage() {  # name config [extra bazel test flags...]
  local name=$1 config=$2
  shift 2
  local status labels logs include=() exclude=() t
  echo "=== $name (--config=$config) ==="
  bazel test --config="$config" -k "$@" -- "${STAGE_TARGETS[@]}"
  status=$?
  for t in "${STAGE_TARGETS[@]}"; do
    if [[ $t == -* ]]; then exclude+=("${t#-}"); else include+=("$t"); fi
  done
  labels=$(bazel query "tests(set(${include[*]})) except set(${exclude[*]})" \
           2>/dev/null | tr '\n' ' ')
  logs=$(bazel info --config="$config" bazel-testlogs 2>/dev/null)
  stage_args+=("$name" "$status" "$logs" "$labels")
}
if [[ "${IMPULSE_SANITIZERS:-1}" != 0 ]]; then
  STAGE_TARGETS=("${ASAN_TESTS[@]}")
  run_sanitizer_stage asan asan "$@"
  STAGE_TARGETS=("${TSAN_TESTS[@]}")
  run_sanitizer_stage tsan tsan "$TSAN_ENV" "$@"
fi

# A short libFuzzer run of every fuzz target (clang-14, ASan+UBSan; see
# tools/fuzz.sh): IMPULSE_FUZZ_SECONDS each (default 10, 0 skips). A target
# passes when libFuzzer ends its time without a crash, hang or leak; the
# finding is left in fuzz-out/TARGET/ with the command to reproduce it.
fuzz_pass=0
fuzz_fail=0
fuzz_seconds=${IMPULSE_FUZZ_SECONDS:-10}
if [[ "$fuzz_seconds" != 0 ]]; then
  echo "=== libFuzzer (${fuzz_seconds}s per target) ==="
  for target in $(tools/fuzz.sh --list); do
    if tools/fuzz.sh "$target" "$fuzz_seconds" >"/tmp/impulse-fuzz-$target.log" 2>&1; then
      fuzz_pass=$((fuzz_pass + 1))
      echo "  $target: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' \
        "/tmp/impulse-fuzz-$target.log" | grep -o '[0-9]*$') inputs)"
    else
      fuzz_fail=$((fuzz_fail + 1))
      echo "  $target: FAILED"
      tail -n 40 "/tmp/impulse-fuzz-$target.log"
    fi
  done
fi

FUZZ_PASS=$fuzz_pass FUZZ_FAIL=$fuzz_fail \
/usr/bin/python3 - "$testlogs" "$bazel_status" "${e2e_pass:-0}" "${e2e_fail:-0}" \
    "${stage_args[@]}" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET

def count(paths, bazel_status):
    """passed, failed, skipped over gtest cases (a non-gtest target is one)."""
    passed = failed = skipped = 0
    for path in paths:
        if not os.path.exists(path):
            failed += 1  # did not build or did not run
            continue
        try:
            tree = ET.parse(path).getroot()
        except ET.ParseError:
            failed += 1
            continue
        any_case = False
        for case in tree.iter("testcase"):
            any_case = True
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None or case.get("status") == "notrun" \
                    or case.get("result") == "skipped":
                skipped += 1
            else:
                passed += 1
        if not any_case:
            if tree.find(".//failure") is not None or tree.find(".//error") is not None:
                failed += 1
            else:
                passed += 1
    if bazel_status != 0 and failed == 0:
        failed = 1  # bazel saw a failure (timeout, crash) that left no test case
    return passed, failed, skipped

args = sys.argv[1:]
root, bazel_status = args[0], int(args[1])
e2e_pass, e2e_fail = int(args[2]), int(args[3])
stages = []
p, f, s = count(glob.glob(os.path.join(root, "**", "test.xml"), recursive=True),
                bazel_status)
stages.append(("tests", p + e2e_pass, f + e2e_fail, s))
rest = args[4:]
for i in range(0, len(rest), 4):
    name, status, logs, labels = rest[i], int(rest[i + 1]), rest[i + 2], rest[i + 3]
    paths = []
    for label in labels.split():
        package, _, target = label.lstrip("/").partition(":")
        paths.append(os.path.join(logs, package, target, "test.xml"))
    if not paths:
        paths = [""]  # the query failed: count the stage as failed
    stages.append((name,) + count(paths, status))
if os.environ.get("FUZZ_PASS", "0") != "0" or os.environ.get("FUZZ_FAIL", "0") != "0":
    stages.append(("libfuzzer", int(os.environ["FUZZ_PASS"]),
                   int(os.environ["FUZZ_FAIL"]), 0))
for name, p, f, s in stages:
    print(f"  {name}: {p} passed, {f} failed, {s} skipped")
total = [sum(stage[k] for stage in stages) for k in (1, 2, 3)]
print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
sys.exit(1 if total[1] else 0)
PY
