#!/usr/bin/env bash
# The documents that are generated from the code, or must agree with it, do: the README's
# settings table is what `bin/cmdb settings` prints (the settings table of
# internal/config/config.c).
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
begin_test "${TEST_DIR:-$ROOT/var/test}/docs"

check "README: the settings table is bin/cmdb settings" bash "$ROOT/scripts/readme-settings.sh" --check
end_checks
