#!/usr/bin/env bash
# steady_state.sh: does the database file stop growing when messages leave as fast as they
# arrive? Runs pgqrsd on a fresh file, drives a lifecycle workload (producers pause while
# the backlog is full, so enqueue rate = drain rate) and samples the file sizes.
#
#   tools/bench/steady_state.sh [--store=engine|sqlite] [--duration=600] [--sample=30]
#                               [--retention_ms=10000] [--batch=10] [--no-build]
#
# Acked messages are archived and kept for --retention_ms before the reaper deletes them,
# so the file holds about (rate x retention) archived rows at steady state. Prints one line
# per sample (seconds, database bytes, WAL bytes) and, after a clean stop, stock sqlite3's
# integrity_check, page_count and freelist_count of the file.
set -euo pipefail
cd "$(dirname "$0")/../.."

STORE=engine
DURATION=600
SAMPLE=30
RETENTION_MS=10000
BATCH=10
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --store=*) STORE="${arg#*=}" ;;
    --duration=*) DURATION="${arg#*=}" ;;
    --sample=*) SAMPLE="${arg#*=}" ;;
    --retention_ms=*) RETENTION_MS="${arg#*=}" ;;
    --batch=*) BATCH="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done

if ((BUILD)); then bazel build -c opt //server:pgqrsd //tools/bench:pgqrs-bench >&2; fi
BIN="$(bazel info -c opt bazel-bin 2>/dev/null)"
TMP="$(mktemp -d /tmp/pgqrs-steady.XXXXXX)"
DB="$TMP/steady.db"
DAEMON_PID=""
BENCH_PID=""
cleanup() {
  for pid in $BENCH_PID $DAEMON_PID; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BIN/server/pgqrsd" --listen="127.0.0.1:$PORT" --dsn="$STORE://$DB" \
  --archive_retention_ms="$RETENTION_MS" >"$TMP/pgqrsd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

echo "store $STORE, batch $BATCH, retention ${RETENTION_MS} ms, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/tools/bench/pgqrs-bench" --server="127.0.0.1:$PORT" --scenario=lifecycle \
  --batch="$BATCH" --warmup=0s --duration="${DURATION}s" --progress=false \
  --daemon-pid="$DAEMON_PID" >"$TMP/bench.json" 2>"$TMP/bench.err" &
BENCH_PID=$!

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
printf '%8s %14s %14s\n' seconds db_bytes wal_bytes
start=$SECONDS
while kill -0 "$BENCH_PID" 2>/dev/null; do
  printf '%8d %14d %14d\n' $((SECONDS - start)) "$(size "$DB")" "$(size "$DB-wal")"
  for _ in $(seq "$SAMPLE"); do
    kill -0 "$BENCH_PID" 2>/dev/null || break
    sleep 1
  done
done
wait "$BENCH_PID" || { echo "pgqrs-bench failed: $(tail -n 3 "$TMP/bench.err")" >&2; exit 1; }
BENCH_PID=""
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print("throughput %.0f msgs/s, %d messages, errors %s" % (d["throughput"], d["messages"],
      d["errors"] or 0))' "$TMP/bench.json"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=""
printf 'after stop: db %d bytes, integrity_check %s, page_count %s, freelist_count %s\n' \
  "$(size "$DB")" "$(sqlite3 "$DB" 'PRAGMA integrity_check')" \
  "$(sqlite3 "$DB" 'PRAGMA page_count')" "$(sqlite3 "$DB" 'PRAGMA freelist_count')"
