#!/usr/bin/env bash
# tools/ci/count_results.sh counts Catch2 test cases from each target's test.log, one case for
# a target without Catch2 counts, and one failure for a target that failed outside its cases.
set -euo pipefail

COUNT="${TEST_SRCDIR}/pgqrs/tools/ci/count_results.sh"
cd "${TEST_TMPDIR}"

testlog() {  # testlog TARGET_PATH LINE: a target's test.log with one summary line
  mkdir -p "bazel-testlogs/$1"
  printf '%s\n' "$2" >"bazel-testlogs/$1/test.log"
}
testlog t/all_passed 'All tests passed (12 assertions in 4 test cases)'
testlog t/some_failed 'test cases: 5 | 3 passed | 2 failed'
testlog t/none_passed 'test cases: 1 | 1 failed'
testlog t/crashed 'Segmentation fault'
testlog t/script 'PASS'
cat >bazel.log <<'LOG'
//t:all_passed                                   PASSED in 1.0s
//t:some_failed                                  FAILED in 2.0s
//t:none_passed                                  FAILED in 0.5s
//t:crashed                                      FAILED in 0.1s
//t:script                              (cached) PASSED in 3.0s
LOG

status=0
out=$(bash "${COUNT}" bazel.log) || status=$?
[[ "${out}" == "8 passed, 4 failed" ]] || { echo "FAIL: counted \"${out}\""; exit 1; }
[[ ${status} -ne 0 ]] || { echo "FAIL: exit status 0 with failures"; exit 1; }

printf '%s\n' '//t:all_passed        PASSED in 1.0s' >green.log
out=$(bash "${COUNT}" green.log) || { echo "FAIL: non-zero exit when all passed"; exit 1; }
[[ "${out}" == "4 passed, 0 failed" ]] || { echo "FAIL: counted \"${out}\""; exit 1; }

: >empty.log
out=$(bash "${COUNT}" empty.log) && { echo "FAIL: a log without targets passed"; exit 1; }
[[ "${out}" == "0 passed, 1 failed" ]] || { echo "FAIL: counted \"${out}\""; exit 1; }
echo PASS
