#!/usr/bin/env bash
# compare.sh: pgqrsd against its yardsticks, on this machine, in one go, in one table.
#
#   tools/bench/compare.sh [--duration=5s] [--warmup=1s] [--producers=4] [--consumers=4]
#                          [--payload=100] [--parked=10000] [--postgres-dsn=postgres://...]
#                          [--with-postgres] [--pgqrsd=BINARY] [--no-build] [--out=FILE]
#                          [--drain=100000] [--stores=sqlite,engine] [--stream-window=16]
#
# --with-postgres starts a throwaway PostgreSQL (tools/pg/cluster.sh) with fsync turned
# back on, so its rows are durable like the others. --pgqrsd runs another daemon binary
# (e.g. one built from another commit) with the same tools.
#
# Rows (same producers, consumers, payload and batch in every lifecycle row):
#   ping                the bare gRPC transport (GetServerInfo per call, no storage)
#   pgqrsd/<store>      every storage DSN the daemon accepts (sqlite always; engine and
#                       postgres when this build has them), batch 1 and batch 100, and
#                       batch 1 over the Publish and Consume streams (pgqrs-stream: every
#                       message enqueued and acked by itself, each answer durable and
#                       checked; each producer and consumer keeps up to --stream-window
#                       requests in flight, as publisher confirms are used; 1: each
#                       request waits for its answer before the next)
#   beanstalkd -f0      binlog, fsync on every write before the reply (durable like pgqrsd)
#   beanstalkd -f50     binlog, fsync at most every 50 ms (beanstalkd's default)
#   store-bench         the same transactions in-process on the Store (no gRPC), for
#                       sqlite and engine (and postgres, batch 1)
#   pgmq (pgbench)      with postgres: pgmq's send, read (SKIP LOCKED) and archive SQL on
#                       the same server through pgbench, producers + consumers clients,
#                       batch 1 and 100 (tools/bench/pgmq_baseline)
#   drain               --drain=N messages preloaded, then drained by the consumers
#                       (pgqrsd on sqlite and engine; 0 skips it)
#   longpoll            N parked Dequeue calls: daemon threads, RSS and wake latency
# The daemons listen on free 127.0.0.1 ports, keep their data in a temp dir, and are
# stopped on exit. The whole script takes about 3-5 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/redact.sh

DURATION=5s
WARMUP=1s
PRODUCERS=4
CONSUMERS=4
PAYLOAD=100
PARKED=10000
POSTGRES_DSN="${PGQRS_BENCH_POSTGRES_DSN:-}"
WITH_POSTGRES=0
PGQRSD=""
BUILD=1
OUT=""
DRAIN=100000
STORES="sqlite,sqlite-normal,engine"
STREAM_WINDOW=16
for arg in "$@"; do
  case "$arg" in
    --duration=*) DURATION="${arg#*=}" ;;
    --warmup=*) WARMUP="${arg#*=}" ;;
    --producers=*) PRODUCERS="${arg#*=}" ;;
    --consumers=*) CONSUMERS="${arg#*=}" ;;
    --payload=*) PAYLOAD="${arg#*=}" ;;
    --parked=*) PARKED="${arg#*=}" ;;
    --postgres-dsn=*) POSTGRES_DSN="${arg#*=}" ;;
    --with-postgres) WITH_POSTGRES=1 ;;
    --pgqrsd=*) PGQRSD="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    --out=*) OUT="${arg#*=}" ;;
    --drain=*) DRAIN="${arg#*=}" ;;
    --stores=*) STORES="${arg#*=}" ;;
    --stream-window=*) STREAM_WINDOW="${arg#*=}" ;;
    *) sed -n '2,33p' "$0" >&2; exit 2 ;;
  esac
done

if ((BUILD)); then
  bazel build -c opt //server:pgqrsd //tools/bench:pgqrs-bench //tools/bench:store-bench >&2
fi
BIN="$(bazel info -c opt bazel-bin 2>/dev/null)"
PGQRSD="${PGQRSD:-$BIN/server/pgqrsd}"
BENCH="$BIN/tools/bench/pgqrs-bench"
STORE_BENCH="$BIN/tools/bench/store-bench"

TMP="$(mktemp -d /tmp/pgqrs-compare.XXXXXX)"
RESULTS="$TMP/results.jsonl"
DAEMON_PID=""
PG_DIR=""
cleanup() {
  if [[ -n "$DAEMON_PID" ]]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
  if [[ -n "$PG_DIR" ]]; then
    tools/pg/cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_daemon NAME COMMAND...: runs COMMAND (with $PORT set) in the background and waits
# until something listens on $PORT. Returns 1 (and prints the log) if it exits first.
start_daemon() {
  local name="$1"
  shift
  "$@" >"$TMP/$name.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 200); do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      echo "  $name did not start: $(tail -n 1 "$TMP/$name.log")" >&2
      wait "$DAEMON_PID" 2>/dev/null || true
      DAEMON_PID=""
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "  $name did not listen on $PORT" >&2
  stop_daemon
  return 1
}

stop_daemon() {
  [[ -n "$DAEMON_PID" ]] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=""
}

# run LABEL DURABILITY BINARY ARGS...: one benchmark run; its JSON line, tagged, goes to
# $RESULTS.
run() {
  local label="$1" durability="$2"
  shift 2
  echo "== $label: $(redact_secrets "$*")" >&2
  local line
  if line="$("$@" --warmup="$WARMUP" --duration="$DURATION" --payload="$PAYLOAD" \
      --producers="$PRODUCERS" --consumers="$CONSUMERS" --progress=false 2>"$TMP/run.err")"; then
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["label"]=sys.argv[2];
d["durability"]=sys.argv[3]; print(json.dumps(d))' "$line" "$label" "$durability" >>"$RESULTS"
  else
    echo "  failed: $(redact_secrets "$(tail -n 2 "$TMP/run.err")")" >&2
  fi
}

# Every pgqrsd scenario row for one DSN.
bench_pgqrsd() {
  local name="$1" dsn="$2" durability="$3"
  PORT="$(free_port)"
  # The long-poll row parks $PARKED calls over 20 connections: raise the daemon's caps
  # (--max_long_polls, --max_long_polls_per_connection) above that, or the row measures refusals.
  start_daemon "pgqrsd-$name" "$PGQRSD" --listen="127.0.0.1:$PORT" --dsn="$dsn" \
      --max_long_polls=$((PARKED + 1000)) --max_long_polls_per_connection="$PARKED" || return 0
  local common=(--server="127.0.0.1:$PORT" --daemon-pid="$DAEMON_PID")
  if [[ "$name" == sqlite ]]; then
    run "ping (transport limit)" "none" "$BENCH" --target=ping --scenario=lifecycle --batch=1 \
        "${common[@]}"
  fi
  run "pgqrsd $name" "$durability" "$BENCH" --scenario=lifecycle --batch=1 "${common[@]}"
  run "pgqrsd $name" "$durability" "$BENCH" --scenario=lifecycle --batch=100 "${common[@]}"
  run "pgqrsd $name, streaming lifecycle, window $STREAM_WINDOW" "$durability" "$BENCH" \
      --target=pgqrs-stream --window="$STREAM_WINDOW" --scenario=lifecycle --batch=1 \
      "${common[@]}"
  run "pgqrsd $name" "$durability" "$BENCH" --scenario=enqueue --batch=1 "${common[@]}"
  if [[ "$name" == sqlite ]]; then
    run "pgqrsd $name" "$durability" "$BENCH" --scenario=longpoll --parked="$PARKED" \
        --wakes=100 --channels=20 "${common[@]}"
  fi
  if ((DRAIN > 0)) && [[ "$name" == sqlite || "$name" == engine ]]; then
    run "pgqrsd $name" "$durability" "$BENCH" --scenario=drain --batch=100 \
        --preload="$DRAIN" --messages="$DRAIN" "${common[@]}"
  fi
  stop_daemon
}

# wanted NAME: whether --stores lists NAME.
wanted() { [[ ",$STORES," == *",$1,"* ]]; }

bench_beanstalkd() {
  local name="$1" durability="$2"
  shift 2
  PORT="$(free_port)"
  mkdir -p "$TMP/$name"
  start_daemon "$name" beanstalkd -l 127.0.0.1 -p "$PORT" -b "$TMP/$name" "$@" || return 0
  local common=(--target=beanstalk --server="127.0.0.1:$PORT" --daemon-pid="$DAEMON_PID")
  run "$name" "$durability" "$BENCH" --scenario=lifecycle --batch=1 "${common[@]}"
  run "$name" "$durability" "$BENCH" --scenario=lifecycle --batch=100 "${common[@]}"
  run "$name" "$durability" "$BENCH" --scenario=enqueue --batch=1 "${common[@]}"
  stop_daemon
}

# pgmq_baseline BATCH: the pgmq-style baseline on $POSTGRES_DSN, as one result line.
pgmq_baseline() {
  echo "== pgmq (pgbench): batch $1" >&2
  local line
  if line="$(python3 tools/bench/pgmq_baseline/run.py --dsn="$POSTGRES_DSN" --batch="$1" \
      --clients=$((PRODUCERS + CONSUMERS)) --payload="$PAYLOAD" --warmup="$WARMUP" \
      --duration="$DURATION" 2>"$TMP/run.err")"; then
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["label"]="pgmq (pgbench)";
d["durability"]=sys.argv[2]; print(json.dumps(d))' "$line" "$STRICT" >>"$RESULTS"
  else
    echo "  failed: $(redact_secrets "$(tail -n 2 "$TMP/run.err")")" >&2
  fi
}

describe_machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)," \
       "kernel $(uname -r)"
  echo "temp dir: $(df -hT "$TMP" | awk 'NR==2 {print $2 " on " $1}')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# pg_sql PORT STATEMENT...: runs each statement as the cluster's superuser.
pg_sql() {
  local args=(psql -qAt -h "$PG_DIR" -p "$1" -d postgres)
  shift
  for statement in "$@"; do args+=(-c "$statement"); done
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "${args[@]}"; else "${args[@]}"; fi
}

# A throwaway PostgreSQL cluster. The test cluster runs with fsync off; the benchmark
# turns it back on (a reload suffices) so a commit is durable before pgqrsd replies.
start_postgres() {
  PG_DIR="$(mktemp -d /tmp/pgqrs-compare-pg.XXXXXX)"  # cluster.sh hands it to postgres
  eval "$(tools/pg/cluster.sh start "$PG_DIR")"
  local port="${PGQRS_TEST_PG_DSN##*:}"
  port="${port%%/*}"
  pg_sql "$port" "ALTER SYSTEM SET fsync = on" "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5  # the reload is asynchronous
  if [[ "$(pg_sql "$port" "SHOW fsync")" != on ]]; then
    echo "  postgres: fsync is still off" >&2
    return 1
  fi
  POSTGRES_DSN="$PGQRS_TEST_PG_DSN"
}

describe_machine >"$TMP/machine.txt"
cat "$TMP/machine.txt" >&2

STRICT="durable: fsync before reply"
if wanted sqlite; then bench_pgqrsd sqlite "sqlite://$TMP/pgqrs.db" "$STRICT"; fi
if wanted sqlite-normal; then
  bench_pgqrsd sqlite-normal "sqlite://$TMP/pgqrs-normal.db?synchronous=normal" \
      "WAL, fsync at checkpoint"
fi
if wanted engine; then bench_pgqrsd engine "engine://$TMP/pgqrs-engine.db" "$STRICT"; fi
if ((WITH_POSTGRES)) && [[ -z "$POSTGRES_DSN" ]]; then
  start_postgres || echo "  postgres did not start; no postgres rows" >&2
fi
if [[ -n "$POSTGRES_DSN" ]]; then
  bench_pgqrsd postgres "$POSTGRES_DSN" "$STRICT"
  for batch in 1 100; do pgmq_baseline "$batch"; done
fi
bench_beanstalkd "beanstalkd -f0" "$STRICT" -f 0
bench_beanstalkd "beanstalkd -f50" "binlog, fsync every 50 ms"
for store in sqlite engine; do
  wanted "$store" || continue
  for batch in 1 100; do
    run "store-bench $store" "$STRICT" "$STORE_BENCH" --dsn="$store://$TMP/store-$store.db" \
        --scenario=lifecycle --batch="$batch"
  done
  run "store-bench $store" "$STRICT" "$STORE_BENCH" --dsn="$store://$TMP/store-$store.db" \
      --scenario=enqueue --batch=1
done
if [[ -n "$POSTGRES_DSN" ]]; then
  run "store-bench postgres" "$STRICT" "$STORE_BENCH" --dsn="$POSTGRES_DSN" \
      --scenario=lifecycle --batch=1
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$TMP/machine.txt"

report() {
  cat "$TMP/machine.txt"
  echo "held equal: producers $PRODUCERS, consumers $CONSUMERS, payload $PAYLOAD B," \
       "warm-up $WARMUP, measured $DURATION per row, one client process on the same machine"
  python3 tools/bench/compare_table.py "$RESULTS"
}
if [[ -n "$OUT" ]]; then report | tee "$OUT"; else report; fi
