#!/usr/bin/env bash
# Runs faultcheck for FAULTCHECK_DURATION against PGQRS_TEST_STORE (sqlite, engine or
# postgres) and fails unless it prints "faultcheck: PASS". On postgres it runs two daemons
# on a fresh schema of PGQRS_TEST_PG_DSN and also restarts the cluster in PGQRS_TEST_PG_DIR.
# The history is kept in the test's undeclared outputs.
set -euo pipefail
root="$TEST_SRCDIR/pgqrs"
store="${PGQRS_TEST_STORE:?set PGQRS_TEST_STORE to sqlite, engine or postgres}"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}"
args=(--store="$store" --duration="${FAULTCHECK_DURATION:-25s}" --history="$out/history.jsonl"
      --workdir="$TEST_TMPDIR" --pgqrsd="$root/server/pgqrsd")
if [[ $store == postgres ]]; then
  : "${PGQRS_TEST_PG_DSN:?start a cluster: eval \"\$(tools/pg/cluster.sh start DIR)\"}"
  : "${PGQRS_TEST_PG_DIR:?start a cluster: eval \"\$(tools/pg/cluster.sh start DIR)\"}"
  # The DSN (with its password) goes through the environment, never on a command line.
  export PGQRS_DSN="${PGQRS_TEST_PG_DSN}?schema=faultcheck_$$_$RANDOM"
  args+=(--daemons=2 --faults=kill,pause,pg_restart,cancel
         --pg_cluster_script="$root/tools/pg/cluster.sh")
fi
status=0
"$root/tools/faultcheck/faultcheck" "${args[@]}" "$@" >"$TEST_TMPDIR/report.txt" || status=$?
cat "$TEST_TMPDIR/report.txt"
if [[ $status -ne 0 ]] || ! grep -qx "faultcheck: PASS" "$TEST_TMPDIR/report.txt"; then
  echo "faultcheck failed (exit $status); daemon logs:" >&2
  tail -n 20 "$TEST_TMPDIR"/pgqrsd-*.log >&2 || true
  exit 1
fi
