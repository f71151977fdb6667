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

testlogs=$(bazel info bazel-testlogs 2>/dev/null)
/usr/bin/python3 - "$testlogs" "$bazel_status" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET

root, bazel_status = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
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
