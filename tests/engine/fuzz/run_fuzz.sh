#!/usr/bin/env bash
# Builds the engine's libFuzzer target with clang++ (ASan + UBSan), seeds a corpus with small
# databases made by the sqlite3 CLI, fuzzes for FUZZ_SECONDS (default 60) and prints exactly
# one line: "fuzz: PASS" or "fuzz: FAIL". Exits non-zero on any crash or sanitizer report.
#
#   tests/engine/fuzz/run_fuzz.sh            # from anywhere inside the repository
#   FUZZ_SECONDS=300 FUZZ_OUT=/tmp/f tests/engine/fuzz/run_fuzz.sh
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SECONDS_TO_RUN="${FUZZ_SECONDS:-60}"
OUT="${FUZZ_OUT:-$(mktemp -d /tmp/engine_fuzz.XXXXXX)}"
LOG="$OUT/fuzz.log"
mkdir -p "$OUT/corpus" "$OUT/artifacts"

fail() {
  echo "run_fuzz: $*" >&2
  echo "fuzz: FAIL"
  exit 1
}

cd "$ROOT" || fail "cannot cd to $ROOT"
# Every engine source (the same set as //engine:sources), so new files cannot be missed.
mapfile -t SRCS < <(ls engine/*/*.cc)
SRCS+=(tests/engine/fuzz/open_fuzz.cc)
# The same Abseil libraries the Bazel build links (tools/bazel/system/cc.BUILD).
ABSL_LIBS=$(grep -o '"-labsl_[a-z0-9_]*"' tools/bazel/system/cc.BUILD | tr -d '"' | tr '\n' ' ')

echo "run_fuzz: building $OUT/open_fuzz" >&2
# shellcheck disable=SC2086
clang++ -std=c++20 -O1 -g -I. \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -DSPDLOG_SHARED_LIB -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL \
  "${SRCS[@]}" -o "$OUT/open_fuzz" \
  $ABSL_LIBS -luring -lcrypto -lspdlog -lfmt -pthread >"$OUT/build.log" 2>&1 ||
  { cat "$OUT/build.log" >&2; fail "build failed"; }

# Seed corpus: small valid databases written by sqlite3.
seed() {
  local name="$1" sql="$2"
  rm -f "$OUT/tmp.db"
  sqlite3 "$OUT/tmp.db" "$sql" >/dev/null || fail "sqlite3 seed $name failed"
  cp "$OUT/tmp.db" "$OUT/corpus/$name"
}
command -v sqlite3 >/dev/null || fail "sqlite3 CLI not found"
seed empty "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)"
seed small "PRAGMA page_size=512; CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL, b BLOB);
  CREATE INDEX ta ON t(a DESC, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c
  WHERE x<60) INSERT INTO t SELECT x, 'v'||x, randomblob(x) FROM c;"
seed overflow "PRAGMA page_size=1024; CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT,
  p BLOB, r REAL); CREATE UNIQUE INDEX tp ON t(p) WHERE p IS NOT NULL;
  INSERT INTO t(p, r) VALUES (randomblob(3000), 1.5), (randomblob(900), NULL), (NULL, 2);
  DELETE FROM t WHERE id=2;"
seed queue "CREATE TABLE m(id INTEGER PRIMARY KEY, q INTEGER NOT NULL, s INTEGER NOT NULL,
  pr INTEGER NOT NULL, vt INTEGER, body BLOB); CREATE INDEX mc ON m(q, s, pr DESC, vt, id);
  CREATE INDEX mv ON m(vt) WHERE vt IS NULL; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL
  SELECT x+1 FROM c WHERE x<300) INSERT INTO m SELECT x, x%3, x%2, x%5, NULLIF(x%4,0),
  zeroblob(x%50) FROM c;"
rm -f "$OUT/tmp.db"
# Encrypted seeds, written by the engine itself with the target's fixed key.
FUZZ_SEED_DIR="$OUT/corpus" "$OUT/open_fuzz" -runs=0 "$OUT/corpus" >/dev/null 2>&1 ||
  fail "writing encrypted seeds failed"
ls "$OUT/corpus"/encrypted* >/dev/null 2>&1 || fail "no encrypted seeds written"
# Inputs that once crashed the engine stay in the corpus as regression seeds.
cp tests/engine/fuzz/regressions/* "$OUT/corpus/" 2>/dev/null || true

echo "run_fuzz: fuzzing for ${SECONDS_TO_RUN}s (log: $LOG)" >&2
"$OUT/open_fuzz" "$OUT/corpus" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 >"$LOG" 2>&1
rc=$?
if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|libFuzzer)|runtime error:|check failed" "$LOG"; then
  tail -n 60 "$LOG" >&2
  fail "fuzzer reported a problem (exit $rc); artifacts in $OUT/artifacts"
fi
grep -E "stat::number_of_executed_units|cov:" "$LOG" | tail -n 2 >&2
echo "fuzz: PASS"
