#!/usr/bin/env bash
# What is generated from the code, or must agree with it, does: the README's settings
# table is `bin/cmdb settings`, docs/architecture.md's state machine `bin/cmdb states`;
# api/openapi.yaml is valid OpenAPI 3 (a real validator, tests/openapi) and names exactly
# the routes the router serves (`bin/cmdb routes`); the Prometheus alert rules load and
# pass their unit tests (promtool); the systemd unit verifies (systemd-analyze);
# deploy/cmdb.env.example sets only settings cmdb knows; the back-off numbers the docs
# quote are the code's; docs/architecture.md's module table matches the tree; the
# store's SQL spells out no status name.
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
begin_test "${TEST_DIR:-$ROOT/var/test}/docs"

check "README: the settings table is bin/cmdb settings" \
  bash "$ROOT/scripts/doc-table.sh" "$ROOT/README.md" settings --check -- "$ROOT/bin/cmdb" settings
check "docs/architecture.md: the state machine is bin/cmdb states" \
  bash "$ROOT/scripts/doc-table.sh" "$ROOT/docs/architecture.md" states --check -- "$ROOT/bin/cmdb" states

"$ROOT/bin/cmdb" routes >"$WORK/routes.txt"
node "$ROOT/tests/openapi/check.js" "$ROOT/api/openapi.yaml" "$WORK/routes.txt" >"$WORK/openapi.out" 2>&1
while read -r status name; do
  check "openapi: $name" test "$status" = ok
done < <(grep -E '^(ok|FAIL) ' "$WORK/openapi.out")
grep '^FAIL' "$WORK/openapi.out" | sed 's/^/  /'

check "promtool: deploy/prometheus/alerts.yml checks" promtool check rules "$ROOT/deploy/prometheus/alerts.yml"
(cd "$ROOT/deploy/prometheus" && promtool test rules alerts_test.yml) >"$WORK/promtool-test.out" 2>&1
check "promtool: every alert rule passes its unit test (alerts_test.yml)" grep -q SUCCESS "$WORK/promtool-test.out"
untested=$(sed -n 's/^ *- alert: *//p' "$ROOT/deploy/prometheus/alerts.yml" | while read -r a; do
  grep -q "alertname: $a\$" "$ROOT/deploy/prometheus/alerts_test.yml" || echo "$a"
done)
check_eq "promtool: every alert of alerts.yml has a unit test" "" "$untested"

# systemd-analyze checks the binaries exist: verify a copy that names the built one.
sed "s|/usr/local/bin/cmdb|$ROOT/bin/cmdb|g" "$ROOT/deploy/systemd/cmdb.service" >"$WORK/cmdb.service"
check "systemd-analyze: deploy/systemd/cmdb.service verifies" \
  bash -c "systemd-analyze verify '$WORK/cmdb.service' >'$WORK/verify.out' 2>&1 && ! grep -q . '$WORK/verify.out'"
sed 's/^/  /' "$WORK/verify.out"
# The table once, in a variable: grep -q leaving a pipe early would fail it (pipefail).
settings=$("$ROOT/bin/cmdb" settings)
unknown=$(sed -n 's/^#\{0,1\}\([A-Z_]*\)=.*/\1/p' "$ROOT/deploy/cmdb.env.example" | while read -r v; do
  grep -q "^| \`$v\` |" <<<"$settings" || echo "$v"
done)
check_eq "deploy/cmdb.env.example: only settings cmdb knows" "" "$unknown"
# Back-off numbers live in internal/core/backoff.h (its _DOC strings, which a unit test
# holds to the numbers); every "X doubling to Y" the docs say must be one of them.
policies=$(sed -n 's/^#define BACKOFF_[A-Z]*_DOC "\(.*\)"$/\1/p' "$ROOT/internal/core/backoff.h")
stray=$(cat "$ROOT/README.md" "$ROOT"/docs/*.md | tr '\n' ' ' | tr -s ' ' |
  grep -oE '([0-9]+ to )?[0-9]+ (ms|s|min) doubling to ([0-9]+ to )?[0-9]+ (ms|s|min)' |
  sort -u | while read -r phrase; do
    grep -qF -- "$phrase" <<<"$policies" || echo "$phrase"
  done)
check_eq "docs: every back-off they quote is a policy of internal/core/backoff.h" "" "$stray"
# docs/architecture.md's module table matches the tree: every module has a row, and every
# file a row names exists in that module.
table=$(sed -n '/^## Modules/,/^## /p' "$ROOT/docs/architecture.md" | grep '^| `')
missing=$(cd "$ROOT" && for d in internal/*/ cmd/*/ api/v1/; do
  d=${d%/}
  grep -q "^| \`$d[\`/]" <<<"$table" || echo "$d"
done)
check_eq "docs/architecture.md: every module has a row in the module table" "" "$missing"
stale=$(while IFS= read -r row; do
  mod=$(sed -E 's/^\| `([^`]*)`.*/\1/' <<<"$row")
  mod=${mod%/}
  [ -d "$ROOT/$mod" ] || mod=$(dirname "$mod")
  for f in $(grep -oE '`[a-z0-9_/]+\.[ch]`' <<<"$row" | tr -d '`'); do
    [ -n "$(find "$ROOT/$mod" -path "*$f" -print -quit 2>/dev/null)" ] || echo "$mod: $f"
  done
done <<<"$table")
check_eq "docs/architecture.md: every file the module table names exists" "" "$stale"

# Status names come from the state table (internal/state/state.c, and core.c for a node's
# health): the store's SQL binds them or writes them from the table, never spells one out.
names=$(grep -ohE '\[(RELEASE|NODE)_[A-Z_]+\] = \{?"[a-z_]+"' "$ROOT/internal/state/state.c" \
  "$ROOT/internal/core/core.c" | grep -v '_EV_' | sed 's/.*"\([a-z_]*\)"/\1/' | sort -u)
check "store: the status names of the tables are found" grep -qx awaiting_approval <<<"$names"
spelled=$(for n in $names; do grep -nF "'$n'" "$ROOT"/internal/store/*.c; done)
check_eq "store: no status name spelled out in SQL" "" "$spelled"
end_checks
