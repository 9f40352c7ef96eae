#!/usr/bin/env bash
# make test: unit tests, integration tests against a real MariaDB and real mutual TLS,
# the seed's acceptance script, then a short chaos run. Everything runs from scratch under var/test and
# is stopped at the end. The last line is "N passed, N failed" over all suites.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TEST_DIR=$ROOT/var/test
rm -rf "$TEST_DIR"
mkdir -p "$TEST_DIR"

passed=0
failed=0
suites_failed=()

# run_suite NAME CMD...: runs a suite, echoes its output, adds its "N passed, N failed".
run_suite() {
  local name=$1 log="$TEST_DIR/$1.out" rc p f
  shift
  echo "=== $name"
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f1)
  f=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f3)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ]; then
    suites_failed+=("$name")
    [ "${f:-0}" -gt 0 ] || failed=$((failed + 1)) # a suite that died counts as a failure
  fi
}

# cmocka suites print "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)".
unit() {
  local t out p=0 f=0 n rc=0
  for t in build/tests/test_*; do
    case "$t" in *.d) continue ;; esac
    if ! out=$("$t" 2>&1); then
      rc=1
      echo "$t failed; its last lines:"
      echo "$out" | tail -n 25
    fi
    echo "$out" | grep -E '^\[  (PASSED|FAILED)  \]|^\[  ERROR'
    n=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
    p=$((p + ${n:-0}))
    n=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
    f=$((f + ${n:-0}))
  done
  echo "$p passed, $f failed"
  return $rc
}

run_suite unit unit
# A plain build also runs the unit tests under valgrind; a SAN=1 build has ASan instead.
valgrind_unit() {
  local t rc=0 p=0 f=0
  for t in build/tests/test_*; do
    case "$t" in *.d) continue ;; esac
    if valgrind -q --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect "$t" >"$TEST_DIR/valgrind-$(basename "$t").txt" 2>&1; then
      echo "ok   valgrind $t"; p=$((p + 1))
    else
      echo "FAIL valgrind $t"; tail -n 30 "$TEST_DIR/valgrind-$(basename "$t").txt"
      f=$((f + 1)); rc=1
    fi
  done
  echo "$p passed, $f failed"
  return $rc
}
if ! grep -q 'san=1' build/.flavor 2>/dev/null; then
  run_suite valgrind valgrind_unit
fi
for t in tests/integration/test_*.sh; do
  run_suite "$(basename "$t" .sh)" bash "$t"
done
run_suite acceptance env ACCEPTANCE_DIR="$TEST_DIR/acceptance" bash scripts/test_release_executor.sh
# The short form of `make chaos`: 20 s of controller kills and two MariaDB restarts.
run_suite chaos env CHAOS_DIR="$TEST_DIR/chaos" bash scripts/chaos.sh --seconds 20 --releases 10

# libFuzzer harnesses, 5 s each (make fuzz runs them longer): one check per harness.
fuzz_smoke() {
  local out rc
  out=$(make -s -C "$ROOT" fuzz-smoke 2>&1)
  rc=$?
  echo "$out" | grep -E '^fuzz_|reproduce|log:'
  echo "$(grep -c 'crashes 0$' <<<"$out") passed, $(grep -Ec 'crashes [1-9]' <<<"$out") failed"
  return $rc
}
run_suite fuzz fuzz_smoke

# What every suite left behind: no sanitizer report, and no secret in any log.
hygiene() {
  local p=0 f=0 hits pw
  hits=$(grep -rlE --include='*.log' --include='*.out' \
    'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TEST_DIR" | grep -v '/hygiene.out$')
  if [ -z "$hits" ]; then
    echo "ok   no sanitizer report in any log"; p=$((p + 1))
  else
    echo "FAIL sanitizer reports in: $hits"; f=$((f + 1))
  fi
  for env in $(find "$TEST_DIR" -name db.env); do
    pw=$(sed -n 's/^CMDB_DB_PASSWORD=//p' "$env")
    [ -n "$pw" ] || continue
    if grep -rqF --include='*.log' --include='*.out' -e "$pw" "$TEST_DIR"; then
      echo "FAIL the database password of $env appears in a log"; f=$((f + 1))
    else
      echo "ok   the database password of ${env#"$TEST_DIR"/} appears in no log"; p=$((p + 1))
    fi
  done
  if grep -rqE --include='*.log' --include='*.out' 'BEGIN ([A-Z]+ )?PRIVATE KEY' "$TEST_DIR"; then
    echo "FAIL private key material in a log"; f=$((f + 1))
  else
    echo "ok   no private key material in any log"; p=$((p + 1))
  fi
  echo "$p passed, $f failed"
  [ "$f" -eq 0 ]
}
run_suite hygiene hygiene

echo
if [ ${#suites_failed[@]} -gt 0 ]; then
  echo "failed suites: ${suites_failed[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#suites_failed[@]} -eq 0 ]
