#!/usr/bin/env bash
# Polyglot: a Python client (Debian's python3-grpcio, stubs generated from proto/ now)
# publishes on a Publish stream and consumes on a Consume stream with credits, acking each
# message by itself; the CLI then finds every message archived. Missing python3 or grpc is a
# failure, never a skip. PGQRS_TEST_STORE picks the embedded store (engine or sqlite).
set -euo pipefail

PY=/usr/bin/python3  # Debian's interpreter, where python3-grpcio is installed
RUNFILES="${TEST_SRCDIR}/pgqrs"
PGQRSD="${RUNFILES}/server/pgqrsd"
PGQRS="${RUNFILES}/tools/pgqrs/pgqrs"
CLIENT="${RUNFILES}/tests/polyglot/stream_client.py"
TMP="${TEST_TMPDIR}/polyglot-streams"
mkdir -p "${TMP}/gen"

fail() { echo "FAIL: $*" >&2; [[ -f "${TMP}/pgqrsd.log" ]] && cat "${TMP}/pgqrsd.log" >&2; exit 1; }

[[ -x "${PY}" ]] || fail "${PY} is missing (apt-get install python3 python3-grpcio python3-grpc-tools)"
"${PY}" -c 'import grpc, grpc_tools.protoc' 2>/dev/null ||
  fail "python3-grpcio or python3-grpc-tools is missing (apt-get install python3-grpcio python3-grpc-tools)"

"${PY}" -m grpc_tools.protoc -I"${RUNFILES}" -I/usr/lib/python3/dist-packages/grpc_tools/_proto \
  -I/usr/include --python_out="${TMP}/gen" --grpc_python_out="${TMP}/gen" \
  "${RUNFILES}"/proto/pgqrs/v1/*.proto || fail "protoc could not generate the Python stubs"

: >"${TMP}/pgqrsd.log"  # exists before the first look for the port
"${PGQRSD}" --listen=127.0.0.1:0 --dsn="${PGQRS_TEST_STORE:?}://${TMP}/streams.db" \
  2>"${TMP}/pgqrsd.log" &
DAEMON=$!
trap 'kill -9 ${DAEMON} 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 200); do
  PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "${TMP}/pgqrsd.log" | head -1)
  [[ -n "${PORT}" ]] && break
  sleep 0.05
done
[[ -n "${PORT}" ]] || fail "pgqrsd did not start"
SERVER="127.0.0.1:${PORT}"
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
