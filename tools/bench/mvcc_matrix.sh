#!/usr/bin/env bash
# mvcc_matrix.sh: the engine:// store with concurrent writers off and on (mvcc=off|on), in
# store-mix's three mixes (lifecycle spread over 8 queues, on one hot queue, and readers
# beside the spread writers) at 1, 2, 4 and 8 writer threads. Each run gets a fresh database
# file in a temp dir. Prints a Markdown table (msgs/s, conflicts and retried calls per
# message, readers' p50/p99 alone and with writers) and keeps the JSON lines in --out.
#
#   tools/bench/mvcc_matrix.sh [--seconds=5] [--threads=1,2,4,8] [--mixes=spread,hot,readers]
#                              [--out=/tmp/mvcc_matrix.jsonl] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_RUN=5
THREADS="1,2,4,8"
MIXES="spread,hot,readers"
OUT=/tmp/mvcc_matrix.jsonl
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --seconds=*) SECONDS_PER_RUN="${arg#*=}" ;;
    --threads=*) THREADS="${arg#*=}" ;;
    --mixes=*) MIXES="${arg#*=}" ;;
    --out=*) OUT="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
  esac
done

if ((BUILD)); then bazel build -c opt //tools/bench:store-mix >&2; fi
MIX="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/bench/store-mix"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
: >"$OUT"

for mix in ${MIXES//,/ }; do
  for threads in ${THREADS//,/ }; do
    for mvcc in off on; do
      rm -f "$TMP"/mix.db*
      "$MIX" --dsn="engine://$TMP/mix.db?mvcc=$mvcc" --mix="$mix" --threads="$threads" \
        --seconds="$SECONDS_PER_RUN" 2>>"$TMP/log" >>"$OUT" ||
        { cat "$TMP/log" >&2; exit 1; }
    done
  done
done

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| mix | threads | mvcc | msgs/s | x 1 thread | conflicts/msg | retried calls/msg |"
      " reads p50 / p99 ms alone | with writers |")
print("|---|---|---|---|---|---|---|---|---|")
base = {}
for r in rows:
    mvcc = "on" if "mvcc=on" in r["dsn"] else "off"
    key = (r["mix"], mvcc)
    if r["threads"] == 1:
        base[key] = r["msgs_per_s"]
    scale = r["msgs_per_s"] / base[key] if base.get(key) else float("nan")
    reads = alone = "-"
    if "idle_p50_ms" in r:
        alone = f'{r["idle_p50_ms"]:.2f} / {r["idle_p99_ms"]:.2f}'
        reads = f'{r["busy_p50_ms"]:.2f} / {r["busy_p99_ms"]:.2f}'
    print(f'| {r["mix"]} | {r["threads"]} | {mvcc} | {r["msgs_per_s"]:,.0f} | {scale:.2f}x |'
          f' {r["conflicts_per_msg"]:.3f} | {r["retried_calls_per_msg"]:.3f} | {alone} | {reads} |')
PY
