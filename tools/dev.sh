#!/usr/bin/env bash
# Developer entry point. The README's two setup commands:
#   tools/dev.sh serve [pgqrsd flags...]   install what is missing, build, run the daemon
#   tools/dev.sh test                      install what is missing, build, run every test
# Also: tools/dev.sh build
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  bazel-bootstrap protobuf-compiler protobuf-compiler-grpc libgrpc++-dev libprotobuf-dev
  libabsl-dev libpq-dev libsqlite3-dev sqlite3 liburing-dev libspdlog-dev catch2 pkg-config
  libssl-dev nlohmann-json3-dev libsystemd-dev postgresql pgbouncer clang libclang-rt-14-dev
  python3 python3-grpcio python3-grpc-tools beanstalkd prometheus-cpp-dev openssl curl
)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
  fi
}

cmd_build() {
  install_missing
  bazel build //server:pgqrsd //tools/pgqrs:pgqrs
}

cmd_serve() {
  cmd_build
  exec bazel-bin/server/pgqrsd "$@"
}

cmd_test() {
  install_missing
  local log
  log=$(mktemp)
  local status=0
  # A throwaway PostgreSQL (and PgBouncer) for the Postgres suites; failing to start it
  # fails the run.
  tools/pg/with_cluster.sh bazel test //... --test_env=PGQRS_TEST_PG_DSN \
    --test_env=PGQRS_TEST_PGBOUNCER_DSN --test_env=PGQRS_TEST_PG_DIR "$@" 2>&1 |
    tee "$log" || status=$?
  tools/ci/count_results.sh "$log"
  rm -f "$log"
  return $status
}

case "${1:-}" in
  serve) shift; cmd_serve "$@" ;;
  test) shift; cmd_test "$@" ;;
  build) shift; cmd_build ;;
  *) echo "usage: tools/dev.sh serve [pgqrsd flags...] | test | build" >&2; exit 2 ;;
esac
