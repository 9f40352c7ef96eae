#!/usr/bin/env bash
# Integration test: hostile and malformed API input. Every request gets its expected
# status and a JSON error, the server keeps running, and the database is unchanged
# (table checksums before and after). Also a valid release of 1,200 nodes, above the
# size of one multi-row INSERT. Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/api-input"

fresh_db cmdb_input
stack_cmdb "$WORK/cmdb.log" RELEASE_EXECUTOR_ENABLED=0 || exit 1

api POST /api/v1/nodes '{"hostname":"web-01","ip":"10.0.0.1"}'
api POST /api/v1/nodes '{"hostname":"web-02","ip":"10.0.0.2","status":"offline"}'
api POST /api/v1/releases '{"version":1,"batch_size":1,"node_ids":[1]}'
checksum() { sql 'CHECKSUM TABLE nodes, release_tasks, release_task_nodes, alerts' | cut -f2 | paste -sd' '; }
before=$(checksum)

# expect STATUS METHOD PATH [BODY] [CONTENT-TYPE]: the status and a JSON {"error"}.
expect() {
  local want=$1 method=$2 path=$3 body=${4:-}
  api "$method" "$path" "$body" "${5:-application/json}"
  if [ "$HTTP_STATUS" = "$want" ] && jq -e '.error | type == "string"' >/dev/null 2>&1 <<<"$BODY"; then
    check "$want $method $path ${body:0:40}" true
  else
    check "$want $method $path ${body:0:40} (got $HTTP_STATUS: $BODY)" false
  fi
}

R=/api/v1/releases
N=/api/v1/nodes
expect 400 POST $R '{"version":1,'
expect 400 POST $R ''
expect 400 POST $R '[1,2,3]'
expect 400 POST $R '"just a string"'
expect 400 POST $R '{"version":"1","batch_size":1}'
expect 400 POST $R '{"version":1.5,"batch_size":1}'
expect 400 POST $R '{"version":true,"batch_size":1}'
expect 400 POST $R '{"version":null,"batch_size":1}'
expect 400 POST $R '{"version":1e999,"batch_size":1}'
expect 422 POST $R '{"version":9007199254740993,"batch_size":1}'
expect 422 POST $R '{"version":99999999999999999999999999,"batch_size":1}'
expect 422 POST $R '{"version":-1,"batch_size":1}'
expect 422 POST $R '{"version":1,"batch_size":-5}'
expect 422 POST $R '{"version":1,"batch_size":2147483648}'
expect 400 POST $R '{"version":1,"batch_size":1,"node_ids":"1"}'
expect 400 POST $R '{"version":1,"batch_size":1,"node_ids":[1,"1 OR 1=1"]}'
expect 422 POST $R '{"version":1,"batch_size":1,"node_ids":[1,1]}'
expect 422 POST $R '{"version":1,"batch_size":1,"node_ids":[2]}'
expect 422 POST $R '{"version":1,"batch_size":1,"node_ids":[424242]}'
expect 422 POST $R "{\"version\":1,\"batch_size\":1,\"node_ids\":[$(seq -s, 1 10001)]}"
expect 400 POST $R '{"version":1,"batch_size":1,"version":2}'
expect 400 POST $R '{"version":1,"batch_size":1,"admin":true}'
expect 400 POST $R "{\"version\":1,\"batch_size\":1,\"x\":$(printf '[%.0s' $(seq 1 2000))$(printf ']%.0s' $(seq 1 2000))}"
expect 415 POST $R '{"version":1,"batch_size":1}' text/plain
expect 415 POST $R 'version=1&batch_size=1' application/x-www-form-urlencoded
expect 422 POST $N "{\"hostname\":\"web'; DROP TABLE nodes;--\",\"ip\":\"10.0.0.9\"}"
expect 422 POST $N '{"hostname":"web-09","ip":"10.0.0.9; DROP TABLE nodes"}'
expect 422 POST $N '{"hostname":"../../etc/passwd","ip":"10.0.0.9"}'
expect 422 POST $N "{\"hostname\":\"$(head -c 300 /dev/zero | tr '\0' a)\",\"ip\":\"10.0.0.9\"}"
expect 422 POST $N '{"hostname":"h\u00e9llo","ip":"10.0.0.9"}'
expect 422 POST $N '{"hostname":"web-09","ip":"999.1.1.1"}'
expect 422 POST $N '{"hostname":"web-09","ip":"10.0.0.9","agent_port":70000}'
expect 422 POST $N '{"hostname":"web-09","ip":"10.0.0.9","status":"deleted"}'
expect 409 POST $N '{"hostname":"web-01-again","ip":"10.0.0.1"}'
expect 422 PATCH $N/1 '{}'
expect 400 PATCH $N/1 '{"status":1}'
expect 404 GET "$R/0"
expect 404 GET "$R/-1"
expect 404 GET "$R/1abc"
expect 404 GET "$R/99999999999999999999999"
expect 404 GET "$R/1/../../nodes/1/x"
expect 404 GET "$R/%2e%2e%2fnodes"
expect 404 GET "$R/424242"
expect 404 GET "/api/v2/releases"
expect 404 GET "/etc/passwd"
expect 405 PUT "$R/1" '{"version":1,"batch_size":1}'
expect 405 DELETE "$N/1"
expect 405 POST "/healthz" '{}'
expect 400 GET "$R?limit=0"
expect 400 GET "$R?limit=abc"
expect 400 GET "$R?status=DROP%20TABLE"
expect 400 GET "$R/1?view=x"
expect 400 GET "$R/1?node_status=gone"
expect 400 GET "$N?config_version=1%20OR%201=1"
expect 409 PATCH $N/1 '{"ip":"10.0.0.2","agent_port":8443}'
expect 422 PATCH $N/1 '{"ip":"10.0.0.1; DROP TABLE nodes"}'
expect 409 POST "$R/1/rollback"
expect 400 POST "$R/1/rollback" '{"force":true}'
expect 404 POST "$R/424242/rollback"
expect 409 POST "$R/1/approve"
expect 400 POST "$R/1/approve" '{"comment":["x"]}'
expect 409 POST "$R/1/reject" '{"comment":"x"}'
expect 400 POST $R '{"version":1,"batch_size":1,"auto_rollback":"yes"}'
expect 400 POST /api/v1/alerts '{"version":4,"alerts":[]}'
expect 400 POST /api/v1/alerts "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"release_id\":\"1\"},\"fingerprint\":\"$(head -c 300 /dev/zero | tr '\0' f)\",\"startsAt\":\"2026-11-30T10:00:00Z\"}]}"
expect 405 GET /api/v1/alerts
head -c 2200000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
code=$(curl -s -o "$WORK/big.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$WORK/big.json" "$API$R")
check_eq "413 for a 2 MiB body" 413 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Junk: $(head -c 20000 /dev/zero | tr '\0' a)" "$API$R")
check "oversized headers are refused with a 4xx (got $code)" test "$code" -ge 400 -a "$code" -lt 500
check "the server is still running" kill -0 "$CMDB_PID"
check_eq "sql: bad input changed nothing (table checksums)" "$before" "$(checksum)"

echo "== a release of 1,200 nodes (more than one INSERT chunk)"
values=""
for i in $(seq 1 1200); do
  values+="${values:+,}('n$i','10.1.$((i / 250)).$((i % 250))',8443,'online',UTC_TIMESTAMP(3),UTC_TIMESTAMP(3))"
done
sql "INSERT INTO nodes (hostname, ip, agent_port, status, created_at, updated_at) VALUES $values"
api POST $R '{"version":2,"batch_size":100}'
check_eq "curl: 201 with 1,201 online nodes in 13 batches" "201 1201 13" \
  "$HTTP_STATUS $(jq -r '"\(.total_nodes) \(.batch_count)"' <<<"$BODY")"
big=$(jq .id <<<"$BODY")
check_eq "curl: summary counts 1,201 pending nodes" 1201 \
  "$(jget "$R/$big?view=summary" | jq '[.batches[].pending] | add')"
check_eq "sql: 1,201 rows, batches 1..13, node ids ascending within each batch" "1201 1 13 0" \
  "$(sql "SELECT COUNT(*), MIN(a.batch), MAX(a.batch), SUM(a.node_id > b.node_id) FROM release_task_nodes a LEFT JOIN release_task_nodes b ON b.release_task_id=a.release_task_id AND b.batch=a.batch AND b.id=a.id+1 WHERE a.release_task_id=$big" | tr '\t' ' ')"

end_checks
