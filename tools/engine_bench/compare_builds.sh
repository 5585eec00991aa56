#!/bin/bash
# Runs two engine_bench binaries (built from two versions of the engine) in alternating rounds
# with the same flags, so that both see the same machine load; prints every round's table and
# then, per binary and phase, a summary over the rounds.
#
#   tools/engine_bench/compare_builds.sh ROUNDS BEFORE_BIN AFTER_BIN [engine_bench flags...]
#
# Each round runs BEFORE_BIN, then AFTER_BIN, each with --rounds=1 (one plain engine child and
# one child of the other implementation, e.g. the encrypted engine with --encrypt_key_env).
# Summary columns: the median of the rounds' ops/s ratios and CPU ratios (both above 1 when the
# other implementation is slower), and the ratio of the two children's lowest CPU time per op
# (the rounds least disturbed by other load).
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 ROUNDS BEFORE_BIN AFTER_BIN [engine_bench flags...]" >&2
  exit 2
fi
rounds=$1
before=$2
after=$3
shift 3
results=$(mktemp)
trap 'rm -f "$results"' EXIT

for ((r = 1; r <= rounds; r++)); do
  for label in before after; do
    bin=$before
    [[ $label == after ]] && bin=$after
    echo "=== round $r: $label ($bin)"
    table=$("$bin" "$@" --rounds=1 2>/dev/null | grep -v '\[info\]')
    echo "$table"
    # Phase rows: op, batch, ops/s, ops/s, ratio, cpu, cpu, ratio.
    echo "$table" | awk -v label="$label" \
      'NF == 8 && $2 ~ /^[0-9]+$/ { print label, $1 "/" $2, $5, $6, $7, $8 }' >>"$results"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minimum() { sort -g | head -1; }
column() { awk -v l="$1" -v p="$2" -v c="$3" '$1 == l && $2 == p { print $c }' "$results"; }

echo "=== summary over $rounds rounds"
printf '%-7s %-11s %15s %15s %15s\n' build phase "median ops/s" "median cpu" "min-cpu ratio"
for label in before after; do
  for phase in $(awk '{ print $2 }' "$results" | awk '!seen[$0]++'); do
    ops=$(column "$label" "$phase" 3 | median)
    cpu=$(column "$label" "$phase" 6 | median)
    engine_cpu=$(column "$label" "$phase" 4 | minimum)
    other_cpu=$(column "$label" "$phase" 5 | minimum)
    printf '%-7s %-11s %15s %15s %15.2f\n' "$label" "$phase" "$ops" "$cpu" \
      "$(awk -v e="$engine_cpu" -v o="$other_cpu" 'BEGIN { print o / e }')"
  done
done
