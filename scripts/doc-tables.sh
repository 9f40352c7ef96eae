#!/usr/bin/env bash
# Rewrites every table the docs show from the code: README.md's settings (`cmdb
# settings`, the table of internal/config/config.c) and docs/architecture.md's release
# state machine (`cmdb states`, the table of internal/state/state.c). With --check,
# changes nothing and says which one is out of date.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
check=${1:-}
rc=0
bash "$ROOT/scripts/doc-table.sh" "$ROOT/README.md" settings $check -- "$ROOT/bin/cmdb" settings || rc=1
bash "$ROOT/scripts/doc-table.sh" "$ROOT/docs/architecture.md" states $check -- "$ROOT/bin/cmdb" states || rc=1
exit $rc
