#!/usr/bin/env bash
# drain_check.sh: load N messages with random priorities into pgqrsd, drain them all through
# the daemon, then have stock sqlite3 judge the file: integrity_check, foreign_key_check and
# the message counts by state, compared with what the daemon itself reports.
#
#   tools/bench/drain_check.sh [--store=engine|sqlite] [--messages=1000000] [--priorities=10]
#                              [--consumers=8] [--batch=100] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."

STORE=engine
MESSAGES=1000000
PRIORITIES=10
CONSUMERS=8
BATCH=100
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --store=*) STORE="${arg#*=}" ;;
    --messages=*) MESSAGES="${arg#*=}" ;;
    --priorities=*) PRIORITIES="${arg#*=}" ;;
    --consumers=*) CONSUMERS="${arg#*=}" ;;
    --batch=*) BATCH="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    *) sed -n '2,7p' "$0" >&2; exit 2 ;;
  esac
done

if ((BUILD)); then
  bazel build -c opt //server:pgqrsd //tools/bench:pgqrs-bench //tools/pgqrs >&2
fi
BIN="$(bazel info -c opt bazel-bin 2>/dev/null)"
TMP="$(mktemp -d /tmp/pgqrs-drain.XXXXXX)"
DB="$TMP/drain.db"
DAEMON_PID=""
cleanup() {
  [[ -z "$DAEMON_PID" ]] || kill "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BIN/server/pgqrsd" --listen="127.0.0.1:$PORT" --dsn="$STORE://$DB" >"$TMP/pgqrsd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
cli() { "$BIN/tools/pgqrs/pgqrs" --server="127.0.0.1:$PORT" "$@"; }

echo "store $STORE, $MESSAGES messages, priorities 0..$((PRIORITIES - 1)), $CONSUMERS consumers," \
     "batch $BATCH, load $(cut -d' ' -f1-3 /proc/loadavg)"
cli queue create drain >/dev/null
"$BIN/tools/bench/pgqrs-bench" --server="127.0.0.1:$PORT" --queue=drain --scenario=drain \
  --preload="$MESSAGES" --priorities="$PRIORITIES" --consumers="$CONSUMERS" --batch="$BATCH" \
  --duration=3600s --progress=false --daemon-pid="$DAEMON_PID" >"$TMP/bench.json" 2>"$TMP/bench.err" ||
  { echo "pgqrs-bench failed: $(tail -n 3 "$TMP/bench.err")" >&2; exit 1; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print("drained %d messages at %.0f msgs/s, errors %s, daemon peak RSS %.0f MiB" % (d["messages"],
      d["throughput"], d["errors"] or 0, d.get("daemon", {}).get("peak_rss_mib", 0)))' "$TMP/bench.json"
daemon_stats="$(cli --output=json queue stats drain)"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=""

sql() { sqlite3 "$DB" "$1"; }
integrity="$(sql 'PRAGMA integrity_check')"
fk="$(sql 'PRAGMA foreign_key_check')"
by_state="$(sql 'SELECT state, count(*) FROM pgqrs_messages GROUP BY state ORDER BY state' | tr '\n' ' ')"
archived="$(sql 'SELECT count(*) FROM pgqrs_messages WHERE state = 2')"
echo "daemon: $daemon_stats"
echo "sqlite3: integrity_check $integrity; foreign_key_check ${fk:-clean}; rows by state (0 live," \
     "1 dead, 2 archived): $by_state"
daemon_archived="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("archived", 0))' \
  "$daemon_stats")"
if [[ "$integrity" == ok && -z "$fk" && "$archived" == "$MESSAGES" &&
      "$daemon_archived" == "$MESSAGES" && "$by_state" == "2|$MESSAGES " ]]; then
  echo "drain_check: PASS"
else
  echo "drain_check: FAIL"
  exit 1
fi
