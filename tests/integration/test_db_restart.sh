#!/usr/bin/env bash
# Integration test: the API survives a MariaDB restart. While the database is away it
# answers 503 with a JSON error (never crashes, never 500); once it is back, requests
# work again without restarting cmdb. Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/db-restart"

DB_PORT=$(free_port)
fresh_db cmdb_restart "$DB_PORT"
stack_cmdb "$WORK/cmdb.log" RELEASE_EXECUTOR_ENABLED=0 || exit 1

api POST /api/v1/nodes '{"hostname":"n1","ip":"10.1.2.3"}'
check_eq "curl: node created before the restart" 201 "$HTTP_STATUS"
api GET /readyz
check_eq "curl: /readyz is 200 with the database up" 200 "$HTTP_STATUS"

bash "$ROOT/scripts/db.sh" stop "$WORK/db"
api GET /api/v1/nodes
check_eq "curl: GET /nodes is 503 while the database is down" 503 "$HTTP_STATUS"
check_eq "curl: the 503 carries a JSON error" "database unavailable; retry later" \
  "$(jq -r .error <<<"$BODY")"
api POST /api/v1/nodes '{"hostname":"n2","ip":"10.1.2.4"}'
check_eq "curl: POST /nodes is 503 while the database is down" 503 "$HTTP_STATUS"
api GET /readyz
check_eq "curl: /readyz is 503 while the database is down" 503 "$HTTP_STATUS"
api GET /healthz
check_eq "curl: /healthz still 200 (the process is alive)" 200 "$HTTP_STATUS"
check "process: cmdb is still running" kill -0 "$CMDB_PID"

bash "$ROOT/scripts/db.sh" start "$WORK/db" "$DB_PORT" >/dev/null
check "curl: GET /nodes works again after the restart" wait_until 20 \
  bash -c "curl -sf $API/api/v1/nodes >/dev/null"
check_eq "sql: the node written before the restart is there, nothing else" "1 n1" \
  "$(sql 'SELECT COUNT(*), MIN(hostname) FROM nodes' | tr '\t' ' ')"

end_checks
