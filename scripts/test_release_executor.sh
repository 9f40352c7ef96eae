#!/usr/bin/env bash
# Acceptance test of the release executor (seed 003, B0-01-03): SQL and curl checks
# against the real bin/cmdb, a private MariaDB and the mTLS agent simulator.
# Self-contained: starts everything under var/acceptance and stops it at the end.
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${ACCEPTANCE_DIR:-$ROOT/var/acceptance}"
# Agents listen on their own port so that `make run` (9443) can run beside the tests.
PORT=${ACCEPTANCE_AGENT_PORT:-9543}

echo "== set-up: MariaDB, certificates, agent simulator"
fresh_db cmdb_acceptance
stack_certs "$WORK/certs" 64
cat >"$WORK/nodes.txt" <<NODES
# six healthy agents, a failing one, four more healthy ones; 127.0.1.20 is not served
127.0.1.1:$PORT delay=0.6
127.0.1.2:$PORT delay=0.6
127.0.1.3:$PORT delay=0.3
127.0.1.4:$PORT delay=0.3
127.0.1.5:$PORT delay=0.3
127.0.1.6:$PORT delay=0.3
127.0.1.11:$PORT fail delay=0.2
127.0.1.12:$PORT delay=0.5
127.0.1.13:$PORT delay=0.2
127.0.1.14:$PORT delay=0.2
127.0.1.15:$PORT delay=0.2
NODES
APPLY_LOG=$WORK/applies.log
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$APPLY_LOG" || exit 1

# applies IP: how many times the agent at IP applied a config (replays excluded).
applies() { grep -c "^apply node=$1:$PORT " "$APPLY_LOG"; }
total_applies() { grep -c '^apply ' "$APPLY_LOG"; }
wait_done() { wait_until 60 release_done "$1"; }

echo "== config: a malformed RELEASE_EXECUTOR_ENABLED stops start-up with exit 2"
RELEASE_EXECUTOR_ENABLED=yes "$ROOT/bin/cmdb" serve >"$WORK/badconfig.log" 2>&1
check_eq "config: exit code 2 for RELEASE_EXECUTOR_ENABLED=yes" 2 $?
check "config: message names the variable" grep -q RELEASE_EXECUTOR_ENABLED "$WORK/badconfig.log"

echo "== executor disabled: releases stay pending"
stack_cmdb "$WORK/cmdb-off.log" RELEASE_EXECUTOR_ENABLED=0 || exit 1
check "log says the executor is off" grep -q 'release executor OFF' "$WORK/cmdb-off.log"
names=(web-01 web-02 web-03 web-04 web-05 web-06 web-down db-fail db-12 db-13 db-14 db-15)
ips=(1 2 3 4 5 6 20 11 12 13 14 15)
for i in "${!names[@]}"; do
  api POST /api/v1/nodes "{\"hostname\":\"${names[$i]}\",\"ip\":\"127.0.1.${ips[$i]}\",\"agent_port\":$PORT}"
  check_eq "curl: register ${names[$i]} answers 201" 201 "$HTTP_STATUS"
done
check_eq "curl: 12 nodes registered" 12 "$(jget /api/v1/nodes | jq .count)"
check_eq "sql: 12 rows in nodes" 12 "$(sql 'SELECT COUNT(*) FROM nodes')"

api POST /api/v1/releases '{"version":42,"batch_size":2,"node_ids":[1,2,3,4,5,6]}'
body=$BODY
check_eq "curl: POST /releases answers 201" 201 "$HTTP_STATUS"
R1=$(jq -r .id <<<"$body")
check_eq "curl: new release is pending with 6 nodes" "pending 6" "$(jq -r '"\(.status) \(.total_nodes)"' <<<"$body")"
check_eq "sql: release_tasks row is pending" pending "$(sql "SELECT status FROM release_tasks WHERE id=$R1")"
check_eq "sql: 6 pending release_task_nodes in batches 1,1,2,2,3,3" "6 1,1,2,2,3,3" \
  "$(sql "SELECT COUNT(*), GROUP_CONCAT(batch ORDER BY node_id) FROM release_task_nodes WHERE release_task_id=$R1 AND status='pending'" | tr '\t' ' ')"
# Negative check: two executor intervals (1 s each) with nothing allowed to happen.
sleep 2.5
check_eq "curl: with the executor off the release is still pending" pending "$(release_status "$R1")"
check_eq "agents: nothing was dispatched" 0 "$(total_applies)"
stop_pid "$CMDB_PID"

echo "== executor on: success over 3 batches"
stack_cmdb "$WORK/cmdb-on.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 || exit 1
check "log says the executor is on" grep -q 'release executor ON' "$WORK/cmdb-on.log"
check "curl: release seen running" wait_until 20 bash -c "[ \"\$(curl -s $API/api/v1/releases/$R1 | jq -r .status)\" = running ]"
check "curl: release finishes" wait_done "$R1"
body=$(jget "/api/v1/releases/$R1")
check_eq "curl: status success, 6 success, 0 failed" "success 6 0" \
  "$(jq -r '"\(.status) \(.success_nodes) \(.failed_nodes)"' <<<"$body")"
check_eq "curl: 3 batches in order, all success" "1:success 2:success 3:success" \
  "$(jq -r '[.batches[] | "\(.batch):\(.status)"] | join(" ")' <<<"$body")"
check_eq "curl: every node has a task_id and timestamps" 6 \
  "$(jq '[.batches[].nodes[] | select(.task_id != null and .started_at != null and .finished_at != null)] | length' <<<"$body")"
check_eq "sql: release success with counters 6/0 and finished_at" "success 6 0 1" \
  "$(sql "SELECT status, success_nodes, failed_nodes, finished_at IS NOT NULL FROM release_tasks WHERE id=$R1" | tr '\t' ' ')"
check_eq "sql: success_nodes equals the success rows" 6 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id=$R1 AND status='success'")"
check_eq "sql: batch k+1 started only after batch k finished" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes a JOIN release_task_nodes b ON a.release_task_id=b.release_task_id AND b.batch=a.batch+1 WHERE a.release_task_id=$R1 AND b.started_at < a.finished_at")"
for ip in 1 2 3 4 5 6; do
  check_eq "agents: 127.0.1.$ip applied version 42 exactly once" 1 "$(applies 127.0.1.$ip)"
done

echo "== failure in batch 1: later batches skipped and never dispatched"
before=$(total_applies)
api POST /api/v1/releases '{"version":43,"batch_size":2,"node_ids":[8,9,10,11,12]}'
body=$BODY
R2=$(jq -r .id <<<"$body")
check "curl: failing release finishes" wait_done "$R2"
body=$(jget "/api/v1/releases/$R2")
check_eq "curl: release failed" failed "$(jq -r .status <<<"$body")"
check "curl: error_msg names the failing node and the agent error" \
  grep -q 'db-fail.*agent failed: ' <<<"$(jq -r .error_msg <<<"$body")"
check_eq "curl: batches failed, skipped, skipped" "failed skipped skipped" \
  "$(jq -r '[.batches[].status] | join(" ")' <<<"$body")"
check_eq "curl: in-flight batch-1 peer followed to success" success \
  "$(jq -r '.batches[0].nodes[] | select(.node_id == 9) | .status' <<<"$body")"
check_eq "curl: ?view=summary counts per batch" "1:failed:2:1:1:0 2:skipped:2:0:0:2 3:skipped:1:0:0:1" \
  "$(jget "/api/v1/releases/$R2?view=summary" | jq -r '[.batches[] | "\(.batch):\(.status):\(.total):\(.success):\(.failed):\(.skipped)"] | join(" ")')"
check_eq "curl: ?view=summary carries no node lists" null \
  "$(jget "/api/v1/releases/$R2?view=summary" | jq -c '.batches[0].nodes')"
check_eq "curl: ?node_status=skipped lists the 3 skipped nodes" "10 11 12" \
  "$(jget "/api/v1/releases/$R2?node_status=skipped" | jq -r '[.batches[].nodes[].node_id] | join(" ")')"
api GET "/api/v1/releases/$R2?view=everything"
check_eq "curl: an unknown view is 400" 400 "$HTTP_STATUS"
check_eq "sql: release failed with counters 1 success / 1 failed" "failed 1 1" \
  "$(sql "SELECT status, success_nodes, failed_nodes FROM release_tasks WHERE id=$R2" | tr '\t' ' ')"
check_eq "sql: 3 nodes skipped, all in batches 2 and 3" "3 2" \
  "$(sql "SELECT COUNT(*), MIN(batch) FROM release_task_nodes WHERE release_task_id=$R2 AND status='skipped'" | tr '\t' ' ')"
check_eq "sql: skipped nodes have no task_id and no started_at" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id=$R2 AND status='skipped' AND (task_id IS NOT NULL OR started_at IS NOT NULL)")"
check_eq "sql: no node left pending or running" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id=$R2 AND status IN ('pending','running')")"
check_eq "sql: failed_nodes equals the failed rows" 1 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id=$R2 AND status='failed'")"
check_eq "agents: only the 2 batch-1 nodes were dispatched" 2 "$(( $(total_applies) - before ))"
for ip in 13 14 15; do
  check_eq "agents: 127.0.1.$ip was never dispatched" 0 "$(applies 127.0.1.$ip)"
done

echo "== unreachable agent"
api POST /api/v1/releases '{"version":44,"batch_size":1,"node_ids":[7,12]}'
body=$BODY
R3=$(jq -r .id <<<"$body")
check "curl: release with an unreachable node finishes" wait_done "$R3"
body=$(jget "/api/v1/releases/$R3")
check_eq "curl: release failed" failed "$(jq -r .status <<<"$body")"
check_eq "curl: node error says connection refused, after 3 retries" "connect 127.0.1.20:$PORT: connection refused (after 3 retries)" \
  "$(jq -r '.batches[0].nodes[0].error_msg' <<<"$body")"
check_eq "sql: batch 2 skipped" skipped \
  "$(sql "SELECT status FROM release_task_nodes WHERE release_task_id=$R3 AND batch=2")"
check_eq "agents: 127.0.1.12 not dispatched by this release" 0 \
  "$(grep -c "^apply node=127.0.1.12:$PORT .*-r$R3-" "$APPLY_LOG")"

echo "== restart: a finished release is never re-run"
applied=$(total_applies)
finished=$(sql "SELECT GROUP_CONCAT(finished_at ORDER BY id) FROM release_tasks")
stop_pid "$CMDB_PID"
check "log: graceful stop" grep -q 'stopped' "$WORK/cmdb-on.log"
stack_cmdb "$WORK/cmdb-restart.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 || exit 1
# A new release finishing proves the restarted executor has scanned the table.
api POST /api/v1/releases '{"version":45,"batch_size":3,"node_ids":[3,4,5]}'
body=$BODY
R4=$(jq -r .id <<<"$body")
check "curl: release after restart finishes" wait_done "$R4"
check_eq "curl: it succeeded" success "$(release_status "$R4")"
check_eq "agents: only the 3 new applies happened" 3 "$(( $(total_applies) - applied ))"
check_eq "sql: earlier releases keep their finished_at" "$finished" \
  "$(sql "SELECT GROUP_CONCAT(finished_at ORDER BY id) FROM release_tasks WHERE id < $R4")"

echo "== SIGTERM mid-release: lease handed back, a restart resumes without re-applying"
api POST /api/v1/releases '{"version":49,"batch_size":2,"node_ids":[1,2,3,4,5,6]}'
R5=$(jq -r .id <<<"$BODY")
check "curl: batch 1 done, release still running" wait_until 30 bash -c \
  "curl -s $API/api/v1/releases/$R5 | jq -e '.success_nodes >= 2 and .status == \"running\"'"
stop_pid "$CMDB_PID"
check "log: the stopped controller handed the lease back" \
  grep -q "release $R5: stopped, lease handed back" "$WORK/cmdb-restart.log"
check_eq "sql: release still running, without owner or lease" "running 1" \
  "$(sql "SELECT status, owner IS NULL AND lease_expires_at IS NULL FROM release_tasks WHERE id=$R5" | tr '\t' ' ')"
stack_cmdb "$WORK/cmdb-resume.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 || exit 1
check "curl: resumed release finishes" wait_done "$R5"
check_eq "curl: resumed release succeeded with 6 nodes" "success 6" \
  "$(jget "/api/v1/releases/$R5" | jq -r '"\(.status) \(.success_nodes)"')"
check_eq "agents: each node applied version 49 exactly once" "6 0" \
  "$(grep -c "^apply .*version=49 " "$APPLY_LOG") $(grep "^apply .*version=49 " "$APPLY_LOG" | sed 's/.* key=//' | sort | uniq -d | wc -l)"

echo "== two controllers on one database: each release is driven once"
stack_cmdb "$WORK/cmdb-second.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 || exit 1
applied=$(total_applies)
ids=()
for v in 46 47 48; do
  api POST /api/v1/releases "{\"version\":$v,\"batch_size\":2,\"node_ids\":[1,2,3,4,5,6]}"
  body=$BODY
  ids+=("$(jq -r .id <<<"$body")")
done
for id in "${ids[@]}"; do
  wait_done "$id"
done
check_eq "sql: the 3 releases succeeded" "success success success" \
  "$(sql "SELECT GROUP_CONCAT(status ORDER BY id SEPARATOR ' ') FROM release_tasks WHERE id IN ($(IFS=,; echo "${ids[*]}"))")"
claims=0
for id in "${ids[@]}"; do
  claims=$((claims + $(cat "$WORK"/cmdb-*.log | grep -c "claimed release $id\$")))
done
check_eq "logs: each of the 3 releases was claimed exactly once" 3 "$claims"
check_eq "logs: no controller lost a lease" 0 "$(cat "$WORK"/cmdb-*.log | grep -c 'lease lost')"
check_eq "agents: 18 applies for 3 x 6 nodes, none twice" "18 0" \
  "$(( $(total_applies) - applied )) $(grep '^apply ' "$APPLY_LOG" | sed 's/.* key=//' | sort | uniq -d | wc -l)"

echo "== operator controls (issue 8): a canary pauses by itself, a cancel skips the rest, a tolerated failure"
api POST /api/v1/releases '{"version":50,"batches":[1,2],"node_ids":[3,4,5],"pause_after":[1]}'
check_eq "curl: canary release created (201)" 201 "$HTTP_STATUS"
R6=$(jq -r .id <<<"$BODY")
paused() { [ "$(sql "SELECT status, owner IS NULL FROM release_tasks WHERE id=$R6")" = $'paused\t1' ]; }
check "sql: the canary pauses after batch 1 and is handed back (no owner)" wait_until 30 paused
check_eq "sql: paused_reason and paused_through record the plan's pause" "paused after batch 1 (pause_after) 1" \
  "$(sql "SELECT paused_reason, paused_through FROM release_tasks WHERE id=$R6" | tr '\t' ' ')"
check_eq "sql: batch 1 (node 3) success, batch 2 pending" "1:3:success 2:4:pending 2:5:pending" \
  "$(sql "SELECT GROUP_CONCAT(CONCAT(batch, ':', node_id, ':', status) ORDER BY id SEPARATOR ' ') FROM release_task_nodes WHERE release_task_id=$R6")"
api POST "/api/v1/releases/$R6/cancel"
check_eq "curl: cancel answers 200 cancelled" "200 cancelled" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
check_eq "sql: cancelled and finished at once, by local; batch 2 skipped with the reason" \
  "cancelled 1 local 2 release cancelled by local" \
  "$(sql "SELECT t.status, t.finished_at IS NOT NULL, t.updated_by, COUNT(*), MAX(n.error_msg) FROM release_tasks t JOIN release_task_nodes n ON n.release_task_id=t.id AND n.status='skipped' WHERE t.id=$R6 GROUP BY t.id" | tr '\t' ' ')"
check_eq "agents: only the canary node was applied" 1 "$(grep -c "^apply .*-r$R6-" "$APPLY_LOG")"
api POST /api/v1/releases '{"version":51,"batch_size":2,"node_ids":[8,9,10],"max_failures":1}'
R7=$(jq -r .id <<<"$BODY")
check "curl: the tolerant release finishes" wait_done "$R7"
check_eq "sql: one failure within max_failures 1: partial, 2 success, 1 failed, allowance 1" \
  "partial 2 1 1" \
  "$(sql "SELECT status, success_nodes, failed_nodes, failure_allowance FROM release_tasks WHERE id=$R7" | tr '\t' ' ')"

echo "== bad input changes nothing"
releases_before=$(sql 'SELECT COUNT(*) FROM release_tasks')
api POST /api/v1/releases '{"version":1,'
check_eq "curl: truncated JSON is 400" 400 "$HTTP_STATUS"
api POST /api/v1/releases '{"version":"7","batch_size":2}'
check_eq "curl: version as a string is 400" 400 "$HTTP_STATUS"
api POST /api/v1/releases '{"version":0,"batch_size":2}'
check_eq "curl: version 0 is 422" 422 "$HTTP_STATUS"
api POST /api/v1/releases '{"version":5,"batch_size":0}'
check_eq "curl: batch_size 0 is 422" 422 "$HTTP_STATUS"
api POST /api/v1/releases '{"version":5,"batch_size":1,"node_ids":[1,999]}'
body=$BODY
msg=$(jq -r .error <<<"$body")
check_eq "curl: unknown node is 422 naming it" "422 node 999 does not exist" "$HTTP_STATUS $msg"
api PATCH /api/v1/nodes/2 '{"status":"offline"}'
check_eq "curl: PATCH node offline is 200" 200 "$HTTP_STATUS"
api POST /api/v1/releases '{"version":5,"batch_size":1,"node_ids":[1,2]}'
body=$BODY
msg=$(jq -r .error <<<"$body")
check_eq "curl: offline node is 422 naming it" "422 node 2 (web-02) is offline" "$HTTP_STATUS $msg"
api POST /api/v1/releases '{"version":5,"batch_size":1,"node_ids":[]}'
check_eq "curl: empty node_ids is 422" 422 "$HTTP_STATUS"
api GET /api/v1/releases/999999
check_eq "curl: unknown release is 404" 404 "$HTTP_STATUS"
api DELETE "/api/v1/releases/$R1"
check_eq "curl: DELETE is 405" 405 "$HTTP_STATUS"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$WORK/big.json" "$API/api/v1/releases")
check_eq "curl: body over 1 MiB is 413" 413 "$code"
check_eq "sql: no release was created by bad input" "$releases_before" "$(sql 'SELECT COUNT(*) FROM release_tasks')"
check_eq "sql: counters equal row counts in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE success_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='success') OR failed_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='failed')")"

end_checks
