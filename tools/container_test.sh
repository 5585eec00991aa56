#!/usr/bin/env bash
# Builds deploy/Containerfile fully offline and smoke-tests the image (tools/dev.sh
# container-test). Not part of the default suite: the image build compiles pgqrsd with
# Bazel inside the build stage and takes tens of minutes on two cores.
#
#   1. A Debian 12 root file system from the Debian mirror (mmdebstrap, minbase), imported
#      as the local base image for both stages, unless it is there already.
#   2. podman build with that base (build args BUILD_IMAGE, RUNTIME_IMAGE).
#   3. The image run as it is meant to run: listening on 0.0.0.0 with TLS and a tokens
#      file mounted read-only, no network but loopback. Inside it, the image's own health
#      check, then the CLI creates a queue, sends, receives and acknowledges a message,
#      and the message count survives a restart on the data volume.
#
# Environment: PGQRS_CONTAINER_IMAGE (an image built before: skip the build),
# PGQRS_CONTAINER_RUNTIME (default runc: crun refuses this machine's hybrid
# cgroups), PGQRS_CONTAINER_ULIMITS (default nofile and nproc below the VM's hard limits,
# which podman's defaults exceed).
set -euo pipefail
cd "$(dirname "$0")/.."

base=localhost/pgqrs-base/debian:12
image=localhost/pgqrs:test
name=pgqrs-container-test
runtime=${PGQRS_CONTAINER_RUNTIME:-runc}
read -r -a ulimits <<<"${PGQRS_CONTAINER_ULIMITS:---ulimit nofile=20000:20000 --ulimit nproc=8192:8192}"
podman=(podman --runtime "$runtime")
work=$(mktemp -d)
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${podman[@]}" volume rm -f "$name-data" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== $*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  "${podman[@]}" logs "$name" 2>&1 | tail -20 >&2 || true
  exit 1
}

if ! "${podman[@]}" image exists "$base"; then
  step "Debian 12 base image from the Debian mirror (mmdebstrap)"
  mmdebstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  "${podman[@]}" import "$work/rootfs.tar" "$base"
  rm -f "$work/rootfs.tar"
fi

if [[ -n ${PGQRS_CONTAINER_IMAGE:-} ]]; then
  image=$PGQRS_CONTAINER_IMAGE  # built before: smoke-test it only
else
  step "podman build"
  # The host's Bazel disk cache (.bazelrc) serves the build stage too, when there is one.
  cache=()
  [[ -d $HOME/.cache/pgqrs-bazel ]] &&
    cache=(-v "$HOME/.cache/pgqrs-bazel:/root/.cache/pgqrs-bazel")
  # --format docker: OCI images cannot carry the HEALTHCHECK.
  "${podman[@]}" build --format docker "${ulimits[@]}" "${cache[@]}" --build-arg "BUILD_IMAGE=$base" \
    --build-arg "RUNTIME_IMAGE=$base" -f deploy/Containerfile -t "$image" .
fi

step "secrets for the run: a CA and server certificate, a reader+admin token"
sh tests/integration/make_certs.sh "$work" server
token_out=$("${podman[@]}" run --rm "${ulimits[@]}" --entrypoint pgqrs "$image" \
  --output=json admin token create smoke --role admin --queues '*')
token=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["token"])' <<<"$token_out")
python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["tokens_file_line"])' \
  <<<"$token_out" >"$work/tokens"
printf '%s\n' "$token" >"$work/token"
chmod 0755 "$work"   # mounted read-only; read by the image's user 10001
chmod 0644 "$work"/*

step "run: 0.0.0.0 with TLS and tokens, loopback only"
"${podman[@]}" volume create "$name-data" >/dev/null
run_daemon() {
  "${podman[@]}" run -d --name "$name" "${ulimits[@]}" --network=none \
    -v "$work:/run/secrets/pgqrs:ro" -v "$name-data:/var/lib/pgqrs" \
    -e PGQRS_TLS_CERT=/run/secrets/pgqrs/server-cert.pem \
    -e PGQRS_TLS_KEY=/run/secrets/pgqrs/server-key.pem \
    -e PGQRS_AUTH_TOKENS_FILE=/run/secrets/pgqrs/tokens \
    -e PGQRS_TOKEN_FILE=/run/secrets/pgqrs/token \
    -e PGQRS_TLS_CA=/run/secrets/pgqrs/server-ca.pem \
    "$image" >/dev/null
}
wait_healthy() {
  for _ in $(seq 50); do
    "${podman[@]}" healthcheck run "$name" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "the image's health check never passed"
}
cli() { "${podman[@]}" exec "$name" pgqrs --server=127.0.0.1:7468 "$@"; }
run_daemon
wait_healthy
step "health check passed; the CLI in the container"
[[ $("${podman[@]}" exec "$name" id -u) == 10001 ]] || fail "not running as user 10001"
cli queue create smoke >/dev/null
cli send smoke '{"n": 1}' >/dev/null
cli send smoke '{"n": 2}' >/dev/null
received=$(cli --output=json recv smoke)
grep -q '"n": *1\|\\"n\\": *1' <<<"$received" || fail "recv: $received"
receipt=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["receipt"])' \
  <<<"$received")
cli ack smoke "$receipt" >/dev/null
"${podman[@]}" exec -e PGQRS_TOKEN_FILE= "$name" pgqrs --server=127.0.0.1:7468 queue list \
  >/dev/null 2>&1 && fail "a call without a token was allowed"
"${podman[@]}" logs "$name" 2>&1 | grep -qF "$token" && fail "the token appears in the log"

step "restart: the data volume keeps the pending message"
"${podman[@]}" stop -t 10 "$name" >/dev/null
"${podman[@]}" rm "$name" >/dev/null
run_daemon
wait_healthy
stats=$(cli --output=json queue stats smoke)
python3 -c 'import json,sys; s=json.loads(sys.stdin.readline()); sys.exit(0 if int(s.get("pending", 0)) == 1 else 1)' \
  <<<"$stats" || fail "after restart: $stats"
echo "container test passed: $image" >&2
