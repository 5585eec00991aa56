#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL + PgBouncer cluster up, its PGQRS_TEST_*
# variables exported, and tears the cluster down afterwards (also on failure):
#
#   tools/pg/with_cluster.sh bazel test //... \
#       --test_env=PGQRS_TEST_PG_DSN --test_env=PGQRS_TEST_PGBOUNCER_DSN \
#       --test_env=PGQRS_TEST_PG_DIR
#
# Exits with the command's status, or non-zero if the cluster cannot start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/pgqrs-pg.XXXXXX)
cleanup() {
  "$here/cluster.sh" stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
env_lines=$("$here/cluster.sh" start "$dir") || { echo "with_cluster.sh: cluster failed to start" >&2; exit 1; }
eval "$env_lines"
status=0
"$@" || status=$?
exit $status
