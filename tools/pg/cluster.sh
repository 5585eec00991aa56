#!/usr/bin/env bash
# A throwaway PostgreSQL cluster with a PgBouncer (transaction pooling) in front of it,
# for the Postgres adapter's tests.
#
#   cluster.sh start DIR       initdb into DIR, start both, print `export ...` lines
#   cluster.sh stop DIR        stop both
#   cluster.sh restart-pg DIR  restart PostgreSQL only (fault tests); PgBouncer stays up
#   cluster.sh env DIR         print the `export ...` lines of a running cluster again
#
# restart-pg is carried out by a small supervisor that `start` leaves running, so that a
# restart asked for from inside a test does not make the new server a child of the test:
# test runners (Bazel's process-wrapper) kill every descendant when a test ends.
#
# Both listen on free ports of 127.0.0.1; PostgreSQL's unix socket is in DIR. The role
# `pgqrs` logs in with a generated password (scram-sha-256) so tests can check that the
# password never shows up in errors. Run as root, the servers run as the `postgres` user.
# Every failure exits non-zero with a message on stderr: a test run must fail, not skip.
set -euo pipefail

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

usage() {
  die "usage: cluster.sh start|stop|restart-pg|env DIR"
}

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  die "PostgreSQL server binaries not found (apt-get install postgresql)"
}

# Runs a command as the cluster owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port tries
  for tries in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
      echo "$port"
      return
    fi
  done
  die "no free TCP port found"
}

wait_ready() {  # wait_ready NAME PORT SOCKET_OR_HOST LOGFILE
  local name=$1 port=$2 host=$3 log=$4 i
  for i in $(seq 1 100); do
    if "$BIN/pg_isready" -q -h "$host" -p "$port" -t 1; then
      return
    fi
    sleep 0.1
  done
  echo "--- last lines of $log ---" >&2
  tail -n 20 "$log" >&2 || true
  die "$name did not accept connections on port $port within 10 s"
}

print_env() {
  # shellcheck disable=SC1091
  source "$DIR/ports.env"
  echo "export PGQRS_TEST_PG_DSN=postgres://pgqrs:${PGQRS_PASSWORD}@127.0.0.1:${PG_PORT}/pgqrs"
  echo "export PGQRS_TEST_PGBOUNCER_DSN=postgres://pgqrs:${PGQRS_PASSWORD}@127.0.0.1:${BOUNCER_PORT}/pgqrs"
  echo "export PGQRS_TEST_PG_DIR=$DIR"
}

start_postgres() {
  local port=$1
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 30 \
    -o "-p $port -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null \
    || { tail -n 20 "$DIR/postgres.log" >&2 || true; die "PostgreSQL failed to start"; }
  wait_ready PostgreSQL "$port" 127.0.0.1 "$DIR/postgres.log"
}

write_bouncer_config() {
  local pg_port=$1 bouncer_port=$2 password=$3
  cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
pgqrs = host=127.0.0.1 port=$pg_port dbname=pgqrs
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $DIR/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
server_reset_query =
; Reconnect to a restarted server quickly, and fail waiting clients within 15 s.
server_login_retry = 1
query_wait_timeout = 15
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
  printf '"pgqrs" "%s"\n' "$password" >"$DIR/userlist.txt"
  chmod 600 "$DIR/userlist.txt"
}

cmd_start() {
  [[ -e "$DIR/data" ]] && die "$DIR/data exists; stop and remove it first"
  command -v pgbouncer >/dev/null 2>&1 || die "pgbouncer not found (apt-get install pgbouncer)"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [[ $(id -u) -eq 0 ]] && chown postgres: "$DIR"
  local password pg_port bouncer_port
  password="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  pg_port=$(free_port)
  bouncer_port=$(free_port)
  [[ $pg_port == "$bouncer_port" ]] && bouncer_port=$(free_port)

  as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 \
    >"$DIR/initdb.log" 2>&1 || { tail -n 20 "$DIR/initdb.log" >&2; die "initdb failed"; }
  cat >>"$DIR/data/postgresql.conf" <<EOF
# The OS never crashes under a test, so skipping fsync loses nothing; but a commit must
# reach the WAL before it is acknowledged, or restart-pg (a crash) loses acked work.
fsync = off
synchronous_commit = on
full_page_writes = off
max_connections = 200
# pg_stat_statements is loaded for the tests that look at how statements ran (JIT); it
# tracks nothing unless a test turns it on for a database of its own.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = none
EOF
  # The superuser connects through the socket without a password; `pgqrs` needs one.
  cat >"$DIR/data/pg_hba.conf" <<EOF
local all postgres trust
local all pgqrs scram-sha-256
host all pgqrs 127.0.0.1/32 scram-sha-256
EOF
  start_postgres "$pg_port"
  as_owner "$BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$DIR" -p "$pg_port" -U postgres \
    -d postgres >/dev/null <<EOF || die "creating role and database pgqrs failed"
CREATE ROLE pgqrs LOGIN PASSWORD '$password';
CREATE DATABASE pgqrs OWNER pgqrs;
EOF

  write_bouncer_config "$pg_port" "$bouncer_port" "$password"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$DIR/pgbouncer.ini" "$DIR/userlist.txt"
  as_owner pgbouncer -d -q "$DIR/pgbouncer.ini" \
    || { tail -n 20 "$DIR/pgbouncer.log" >&2 || true; die "PgBouncer failed to start"; }
  wait_ready PgBouncer "$bouncer_port" 127.0.0.1 "$DIR/pgbouncer.log"

  cat >"$DIR/ports.env" <<EOF
PG_PORT=$pg_port
BOUNCER_PORT=$bouncer_port
PGQRS_PASSWORD=$password
EOF
  # A query through PgBouncer proves the password and the pool work end to end.
  PGPASSWORD=$password "$BIN/psql" -q -X -h 127.0.0.1 -p "$bouncer_port" -U pgqrs -d pgqrs \
    -c "SELECT 1" >/dev/null || die "a query through PgBouncer failed"
  start_supervisor
  print_env
}

cmd_stop() {
  local failed=0
  if [[ -f "$DIR/supervisor.pid" ]]; then
    kill "$(cat "$DIR/supervisor.pid")" 2>/dev/null || true
    rm -f "$DIR/supervisor.pid"
  fi
  if [[ -f "$DIR/pgbouncer.pid" ]]; then
    kill "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null || true
  fi
  if [[ -f "$DIR/data/postmaster.pid" ]]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null || failed=1
  fi
  [[ $failed -eq 0 ]] || die "stopping PostgreSQL in $DIR failed"
}

restart_now() {
  [[ -f "$DIR/ports.env" ]] || die "no cluster in $DIR"
  # shellcheck disable=SC1091
  source "$DIR/ports.env"
  # Immediate: connections drop at once, as in a crash; recovery runs on start.
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null \
    || die "stopping PostgreSQL failed"
  start_postgres "$PG_PORT"
}

# Runs detached from whoever called `start`; serves restart requests until stopped.
cmd_supervise() {
  while [[ -f "$DIR/ports.env" ]]; do
    if [[ -f "$DIR/restart.request" ]]; then
      rm -f "$DIR/restart.request"
      if (restart_now) >"$DIR/restart.log" 2>&1; then
        echo ok >"$DIR/restart.result"
      else
        echo failed >"$DIR/restart.result"
      fi
    fi
    sleep 0.05
  done
}

start_supervisor() {
  setsid "$0" _supervise "$DIR" </dev/null >/dev/null 2>&1 &
  echo $! >"$DIR/supervisor.pid"
}

cmd_restart_pg() {
  local pid i
  pid=$(cat "$DIR/supervisor.pid" 2>/dev/null || true)
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    restart_now  # no supervisor (e.g. an older cluster): restart from here
    return
  fi
  rm -f "$DIR/restart.result"
  touch "$DIR/restart.request"
  for i in $(seq 1 600); do
    if [[ -f "$DIR/restart.result" ]]; then
      if [[ $(cat "$DIR/restart.result") == ok ]]; then
        return
      fi
      cat "$DIR/restart.log" >&2 || true
      die "restarting PostgreSQL failed"
    fi
    sleep 0.05
  done
  die "the cluster supervisor did not restart PostgreSQL within 30 s"
}

[[ $# -eq 2 ]] || usage
BIN=$(pg_bindir)
DIR=$2
case "$1" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart-pg) cmd_restart_pg ;;
  _supervise) cmd_supervise ;;
  env) print_env ;;
  *) usage ;;
esac
