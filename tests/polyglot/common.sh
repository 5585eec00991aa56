# Sourced by the polyglot tests after they set RUNFILES and TMP: what every one of them does
# to check its tools, make stubs and start the daemon.

# Fails the test with a message and the daemon's log.
fail() { echo "FAIL: $*" >&2; [[ -f "${TMP}/pgqrsd.log" ]] && cat "${TMP}/pgqrsd.log" >&2; exit 1; }

PY=/usr/bin/python3  # Debian's interpreter, where python3-grpcio is installed

# Python stubs from the contract into ${TMP}/gen, at test time (imports in proto/ are
# repo-rooted). Missing python3 or grpc is a failure, never a skip.
make_python_stubs() {
  [[ -x "${PY}" ]] || fail "${PY} is missing (apt-get install python3 python3-grpcio python3-grpc-tools)"
  "${PY}" -c 'import grpc, grpc_tools.protoc' 2>/dev/null ||
    fail "python3-grpcio or python3-grpc-tools is missing (apt-get install python3-grpcio python3-grpc-tools)"
  mkdir -p "${TMP}/gen"
  "${PY}" -m grpc_tools.protoc -I"${RUNFILES}" -I/usr/lib/python3/dist-packages/grpc_tools/_proto \
    -I/usr/include --python_out="${TMP}/gen" --grpc_python_out="${TMP}/gen" \
    "${RUNFILES}"/proto/pgqrs/v1/*.proto || fail "protoc could not generate the Python stubs"
}

# Starts pgqrsd with the given flags on a free loopback port, killed when the test exits.
# Sets DAEMON (its pid) and SERVER (host:port).
start_pgqrsd() {
  : >"${TMP}/pgqrsd.log"  # exists before the first look for the port
  "${RUNFILES}/server/pgqrsd" --listen=127.0.0.1:0 "$@" 2>"${TMP}/pgqrsd.log" &
  DAEMON=$!
  trap 'kill -9 ${DAEMON} 2>/dev/null || true' EXIT
  local port=""
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "${TMP}/pgqrsd.log" | head -1)
    [[ -n "${port}" ]] && break
    sleep 0.05
  done
  [[ -n "${port}" ]] || fail "pgqrsd did not start"
  SERVER="127.0.0.1:${port}"
}
