#!/usr/bin/env bash
# Runs the sanitized gRPC request fuzzer for FUZZ_SECONDS after replaying the regression
# seeds. Any sanitizer report aborts the process, so a non-zero exit fails the test.
set -euo pipefail
here="$TEST_SRCDIR/pgqrs/tests/fuzz"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
exec "$here/grpc_request_fuzz_asan" --seconds="${FUZZ_SECONDS:-60}" --corpus="$here/corpus" \
  --regressions="$here/regressions.txt" "$@"
