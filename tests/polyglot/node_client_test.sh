#!/usr/bin/env bash
# Polyglot: a Node.js producer and consumer (@grpc/grpc-js, stubs loaded from proto/ at run
# time) against pgqrsd: priorities, nack, a delayed message, stale receipts, stats.
# Its packages come from tests/polyglot/node/package-lock.json, installed by tools/dev.sh
# into the directory PGQRS_NODE_MODULES names. A missing node or package is a failure, never
# a skip. PGQRS_TEST_STORE picks the embedded store (engine or sqlite).
set -euo pipefail

RUNFILES="${TEST_SRCDIR}/pgqrs"
PGQRSD="${RUNFILES}/server/pgqrsd"
CLIENT="${RUNFILES}/tests/polyglot/node/queue_client.js"
TMP="${TEST_TMPDIR}/polyglot-node"
mkdir -p "${TMP}"

fail() { echo "FAIL: $*" >&2; [[ -f "${TMP}/pgqrsd.log" ]] && cat "${TMP}/pgqrsd.log" >&2; exit 1; }

command -v node >/dev/null || fail "node is missing (apt-get install nodejs)"
[[ -n "${PGQRS_NODE_MODULES:-}" ]] ||
  fail "PGQRS_NODE_MODULES is not set (tools/dev.sh test installs the packages and sets it)"
export NODE_PATH="${PGQRS_NODE_MODULES}"
node -e 'require("@grpc/grpc-js"); require("@grpc/proto-loader")' 2>/dev/null ||
  fail "@grpc/grpc-js or @grpc/proto-loader is missing under ${PGQRS_NODE_MODULES}"

"${PGQRSD}" --listen=127.0.0.1:0 --dsn="${PGQRS_TEST_STORE:?}://${TMP}/node.db" \
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

node "${CLIENT}" "${RUNFILES}" "127.0.0.1:${PORT}" node-orders >"${TMP}/client.out" 2>&1 ||
  fail "node client: $(cat "${TMP}/client.out")"
cat "${TMP}/client.out"
grep -q "consumed 21 messages" "${TMP}/client.out" || fail "the client did not finish"
echo "PASS"
