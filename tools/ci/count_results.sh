#!/usr/bin/env bash
# Prints "N passed, M failed" from a `bazel test` log: Catch2 test cases counted from each
# target's test.log; a target without Catch2 counts, or one that failed outside its cases
# (crash, timeout, build failure), counts as one. Exits non-zero if anything failed.
set -uo pipefail
log=$1
passed=0
failed=0
targets=0
while read -r target status; do
  targets=$((targets + 1))
  testlog="bazel-testlogs/${target#//}"
  testlog="${testlog/://}/test.log"
  p=0
  f=0
  if [[ -f $testlog ]]; then
    if line=$(grep -E '^All tests passed \(' "$testlog" | tail -1) && [[ -n $line ]]; then
      p=$(sed -E 's/.* in ([0-9]+) test case.*/\1/' <<<"$line")
    elif line=$(grep -E '^test cases: ' "$testlog" | tail -1) && [[ -n $line ]]; then
      # Catch2 leaves out "N passed" when none passed ("test cases: 1 | 1 failed").
      p=$(sed -nE 's/.*\| *([0-9]+) passed.*/\1/p' <<<"$line")
      p=${p:-0}
      f=$(sed -nE 's/.*\| *([0-9]+) failed.*/\1/p' <<<"$line")
      f=${f:-0}
    fi
  fi
  if [[ $status == PASSED ]]; then
    ((p == 0)) && p=1
  elif ((f == 0)); then
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
done < <(grep -E '^//[^ ]+ +(\(cached\) )?(PASSED|FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|FLAKY)' "$log" |
  sed -E 's/^(\/\/[^ ]+) +(\(cached\) )?(PASSED|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|FLAKY).*/\1 \3/' |
  sed -E 's/ (FAILED TO BUILD|NO STATUS)$/ FAILED/')
if ((targets == 0)); then
  failed=$((failed + 1))  # nothing ran: the build or analysis failed
fi
echo "${passed} passed, ${failed} failed"
((failed == 0))
