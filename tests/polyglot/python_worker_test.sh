#!/usr/bin/env bash
# Polyglot: a Python worker (Debian's python3-grpcio, stubs generated from proto/ now)
# runs a 3-step workflow that the pgqrs CLI started. The first worker process crashes
# after two steps; a second one resumes the run once the lease expires, replays the two
# completed steps and runs the third. Every step's side effect happens exactly once.
# Missing python3 or grpc is a failure, never a skip. PGQRS_TEST_STORE picks the embedded
# store (engine or sqlite).
set -euo pipefail

RUNFILES="${TEST_SRCDIR}/pgqrs"
PGQRS="${RUNFILES}/tools/pgqrs/pgqrs"
WORKER="${RUNFILES}/tests/polyglot/workflow_worker.py"
TMP="${TEST_TMPDIR}/polyglot"
mkdir -p "${TMP}"

source "${RUNFILES}/tests/polyglot/common.sh"

make_python_stubs

start_pgqrsd --dsn="${PGQRS_TEST_STORE:?}://${TMP}/poly.db" --visibility_reaper_interval_ms=100
cli() { "${PGQRS}" --server="${SERVER}" --output=json "$@"; }

cli workflow create py-pipeline >/dev/null || fail "workflow create"
RUN_ID=$(cli run start py-pipeline '{"n":7}' | "${PY}" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ -n "${RUN_ID}" ]] || fail "run start printed no id"

EFFECTS="${TMP}/effects"
: >"${EFFECTS}"
export PYTHONPATH="${TMP}/gen"
"${PY}" "${WORKER}" "${SERVER}" py-pipeline "${EFFECTS}" --crash-after 2 >"${TMP}/first.out" ||
  fail "first worker: $(cat "${TMP}/first.out")"
grep -q "claimed ${RUN_ID}" "${TMP}/first.out" || fail "first worker did not claim run ${RUN_ID}"

# The crashed worker's lease (1.5 s) expires; the second worker's parked claim gets the run.
"${PY}" "${WORKER}" "${SERVER}" py-pipeline "${EFFECTS}" >"${TMP}/second.out" ||
  fail "second worker: $(cat "${TMP}/second.out")"
cat "${TMP}/first.out" "${TMP}/second.out"
grep -q "claimed ${RUN_ID}" "${TMP}/second.out" || fail "second worker did not resume run ${RUN_ID}"
grep -q "step fetch STEP_OUTCOME_COMPLETED" "${TMP}/second.out" || fail "fetch was not replayed"
grep -q "step transform STEP_OUTCOME_COMPLETED" "${TMP}/second.out" || fail "transform was not replayed"
grep -q "step store STEP_OUTCOME_STARTED" "${TMP}/second.out" || fail "store did not start"

[[ "$(sort "${EFFECTS}" | tr '\n' ' ')" == "fetch store transform " ]] ||
  fail "side effects not exactly once each: $(tr '\n' ' ' <"${EFFECTS}")"

RESULT=$(cli run wait "${RUN_ID}" --timeout-ms 5000)
echo "${RESULT}"
echo "${RESULT}" | "${PY}" -c '
import json, sys
run = json.load(sys.stdin)
assert run["status"] == "RUN_STATUS_SUCCEEDED", run
# n=7: fetch 7, transform 14, store 21
assert json.loads(run["output_json"]) == {"total": 42}, run
' || fail "run did not succeed with the expected output"
STEPS=$(cli run steps "${RUN_ID}" | wc -l)
[[ "${STEPS}" -eq 3 ]] || fail "expected 3 steps, got ${STEPS}"
echo "PASS"
