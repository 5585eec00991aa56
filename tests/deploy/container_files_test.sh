#!/bin/bash
# The default suite builds no image (tools/container_test.sh does, by hand), so this
# checks what a build relies on: the Containerfile's stages, user, volume, health check
# and secrets; that its runtime stage installs the package of every shared library pgqrsd
# and pgqrs link (read from the binaries built here); that compose.yaml runs two replicas on PostgreSQL with
# secrets from files; and that every PGQRS_* setting there is a real pgqrsd flag.
set -euo pipefail
root="$TEST_SRCDIR/pgqrs"
# The Containerfile with its base-image build args at their defaults.
containerfile=$(mktemp)
trap 'rm -f "$containerfile"' EXIT
sed -e 's/\${BUILD_IMAGE}/debian:12/' -e 's/\${RUNTIME_IMAGE}/debian:12-slim/' \
  "$root/deploy/Containerfile" >"$containerfile"
compose="$root/deploy/compose.yaml"
pgqrsd="$root/server/pgqrsd"
pgqrs="$root/tools/pgqrs/pgqrs"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

grep -qxF 'ARG BUILD_IMAGE=debian:12' "$containerfile" || fail "BUILD_IMAGE default"
grep -qxF 'ARG RUNTIME_IMAGE=debian:12-slim' "$containerfile" || fail "RUNTIME_IMAGE default"

# Stages: a Debian 12 build stage and a Debian 12 runtime stage.
mapfile -t froms < <(grep -E '^FROM ' "$containerfile")
[[ ${#froms[@]} -eq 2 ]] || fail "expected 2 stages, found ${#froms[@]}"
[[ ${froms[0]} == "FROM debian:12 AS build" ]] || fail "build stage: ${froms[0]}"
[[ ${froms[1]} == "FROM debian:12-slim" ]] || fail "runtime stage: ${froms[1]}"
# The runtime stage, with continuation lines joined.
runtime=$(awk '/^FROM debian:12-slim/{on=1} on' "$containerfile" | sed -e ':a' -e '/\\$/{N;s/\\\n//;ba}')

# A non-root user, the data volume, a health check through the CLI.
user=$(grep -E '^USER ' <<<"$runtime" | tail -1 | awk '{print $2}')
[[ -n $user && ${user%%:*} != root && ${user%%:*} != 0 ]] || fail "runtime user: '$user'"
grep -qE '^VOLUME \["/var/lib/pgqrs"\]' <<<"$runtime" || fail "no /var/lib/pgqrs volume"
grep -qE '^HEALTHCHECK .*CMD \["pgqrs", ' <<<"$runtime" || fail "health check not via pgqrs"
ok "stages, user $user, volume, health check"

# No secrets baked in: nothing key-, token- or password-like copied or set.
if grep -iE '^(COPY|ADD) .*(\.pem|key|token|secret|passw)' "$containerfile"; then
  fail "a secret-looking file is copied into the image"
fi
if grep -iE '(PASSWORD|TOKEN|SECRET)[A-Z_]*=[^ ]' "$containerfile" | grep -v '^#'; then
  fail "a secret-looking value is set in the image"
fi
grep -qE '^secrets/$' "$root/deploy/.gitignore" || fail "deploy/secrets/ is not ignored by git"
ok "no secrets in the image"

# Every package a binary's shared libraries come from is installed (or is in every image).
installed=$(sed -n '/^FROM debian:12-slim/,$p' "$containerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr -s ' \\' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$')
paths=$(for binary in "$pgqrsd" "$pgqrs"; do
  for lib in $(readelf -d "$binary" | awk '/NEEDED/{gsub(/[][]/, "", $5); print $5}'); do
    ldd "$binary" | awk -v lib="$lib" '$1 == lib && $3 ~ /^\// {print $3}'
  done
done | xargs -r readlink -f | sort -u)
for package in $(dpkg -S $paths | cut -d: -f1 | sort -u); do
  case $package in libc6 | libgcc-s1 | libstdc++6) continue ;; esac
  grep -qxF "$package" <<<"$installed" || fail "the binaries need $package, not installed"
done
ok "runtime packages cover the linked libraries"

# compose: two replicas on PostgreSQL, no password in the DSN, secrets from files.
grep -qE '^      replicas: 2$' "$compose" || fail "compose: not two replicas"
dsn=$(grep -E 'PGQRS_DSN:' "$compose" | awk '{print $2}')
[[ $dsn == postgres://* ]] || fail "compose: DSN is not PostgreSQL: $dsn"
[[ $dsn != *:*:*@* ]] || fail "compose: a password in the DSN"
grep -qE 'POSTGRES_PASSWORD_FILE: /run/secrets/' "$compose" || fail "compose: database password"
if grep -E '^  [a-z_.-]+: \{file:' "$compose" | grep -v '{file: ./secrets/'; then
  fail "compose: a secret outside deploy/secrets/"
fi
ok "compose: replicas, DSN, secrets"

# Every PGQRS_* setting names a real flag of the daemon or of the CLI.
daemon_flags=$("$pgqrsd" --helpfull 2>&1 || true)
cli_help=$("$pgqrs" help 2>&1 || true)
for var in $(grep -ohE 'PGQRS_[A-Z_]+' "$containerfile" "$compose" | sort -u); do
  name=$(tr 'A-Z' 'a-z' <<<"${var#PGQRS_}")
  if grep -qE -- "--$name( |=|$)" <<<"$daemon_flags"; then continue; fi
  grep -qF "env $var" <<<"$cli_help" || fail "$var is neither a pgqrsd flag nor a CLI variable"
done
ok "PGQRS_* settings are real"

[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
echo "all container file checks passed"
