#!/usr/bin/env bash
# Polyglot: a Python client (Debian's python3-grpcio, stubs generated from proto/ now)
# publishes on a Publish stream and consumes on a Consume stream with credits, acking each
# message by itself; the CLI then finds every message archived. Missing python3 or grpc is a
# failure, never a skip. PGQRS_TEST_STORE picks the embedded store (engine or sqlite).
set -euo pipefail

RUNFILES="${TEST_SRCDIR}/pgqrs"
PGQRS="${RUNFILES}/tools/pgqrs/pgqrs"
CLIENT="${RUNFILES}/tests/polyglot/stream_client.py"
TMP="${TEST_TMPDIR}/polyglot-streams"
mkdir -p "${TMP}"

source "${RUNFILES}/tests/polyglot/common.sh"

make_python_stubs

start_pgqrsd --dsn="${PGQRS_TEST_STORE:?}://${TMP}/streams.db"
cli() { "${PGQRS}" --server="${SERVER}" --output=json "$@"; }

cli queue create py-streams >/dev/null || fail "queue create"
PYTHONPATH="${TMP}/gen" "${PY}" "${CLIENT}" "${SERVER}" py-streams 500 8 >"${TMP}/client.out" 2>&1 ||
  fail "stream client: $(cat "${TMP}/client.out")"
cat "${TMP}/client.out"

STATS=$(cli queue stats py-streams)
echo "${STATS}"
echo "${STATS}" | "${PY}" -c '
import json, sys
stats = json.load(sys.stdin)
assert int(stats.get("archived", 0)) == 500, stats
assert int(stats.get("pending", 0)) == 0 and int(stats.get("in_flight", 0)) == 0, stats
' || fail "expected 500 archived and nothing pending or in flight"
echo "PASS"
