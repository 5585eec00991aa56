#!/usr/bin/env bash
# encryption.sh: the queue's lifecycle (store-bench: 4 producers enqueue, 4 consumers dequeue
# and ack, 100-byte payloads) on the engine:// store, plain against encrypted at rest
# (key_file=), on fresh database files in --dir. Each round runs both, in alternating order,
# for a fixed number of messages (--messages at batch 100, a tenth of it at batch 1).
# Prints each run and a Markdown table: median msgs/s and CPU time per message (the whole
# process: store and workload), and the median and range of the rounds' ratios, plain /
# encrypted msgs/s and encrypted / plain CPU (above 1: encryption costs). The load average is
# printed before and after; quote ratios only from a quiet machine. On tmpfs (--dir=/dev/shm/x)
# fsync costs nothing, so the ratio there is encryption's worst case.
#
#   tools/bench/encryption.sh [--batches=1,100] [--rounds=7] [--messages=200000] [--mvcc=off]
#                             [--dir=DIR] [--out=/tmp/encryption.jsonl] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."

BATCHES="1,100"
ROUNDS=7
MESSAGES=200000
MVCC=off
DIR=""
OUT=/tmp/encryption.jsonl
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --batches=*) BATCHES="${arg#*=}" ;;
    --rounds=*) ROUNDS="${arg#*=}" ;;
    --messages=*) MESSAGES="${arg#*=}" ;;
    --mvcc=*) MVCC="${arg#*=}" ;;
    --dir=*) DIR="${arg#*=}" ;;
    --out=*) OUT="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done

if ((BUILD)); then bazel build -c opt //tools/bench:store-bench >&2; fi
BENCH="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/bench/store-bench"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
DB_DIR="${DIR:-$TMP}"
mkdir -p "$DB_DIR"
# The key stays in a 0600 file in the temp dir; it is never printed.
(umask 077 && openssl rand -hex 32 >"$TMP/key")
: >"$OUT"

run() {  # run ROUND MODE BATCH: one store-bench run, appended to $OUT as JSON
  local round=$1 mode=$2 batch=$3 messages=$MESSAGES
  ((batch > 1)) || messages=$((MESSAGES / 10))
  rm -f "$DB_DIR"/encryption-bench.db*
  local dsn="engine://$DB_DIR/encryption-bench.db?mvcc=$MVCC"
  [[ $mode == encrypted ]] && dsn+="&key_file=$TMP/key"
  "$BENCH" --dsn="$dsn" --scenario=lifecycle --batch="$batch" --messages="$messages" \
    --duration=600s --warmup=1s --progress=false 2>>"$TMP/log" |
    python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
if r["errors"]:
    sys.exit("errors: %s" % r["errors"])
print(json.dumps({"round": int(sys.argv[1]), "mode": sys.argv[2], "batch": r["batch"],
                  "msgs_per_s": r["messages"] / r["elapsed_s"],
                  "cpu_us_per_msg": 1e6 * r["client_cpu_s"] / r["messages"]}))' \
      "$round" "$mode" >>"$OUT" || { cat "$TMP/log" >&2; exit 1; }
  tail -1 "$OUT" >&2
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$ROUNDS"); do
  for batch in ${BATCHES//,/ }; do
    if ((round % 2)); then order="plain encrypted"; else order="encrypted plain"; fi
    for mode in $order; do run "$round" "$mode" "$batch"; done
  done
done
rm -f "$DB_DIR"/encryption-bench.db*
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| batch | plain msgs/s | encrypted msgs/s | ratio (range) | plain CPU us/msg |"
      " encrypted CPU us/msg | ratio (range) |")
print("|---|---|---|---|---|---|---|")
for batch in sorted({r["batch"] for r in rows}):
    runs = {(r["round"], r["mode"]): r for r in rows if r["batch"] == batch}
    rounds = sorted({k[0] for k in runs})
    pairs = [(runs[(n, "plain")], runs[(n, "encrypted")]) for n in rounds]
    med = lambda xs: statistics.median(xs)
    tput = [p["msgs_per_s"] / e["msgs_per_s"] for p, e in pairs]
    cpu = [e["cpu_us_per_msg"] / p["cpu_us_per_msg"] for p, e in pairs]
    print(f'| {batch} | {med(p["msgs_per_s"] for p, _ in pairs):,.0f} |'
          f' {med(e["msgs_per_s"] for _, e in pairs):,.0f} |'
          f' {med(tput):.2f} ({min(tput):.2f}-{max(tput):.2f}) |'
          f' {med(p["cpu_us_per_msg"] for p, _ in pairs):.1f} |'
          f' {med(e["cpu_us_per_msg"] for _, e in pairs):.1f} |'
          f' {med(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) |')
PY
