#!/usr/bin/env bash
# tools/bench/redact.sh masks DSN passwords in the lines the benchmark scripts print.
set -euo pipefail
source "${TEST_SRCDIR}/pgqrs/tools/bench/redact.sh"

expect() {  # expect INPUT WANTED
  local got
  got="$(redact_secrets "$1")"
  [[ "${got}" == "$2" ]] || { echo "FAIL: \"$1\" gave \"${got}\", want \"$2\""; exit 1; }
}
expect "store-bench --dsn=postgres://pgqrs:pw-s3cret@127.0.0.1:5432/pgqrs --batch=1" \
  "store-bench --dsn=postgres://pgqrs:***@127.0.0.1:5432/pgqrs --batch=1"
expect "a postgresql://u:p%40ss@h/db and b postgres://v:x@h2/db" \
  "a postgresql://u:***@h/db and b postgres://v:***@h2/db"
expect "postgres://user@host/db host=h Password=hunter2 user=u" \
  "postgres://user@host/db host=h Password=*** user=u"
expect "engine:///var/lib/q.db?key_file=/etc/k" "engine:///var/lib/q.db?key_file=/etc/k"
echo PASS
