#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs the whole test suite.
# Ends with one line "N passed, N failed, N skipped" counted from the gtest
# results, and exits non-zero when anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh || exit 1

bazel build //... || { echo "0 passed, 1 failed (build)"; exit 1; }
bazel test //... "$@"
bazel_status=$?

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

testlogs=$(bazel info bazel-testlogs 2>/dev/null)
/usr/bin/python3 - "$testlogs" "$bazel_status" "${e2e_pass:-0}" "${e2e_fail:-0}" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET

root, bazel_status = sys.argv[1], int(sys.argv[2])
passed, failed, skipped = int(sys.argv[3]), int(sys.argv[4]), 0  # browser test
for path in glob.glob(os.path.join(root, "**", "test.xml"), recursive=True):
    try:
        tree = ET.parse(path).getroot()
    except ET.ParseError:
        failed += 1
        continue
    cases = tree.iter("testcase")
    any_case = False
    for case in cases:
        any_case = True
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("status") == "notrun" \
                or case.get("result") == "skipped":
            skipped += 1
        else:
            passed += 1
    if not any_case:  # a non-gtest target: one result for the whole target
        if tree.find(".//failure") is not None or tree.find(".//error") is not None:
            failed += 1
        else:
            passed += 1
if bazel_status != 0 and failed == 0:
    failed = 1  # bazel saw a failure (timeout, crash) that left no test case
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
