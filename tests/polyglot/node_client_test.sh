#!/usr/bin/env bash
# Polyglot: Node.js producers and consumers (@grpc/grpc-js, stubs loaded from proto/ at run
# time) against pgqrsd: unary calls (priorities, nack, a delayed message, stale receipts,
# stats), then the Publish and Consume streams (pipelined confirms, pushes within credits,
# acks on the stream).
# Its packages come from tests/polyglot/node/package-lock.json, installed by tools/dev.sh
# into the directory PGQRS_NODE_MODULES names. A missing node or package is a failure, never
# a skip. PGQRS_TEST_STORE picks the embedded store (engine or sqlite).
set -euo pipefail

RUNFILES="${TEST_SRCDIR}/pgqrs"
NODE_CLIENTS="${RUNFILES}/tests/polyglot/node"
TMP="${TEST_TMPDIR}/polyglot-node"
mkdir -p "${TMP}"

source "${RUNFILES}/tests/polyglot/common.sh"

command -v node >/dev/null || fail "node is missing (apt-get install nodejs)"
[[ -n "${PGQRS_NODE_MODULES:-}" ]] ||
  fail "PGQRS_NODE_MODULES is not set (tools/dev.sh test installs the packages and sets it)"
export NODE_PATH="${PGQRS_NODE_MODULES}"
node -e 'require("@grpc/grpc-js"); require("@grpc/proto-loader")' 2>/dev/null ||
  fail "@grpc/grpc-js or @grpc/proto-loader is missing under ${PGQRS_NODE_MODULES}"

start_pgqrsd --dsn="${PGQRS_TEST_STORE:?}://${TMP}/node.db"

node "${NODE_CLIENTS}/queue_client.js" "${RUNFILES}" "${SERVER}" node-orders \
  >"${TMP}/unary.out" 2>&1 || fail "node unary client: $(cat "${TMP}/unary.out")"
cat "${TMP}/unary.out"
grep -q "consumed 21 messages" "${TMP}/unary.out" || fail "the unary client did not finish"

node "${NODE_CLIENTS}/stream_client.js" "${RUNFILES}" "${SERVER}" node-stream 200 8 \
  >"${TMP}/stream.out" 2>&1 || fail "node stream client: $(cat "${TMP}/stream.out")"
cat "${TMP}/stream.out"
grep -q "streamed 200 messages" "${TMP}/stream.out" || fail "the stream client did not finish"
echo "PASS"
