#!/usr/bin/env bash
# What is generated from the code, or must agree with it, does: the README's settings
# table is `bin/cmdb settings`; api/openapi.yaml is valid OpenAPI 3 (a real validator,
# tests/openapi) and names exactly the routes the router serves (`bin/cmdb routes`); the
# Prometheus alert rules load and pass their unit tests (promtool); the systemd unit
# verifies (systemd-analyze); deploy/cmdb.env.example sets only settings cmdb knows; the
# store's SQL spells out no status name.
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
begin_test "${TEST_DIR:-$ROOT/var/test}/docs"

check "README: the settings table is bin/cmdb settings" bash "$ROOT/scripts/readme-settings.sh" --check

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

# Status names come from the state table (internal/state/state.c, and core.c for a node's
# health): the store's SQL binds them or writes them from the table, never spells one out.
names=$(grep -ohE '\[(RELEASE|NODE)_[A-Z_]+\] = \{?"[a-z_]+"' "$ROOT/internal/state/state.c" \
  "$ROOT/internal/core/core.c" | grep -v '_EV_' | sed 's/.*"\([a-z_]*\)"/\1/' | sort -u)
check "store: the status names of the tables are found" grep -qx awaiting_approval <<<"$names"
spelled=$(for n in $names; do grep -nF "'$n'" "$ROOT"/internal/store/*.c; done)
check_eq "store: no status name spelled out in SQL" "" "$spelled"
end_checks
