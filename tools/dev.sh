#!/usr/bin/env bash
# Developer entry point. The README's two setup commands:
#   tools/dev.sh serve [pgqrsd flags...]   install what is missing, build, run the daemon
#   tools/dev.sh test                      install what is missing, build, run every test
# Also: tools/dev.sh build
#       tools/dev.sh container-test        build deploy/Containerfile offline and smoke-test
#                                          the image (tens of minutes; not in `test`)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  bazel-bootstrap protobuf-compiler protobuf-compiler-grpc libgrpc++-dev libprotobuf-dev
  libabsl-dev libpq-dev libsqlite3-dev sqlite3 liburing-dev libspdlog-dev catch2 pkg-config
  libssl-dev nlohmann-json3-dev libsystemd-dev postgresql pgbouncer clang libclang-rt-14-dev
  python3 python3-grpcio python3-grpc-tools nodejs beanstalkd prometheus-cpp-dev openssl curl
)

# Only for container-test: a container engine and a Debian bootstrapper.
CONTAINER_PACKAGES=(podman buildah runc uidmap mmdebstrap)

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

# The Node.js polyglot client's packages (tests/polyglot/node/package-lock.json) come from the
# npm registry into a cache outside the tree; the tests find them through PGQRS_NODE_MODULES.
NODE_DIR="${PGQRS_NODE_DIR:-$HOME/.cache/pgqrs-node}"

install_node_modules() {
  local lock=tests/polyglot/node/package-lock.json
  if cmp -s "$lock" "$NODE_DIR/package-lock.json" && [[ -d "$NODE_DIR/node_modules" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >&2
  fi
  echo "installing the Node.js test client's packages into $NODE_DIR" >&2
  mkdir -p "$NODE_DIR"
  rm -f "$NODE_DIR/package-lock.json"
  cp tests/polyglot/node/package.json "$NODE_DIR/"
  cp "$lock" "$NODE_DIR/package-lock.json.new"
  mv "$NODE_DIR/package-lock.json.new" "$NODE_DIR/package-lock.json"
  (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund >&2) || {
    rm -f "$NODE_DIR/package-lock.json"  # installed again next time
    return 1
  }
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
  install_node_modules
  local log
  log=$(mktemp)
  local status=0
  # A throwaway PostgreSQL (and PgBouncer) for the Postgres suites; failing to start it
  # fails the run.
  tools/pg/with_cluster.sh bazel test //... --test_env=PGQRS_TEST_PG_DSN \
    --test_env=PGQRS_TEST_PGBOUNCER_DSN --test_env=PGQRS_TEST_PG_DIR \
    --test_env=PGQRS_NODE_MODULES="$NODE_DIR/node_modules" "$@" 2>&1 |
    tee "$log" || status=$?
  tools/ci/count_results.sh "$log"
  rm -f "$log"
  return $status
}

cmd_container_test() {
  PACKAGES=("${CONTAINER_PACKAGES[@]}")
  install_missing
  tools/container_test.sh
}

case "${1:-}" in
  serve) shift; cmd_serve "$@" ;;
  test) shift; cmd_test "$@" ;;
  build) shift; cmd_build ;;
  container-test) shift; cmd_container_test ;;
  *) echo "usage: tools/dev.sh serve [pgqrsd flags...] | test | build | container-test" >&2; exit 2 ;;
esac
