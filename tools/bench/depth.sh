#!/usr/bin/env bash
# depth.sh: does a dequeue get slower as the queue gets deeper? For each store and depth,
# a fresh daemon gets DEPTH pending messages, then the batch-1 lifecycle runs against it
# (4 producers, 4 consumers: the depth stays about the same) and the dequeue call's p50 and
# p99 are printed, with the ratio of each depth's p50 to the shallowest one's.
#
#   tools/bench/depth.sh [--stores=engine,sqlite] [--depths=10000,100000,1000000]
#                        [--duration=5s] [--postgres-dsn=postgres://...] [--no-build]
#
# 10,000,000 takes minutes of preloading per store (about 1.5 GB on disk each); pass it in
# --depths by hand. Daemons listen on free 127.0.0.1 ports and keep data in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/../.."

STORES="engine,sqlite"
DEPTHS="10000,100000,1000000"
DURATION=5s
POSTGRES_DSN=""
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --stores=*) STORES="${arg#*=}" ;;
    --depths=*) DEPTHS="${arg#*=}" ;;
    --duration=*) DURATION="${arg#*=}" ;;
    --postgres-dsn=*) POSTGRES_DSN="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done

if ((BUILD)); then bazel build -c opt //server:pgqrsd //tools/bench:pgqrs-bench >&2; fi
BIN="$(bazel info -c opt bazel-bin 2>/dev/null)"
TMP="$(mktemp -d)"
DAEMON_PID=""
cleanup() {
  [[ -n "$DAEMON_PID" ]] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# dsn_for STORE DEPTH: a fresh database for one run (PostgreSQL: a fresh schema).
dsn_for() {
  case "$1" in
    engine | sqlite) echo "$1://$TMP/$1-$2.db" ;;
    postgres)
      [[ -n "$POSTGRES_DSN" ]] || { echo "postgres needs --postgres-dsn" >&2; exit 2; }
      local sep='?'
      [[ "$POSTGRES_DSN" == *\?* ]] && sep='&'
      echo "${POSTGRES_DSN}${sep}schema=depth_$2"
      ;;
    *) echo "unknown store $1" >&2; exit 2 ;;
  esac
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %10s %12s %12s %10s %12s\n' store depth "p50 (ms)" "p99 (ms)" "msgs/s" "p50 / first"
IFS=, read -ra stores <<<"$STORES"
IFS=, read -ra depths <<<"$DEPTHS"
for store in "${stores[@]}"; do
  first=""
  for depth in "${depths[@]}"; do
    port="$(free_port)"
    "$BIN/server/pgqrsd" --listen="127.0.0.1:$port" --dsn="$(dsn_for "$store" "$depth")" \
      2>"$TMP/pgqrsd.log" &
    DAEMON_PID=$!
    listening=0
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then listening=1; break; fi
      kill -0 "$DAEMON_PID" 2>/dev/null || break
      sleep 0.1
    done
    if ((!listening)); then echo "pgqrsd did not start: $(tail -n 2 "$TMP/pgqrsd.log")" >&2; exit 1; fi
    line="$("$BIN/tools/bench/pgqrs-bench" --server="127.0.0.1:$port" --scenario=lifecycle \
      --batch=1 --producers=4 --consumers=4 --pending="$depth" --warmup=1s \
      --duration="$DURATION" --progress=false --daemon-pid="$DAEMON_PID" 2>"$TMP/bench.err")" ||
      { echo "pgqrs-bench failed: $(tail -n 2 "$TMP/bench.err")" >&2; exit 1; }
    kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=""
    read -r p50 p99 rate < <(python3 -c 'import json,sys; d=json.loads(sys.argv[1]);
c=d["calls"]["dequeue"]; print(c["p50"]/1000, c["p99"]/1000, d["throughput"])' "$line")
    first="${first:-$p50}"
    printf '%-9s %10d %12.2f %12.2f %10.0f %12.2f\n' "$store" "$depth" "$p50" "$p99" "$rate" \
      "$(python3 -c "print($p50 / $first)")"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
