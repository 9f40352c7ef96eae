#!/usr/bin/env bash
# Integration test of steering a release (issue 8), against the real bin/cmdb, a private
# MariaDB and mutual-TLS agents: canary plans with pause_after, pause mid-batch, resume,
# cancel from every state, failure tolerance, percentage batches, node order, not_before,
# expires_at, idempotent create, dry-run, and releases that share nodes or do not.
# Whether anything was dispatched after a pause or cancel returned is judged from the
# agent simulator's apply log, whose lines carry the agent's clock (at=epoch ms).
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/release-control"
PORT=${CONTROL_AGENT_PORT:-9943}

echo "== set-up: MariaDB, certificates, agents, two controllers (one with the executor off)"
fresh_db cmdb_control
stack_certs "$WORK/certs" 64
: >"$WORK/nodes.txt"
add_agent() { printf '127.0.3.%d:%d %s\n' "$1" "$PORT" "$2" >>"$WORK/nodes.txt"; }
for i in 1 2 3 4 5 6; do add_agent "$i" delay=0.3; done      # nodes 1-6: quick
add_agent 7 'fail delay=0.2'                                   # node 7: fails its apply
add_agent 8 'fail delay=0.2'                                   # node 8: fails its apply
for i in 9 10 11 12 13 14 15 16; do add_agent "$i" delay=0.3; done # nodes 9-16
for i in 17 18 19 20 21 22; do add_agent "$i" delay=1.5; done      # nodes 17-22: slow
APPLY_LOG=$WORK/applies.log
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$APPLY_LOG" || exit 1

stack_cmdb "$WORK/api.log" RELEASE_EXECUTOR_ENABLED=0 || exit 1
API_OTHER=$API # a controller without executor: its API takes requests for releases it never drives
for i in $(seq 1 22); do
  api POST /api/v1/nodes "{\"hostname\":\"c-$(printf %02d "$i")\",\"ip\":\"127.0.3.$i\",\"agent_port\":$PORT}"
  [ "$HTTP_STATUS" = 201 ] || { echo "registering node $i: $HTTP_STATUS $BODY" >&2; exit 1; }
done
stack_cmdb "$WORK/cmdb.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 || exit 1
API_EXEC=$API

# now_ms: the wall clock in ms, the same clock as the agent's at= field.
now_ms() { date +%s%3N; }
# applies R: apply lines of release R; applies_after R T: those the agent logged after T.
applies() { grep -c "^apply .* key=cmdb-[0-9a-f]*-r$1-" "$APPLY_LOG"; }
applies_after() {
  awk -v r="-r$1-" -v t="$2" '/^apply / && index($0, r) {
    for (i = 1; i <= NF; i++) if ($i ~ /^at=/) { split($i, a, "="); if (a[2] + 0 > t + 0) n++ }
  } END { print n + 0 }' "$APPLY_LOG"
}
# applied_nodes R: node ids of release R's applies, in the order the agents saw them.
applied_nodes() {
  grep "^apply .* key=cmdb-[0-9a-f]*-r$1-" "$APPLY_LOG" | sed 's/.*-n\([0-9]*\)$/\1/' | paste -sd' '
}
status_of() { jget "/api/v1/releases/$1" | jq -r .status; }
is_status() { [ "$(status_of "$1")" = "$2" ]; }
done_rel() { release_done "$1"; }
rid() { jq -r .id <<<"$BODY"; }
# owner_gone R: the release has no owner (handed back or never claimed).
owner_gone() { [ "$(sql "SELECT owner IS NULL FROM release_tasks WHERE id=$1")" = 1 ]; }
iso_in() { date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ; }

echo "== canary: batches [1, \"50%\"], pause_after [1], node order from node_ids"
api POST /api/v1/releases '{"version":100,"batches":[1,"50%"],"node_ids":[3,1,2,4,5,6],"pause_after":[1]}'
check_eq "curl: created (201)" 201 "$HTTP_STATUS"
C=$(rid)
check_eq "curl: batch_plan and batch_sizes shown" '[1,"50%"] [1,3,2] null' \
  "$(jq -c '.batch_plan' <<<"$BODY") $(jq -c '.batch_sizes' <<<"$BODY") $(jq -c '.batch_size' <<<"$BODY")"
check_eq "sql: the first node listed is batch 1; the rest in the order given" "3:1 1:2 2:2 4:2 5:3 6:3" \
  "$(sql "SELECT GROUP_CONCAT(CONCAT(node_id, ':', batch) ORDER BY id SEPARATOR ' ') FROM release_task_nodes WHERE release_task_id=$C")"
check "curl: canary pauses by itself after batch 1" wait_until 30 is_status "$C" paused
body=$(jget "/api/v1/releases/$C")
check_eq "curl: paused_reason names the plan" "paused after batch 1 (pause_after)" "$(jq -r .paused_reason <<<"$body")"
check_eq "curl: batch 1 success, batches 2 and 3 pending" "success pending pending" \
  "$(jq -r '[.batches[].status] | join(" ")' <<<"$body")"
check "sql: the paused release was handed back (no owner)" wait_until 10 owner_gone "$C"
check_eq "agents: only the canary node was applied" "3" "$(applied_nodes "$C")"
api PATCH /api/v1/nodes/6 '{"status":"offline"}'
api POST "/api/v1/releases/$C/resume"
check_eq "curl: resume answers 200, status pending" "200 pending" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
check "curl: resumed canary finishes" wait_until 30 done_rel "$C"
body=$(jget "/api/v1/releases/$C")
check_eq "curl: success, 5 applied" "success 5" "$(jq -r '"\(.status) \(.success_nodes)"' <<<"$body")"
check_eq "curl: node 6, offline since creation, skipped with the reason" "skipped node offline since the release was created" \
  "$(jq -r '.batches[].nodes[] | select(.node_id == 6) | "\(.status) \(.error_msg)"' <<<"$body")"
read -ra order <<<"$(applied_nodes "$C")"
check_eq "agents: the canary first, then batch 2 (1, 2, 4), then batch 3 (5)" "3|1 2 4|5" \
  "${order[0]}|$(printf '%s\n' "${order[@]:1:3}" | sort -n | paste -sd' ')|${order[4]:-}"
check_eq "sql: batch 2 started only after batch 1 finished" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes a JOIN release_task_nodes b ON a.release_task_id=b.release_task_id AND b.batch=a.batch+1 WHERE a.release_task_id=$C AND b.started_at < a.finished_at")"
api PATCH /api/v1/nodes/6 '{"status":"online"}'

echo "== connections opened ahead: for the next batch while one applies, none past a pause"
# conns KIND: the executor's cmdb_agent_connections_total{how="KIND"}.
conns() { curl -s "$API_EXEC/metrics" | awk -v m="cmdb_agent_connections_total{how=\"$1\"}" '$1 == m { print $2 }'; }
before=$(conns ahead)
api POST /api/v1/releases '{"version":140,"batch_size":2,"node_ids":[9,10,11,12,13,14]}'
A=$(rid)
check "curl: a release of 3 batches finishes" wait_until 30 done_rel "$A"
check_eq "curl: it succeeded" success "$(status_of "$A")"
ahead=$(( $(conns ahead) - before ))
check "metrics: the 4 nodes of batches 2 and 3 had their connections opened ahead (got $ahead)" \
  test "$ahead" -ge 4
check_eq "sql: no batch started before the one ahead of it finished" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes a JOIN release_task_nodes b ON a.release_task_id=b.release_task_id AND b.batch=a.batch+1 WHERE a.release_task_id=$A AND b.started_at < a.finished_at")"
before=$(conns ahead)
api POST /api/v1/releases '{"version":141,"batch_size":2,"node_ids":[9,10,11,12],"pause_after":[1]}'
A=$(rid)
check "curl: a release with pause_after [1] pauses after batch 1" wait_until 30 is_status "$A" paused
check "sql: and is handed back" wait_until 10 owner_gone "$A"
ahead=$(( $(conns ahead) - before ))
check "metrics: no connection was opened ahead for batch 2, behind the pause (got $ahead, at most batch 1's 2)" \
  test "$ahead" -le 2
api POST "/api/v1/releases/$A/cancel"
check "curl: cancelled, it finishes" wait_until 20 done_rel "$A"

echo "== pause mid-batch through another controller's API; in-flight calls finish; resume"
api POST /api/v1/releases '{"version":101,"batch_size":3,"node_ids":[17,18,19,20,21,22]}'
P=$(rid)
check "agents: batch 1 dispatched" wait_until 20 bash -c "[ \$(grep -c '^apply .*-r$P-' '$APPLY_LOG') -ge 3 ]"
API=$API_OTHER
api POST "/api/v1/releases/$P/pause"
T=$(now_ms)
check_eq "curl: pause answers 200 and the release is paused when it returns" "200 paused" \
  "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
api POST "/api/v1/releases/$P/pause"
check_eq "curl: a second pause is 200 and changes nothing" "200 paused" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
API=$API_EXEC
check "curl: the 3 in-flight nodes are followed to success" wait_until 20 bash -c \
  "curl -s $API/api/v1/releases/$P | jq -e '.success_nodes == 3'"
check "sql: then the owner hands the lease back" wait_until 10 owner_gone "$P"
check_eq "agents: nothing dispatched after the pause returned" 0 "$(applies_after "$P" "$T")"
check_eq "curl: batch 2 still pending, status paused" "paused pending" \
  "$(jget "/api/v1/releases/$P?view=summary" | jq -r '"\(.status) \(.batches[1].status)"')"
api POST "/api/v1/releases/$P/resume"
check "curl: resumed release finishes" wait_until 30 done_rel "$P"
check_eq "curl: success with 6 nodes, each applied once" "success 6 6" \
  "$(jget "/api/v1/releases/$P" | jq -r '"\(.status) \(.success_nodes)"') $(applies "$P")"
check_eq "curl: updated_by names who resumed it" local "$(jget "/api/v1/releases/$P" | jq -r .updated_by)"

echo "== cancel while running: in-flight calls end, nothing new, later batches skipped"
api POST /api/v1/releases '{"version":102,"batch_size":2,"node_ids":[17,18,19,20,21,22]}'
X=$(rid)
check "agents: batch 1 dispatched" wait_until 20 bash -c "[ \$(grep -c '^apply .*-r$X-' '$APPLY_LOG') -ge 2 ]"
API=$API_OTHER
api POST "/api/v1/releases/$X/cancel"
T=$(now_ms)
API=$API_EXEC
check_eq "curl: cancel answers 200 cancelled, not finished while calls are in flight" "200 cancelled null" \
  "$HTTP_STATUS $(jq -r '"\(.status) \(.finished_at)"' <<<"$BODY")"
check "curl: the cancelled release finishes" wait_until 20 done_rel "$X"
body=$(jget "/api/v1/releases/$X")
check_eq "curl: in-flight batch 1 followed to success; batches 2-3 skipped" "success skipped skipped" \
  "$(jq -r '[.batches[].status] | join(" ")' <<<"$body")"
check_eq "curl: skipped nodes say who cancelled" "release cancelled by local" \
  "$(jq -r '[.batches[2].nodes[].error_msg] | unique | join(",")' <<<"$body")"
check_eq "agents: nothing dispatched after the cancel returned; 2 applies in all" "0 2" \
  "$(applies_after "$X" "$T") $(applies "$X")"
api POST "/api/v1/releases/$X/cancel"
check_eq "curl: cancelling a cancelled release is 200 and changes nothing" "200 cancelled" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
api POST "/api/v1/releases/$X/resume"
check_eq "curl: resuming a cancelled release is 409 naming its state" "409 invalid_transition cancelled" \
  "$HTTP_STATUS $(jq -r '"\(.code) \(.status)"' <<<"$BODY")"
check "curl: ... with a message that says which states allow it" \
  grep -q "it is cancelled; only a paused release can be resumed" <<<"$(jq -r .error <<<"$BODY")"

echo "== pending (not_before), paused, and cancel of both; resume and pause refused where they do not apply"
api POST /api/v1/releases "{\"version\":103,\"batch_size\":2,\"node_ids\":[9,10],\"not_before\":\"$(iso_in 3600)\"}"
N1=$(rid)
api POST "/api/v1/releases/$N1/resume"
check_eq "curl: resuming a pending release is 409" "409 pending" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
api POST "/api/v1/releases/$N1/cancel"
check_eq "curl: cancel of a pending release ends it at once" "200 cancelled true" \
  "$HTTP_STATUS $(jq -r '"\(.status) \(.finished_at != null)"' <<<"$BODY")"
check_eq "sql: its nodes skipped, none started" "2 0" \
  "$(sql "SELECT SUM(status='skipped'), SUM(started_at IS NOT NULL) FROM release_task_nodes WHERE release_task_id=$N1" | tr '\t' ' ')"
api POST /api/v1/releases "{\"version\":104,\"batch_size\":2,\"node_ids\":[9,10],\"not_before\":\"$(iso_in 3600)\"}"
N2=$(rid)
api POST "/api/v1/releases/$N2/pause"
check_eq "curl: a pending release can be paused" "200 paused" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
api POST "/api/v1/releases/$N2/cancel"
check_eq "curl: cancel of a paused release ends it at once" "200 cancelled true" \
  "$HTTP_STATUS $(jq -r '"\(.status) \(.finished_at != null)"' <<<"$BODY")"
api POST "/api/v1/releases/$C/pause"
check_eq "curl: pausing a finished release is 409 naming success" "409 success" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
api POST "/api/v1/releases/999999/pause"
check_eq "curl: an action on an unknown release is 404" 404 "$HTTP_STATUS"
api GET "/api/v1/releases/$C/pause"
check_eq "curl: GET on an action is 405" 405 "$HTTP_STATUS"
api POST "/api/v1/releases/$C/restart"
check_eq "curl: an unknown action is 404" 404 "$HTTP_STATUS"
api POST "/api/v1/releases/$N2/pause" '{"reason":"x"}'
check_eq "curl: an action with fields is 400" 400 "$HTTP_STATUS"
check_eq "agents: nothing applied for the never-started releases" "0 0" "$(applies "$N1") $(applies "$N2")"

echo "== failure tolerance"
api POST /api/v1/releases '{"version":105,"batch_size":2,"node_ids":[7,9,10,11,12,13],"max_failures":1}'
T1=$(rid)
check "curl: tolerant release finishes" wait_until 30 done_rel "$T1"
check_eq "curl: 1 failure of 6 within max_failures 1 ends partial" "partial 5 1 1" \
  "$(jget "/api/v1/releases/$T1" | jq -r '"\(.status) \(.success_nodes) \(.failed_nodes) \(.failure_allowance)"')"
api POST /api/v1/releases '{"version":106,"batch_size":2,"node_ids":[7,9,8,10,11,12],"max_failures":1}'
T2=$(rid)
check "curl: release with 2 failures finishes" wait_until 30 done_rel "$T2"
body=$(jget "/api/v1/releases/$T2")
check_eq "curl: the second failure halts it: failed, batch 3 skipped" "failed failed failed skipped" \
  "$(jq -r '"\(.status) \([.batches[].status] | join(" "))"' <<<"$body")"
check "curl: error_msg names the node and the allowance" \
  grep -q "node 8 .*2 failed nodes exceed the allowance of 1" <<<"$(jq -r .error_msg <<<"$body")"
check_eq "curl: skipped nodes say why" "release failed: batch 2 node 8 (c-08): agent failed: simulated apply failure on 127.0.3.8" \
  "$(jq -r '.batches[2].nodes[0].error_msg' <<<"$body")"
check_eq "agents: batch 3 never dispatched" "" "$(applied_nodes "$T2" | tr ' ' '\n' | grep -xE '11|12')"
api POST /api/v1/releases '{"version":107,"batch_size":3,"node_ids":[7,9,10,11,12,13],"max_failure_percent":20}'
T3=$(rid)
check "curl: release with max_failure_percent 20 finishes" wait_until 30 done_rel "$T3"
check_eq "curl: 20% of 6 allows 1 failure: partial" "partial 1" \
  "$(jget "/api/v1/releases/$T3" | jq -r '"\(.status) \(.failure_allowance)"')"

echo "== percentage batches"
api POST /api/v1/releases '{"version":108,"batches":["25%","50%"],"node_ids":[9,10,11,12,13,14,15,16]}'
B=$(rid)
check_eq "curl: 25% then 50% of 8 nodes cut 2, 4, 2" "[2,4,2] 3" "$(jq -c .batch_sizes <<<"$BODY") $(jq -r .batch_count <<<"$BODY")"
check "curl: it finishes" wait_until 30 done_rel "$B"
check_eq "sql: rows per batch 2,4,2; success" "1:2 2:4 3:2 success" \
  "$(sql "SELECT GROUP_CONCAT(CONCAT(batch, ':', c) ORDER BY batch SEPARATOR ' ') FROM (SELECT batch, COUNT(*) c FROM release_task_nodes WHERE release_task_id=$B GROUP BY batch) x") $(status_of "$B")"

echo "== not_before"
NB=$(iso_in 3)
api POST /api/v1/releases "{\"version\":109,\"batch_size\":2,\"node_ids\":[13,14],\"not_before\":\"$NB\"}"
S=$(rid)
check_eq "curl: not_before is shown" "$(date -u -d "$NB" +%Y-%m-%dT%H:%M:%S.000Z)" "$(jq -r .not_before <<<"$BODY")"
check_eq "curl: still pending right after creation" pending "$(status_of "$S")"
check "curl: it runs once its time has come" wait_until 30 done_rel "$S"
check_eq "sql: claimed no earlier than not_before" 1 \
  "$(sql "SELECT started_at >= not_before FROM release_tasks WHERE id=$S")"

echo "== two releases sharing a node run one after the other; disjoint ones at the same time"
api POST /api/v1/releases '{"version":110,"batch_size":3,"node_ids":[17,18,19]}'
O1=$(rid)
api POST /api/v1/releases '{"version":111,"batch_size":2,"node_ids":[19,20]}'
O2=$(rid)
api GET "/api/v1/releases/$O2"
check_eq "curl: the later one shows which release it waits for" "pending $O1" "$(jq -r '"\(.status) \(.waiting_for)"' <<<"$BODY")"
api POST /api/v1/releases '{"version":112,"batch_size":2,"node_ids":[21,22]}'
O3=$(rid)
for r in "$O1" "$O2" "$O3"; do check "curl: release $r finishes" wait_until 30 done_rel "$r"; done
check_eq "sql: the overlapping one started after the first finished" 1 \
  "$(sql "SELECT b.started_at >= a.finished_at FROM release_tasks a, release_tasks b WHERE a.id=$O1 AND b.id=$O2")"
check_eq "sql: the disjoint ones ran at the same time" 1 \
  "$(sql "SELECT a.started_at < c.finished_at AND c.started_at < a.finished_at FROM release_tasks a, release_tasks c WHERE a.id=$O1 AND c.id=$O3")"
check_eq "curl: all three succeeded" "success success success" "$(status_of "$O1") $(status_of "$O2") $(status_of "$O3")"

echo "== expires_at: a release blocked past its expiry never starts"
api POST /api/v1/releases "{\"version\":113,\"batch_size\":1,\"node_ids\":[15],\"not_before\":\"$(iso_in 3600)\"}"
BLOCK=$(rid)
api POST /api/v1/releases "{\"version\":114,\"batch_size\":1,\"node_ids\":[15,16],\"expires_at\":\"$(iso_in 2)\"}"
E=$(rid)
check "curl: it expires" wait_until 30 is_status "$E" expired
body=$(jget "/api/v1/releases/$E")
check_eq "curl: nodes skipped with the reason; finished" "release expired before it started true" \
  "$(jq -r '"\([.batches[].nodes[].error_msg] | unique | join(",")) \(.finished_at != null)"' <<<"$body")"
check_eq "agents: nothing applied for it" 0 "$(applies "$E")"
# Its end is on the timeline like any other end (and so goes to the webhook).
check_eq "curl: the timeline ends with 'finished expired' by the controller" \
  "finished expired controller" \
  "$(jget "/api/v1/releases/$E/events" |
    jq -r '.events[-1] | "\(.type) \(.detail) \(.actor | split(":")[0])"')"
api POST "/api/v1/releases/$BLOCK/cancel"

echo "== idempotent create"
count_releases() { sql 'SELECT COUNT(*) FROM release_tasks'; }
before=$(count_releases)
idem() { # idem KEY BODY: POST /api/v1/releases with an Idempotency-Key
  local out
  out=$(curl -s -w '\n%{http_code}' -H "Idempotency-Key: $1" -H 'Content-Type: application/json' \
    --data-binary "$2" "$API/api/v1/releases")
  HTTP_STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
idem key-1 '{"version":115,"batch_size":1,"node_ids":[13],"not_before":"2099-01-01T00:00:00Z"}'
check_eq "curl: first request with a key creates (201)" 201 "$HTTP_STATUS"
I=$(rid)
idem key-1 '{"version":115,"batch_size":1,"node_ids":[13],"not_before":"2099-01-01T00:00:00Z"}'
check_eq "curl: the same key and body answer 200 with the same release" "200 $I" "$HTTP_STATUS $(rid)"
idem key-1 '{"version":116,"batch_size":1,"node_ids":[13],"not_before":"2099-01-01T00:00:00Z"}'
check_eq "curl: the same key with another body is 409 idempotency_payload_mismatch" "409 idempotency_payload_mismatch" \
  "$HTTP_STATUS $(jq -r .code <<<"$BODY")"
check_eq "sql: exactly one release was created" "$((before + 1))" "$(count_releases)"
nodes_before=$(sql 'SELECT COUNT(*) FROM nodes')
for i in 1 2; do
  out=$(curl -s -w '\n%{http_code}' -H 'Idempotency-Key: node-key' -H 'Content-Type: application/json' \
    --data-binary '{"hostname":"c-99","ip":"127.0.3.99","agent_port":1}' "$API/api/v1/nodes")
  codes[$i]=${out##*$'\n'}
  ids[$i]=$(jq -r .id <<<"${out%$'\n'*}")
done
check_eq "curl: node create with a key: 201, then 200 with the same node" "201 200 ${ids[1]}" "${codes[1]} ${codes[2]} ${ids[2]}"
check_eq "sql: one node was added" "$((nodes_before + 1))" "$(sql 'SELECT COUNT(*) FROM nodes')"
api PATCH "/api/v1/nodes/${ids[1]}" '{"status":"offline"}'
api POST "/api/v1/releases/$I/cancel"

echo "== dry run writes nothing"
checksum() {
  sql 'CHECKSUM TABLE nodes, release_tasks, release_task_nodes, idempotency_keys' | cut -f2 | paste -sd' '
  sql "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA='cmdb_control' AND TABLE_NAME IN ('release_tasks','release_task_nodes') ORDER BY TABLE_NAME" | paste -sd' '
}
before=$(checksum)
out=$(curl -s -w '\n%{http_code}' -H 'Idempotency-Key: dry-key' -H 'Content-Type: application/json' \
  --data-binary '{"version":117,"batches":[1,"50%"],"max_failures":2,"pause_after":[1]}' "$API/api/v1/releases?dry_run=1")
HTTP_STATUS=${out##*$'\n'}
BODY=${out%$'\n'*}
check_eq "curl: dry run answers 200 with dry_run true" "200 true" "$HTTP_STATUS $(jq -r .dry_run <<<"$BODY")"
check_eq "curl: every online node, cut 1, then 50% of 22, ..." "22 [1,11,10] 3" \
  "$(jq -c '"\(.total_nodes) \(.batch_sizes) \(.batch_count)"' <<<"$BODY" | tr -d '"')"
check_eq "curl: batch 1 lists node 1; the allowance is shown" "1 2" \
  "$(jq -r '"\(.batches[0].nodes | map(.node_id) | join(",")) \(.failure_allowance)"' <<<"$BODY")"
check_eq "curl: the offline node is listed as left out" "${ids[1]} offline" \
  "$(jq -r '.left_out[] | "\(.node_id) \(.reason)"' <<<"$BODY")"
check_eq "sql: tables and auto-increment counters unchanged" "$before" "$(checksum)"
api POST '/api/v1/releases?dry_run=1' '{"version":117,"batch_size":1,"node_ids":[999]}'
check_eq "curl: a dry run checks like a create: unknown node is 422" 422 "$HTTP_STATUS"
api POST '/api/v1/releases?dry_run=maybe' '{"version":117,"batch_size":1}'
check_eq "curl: dry_run=maybe is 400" 400 "$HTTP_STATUS"

echo "== bad input for every new field: a clear 400/422 and nothing written"
before=$(checksum)
expect() { # expect STATUS BODY: POST /api/v1/releases answers STATUS with an error text
  api POST /api/v1/releases "$2"
  if [ "$HTTP_STATUS" = "$1" ] && jq -e '.error | length > 0' >/dev/null 2>&1 <<<"$BODY"; then
    check "$1 $2" true
  else
    check "$1 $2 (got $HTTP_STATUS $BODY)" false
  fi
}
expect 422 '{"version":1,"node_ids":[1]}'
expect 422 '{"version":1,"batch_size":1,"batches":[1],"node_ids":[1]}'
expect 400 '{"version":1,"batches":2,"node_ids":[1]}'
expect 422 '{"version":1,"batches":[],"node_ids":[1]}'
expect 422 '{"version":1,"batches":[0],"node_ids":[1]}'
expect 422 '{"version":1,"batches":[-2],"node_ids":[1]}'
expect 400 '{"version":1,"batches":[1.5],"node_ids":[1]}'
expect 422 '{"version":1,"batches":["0%"],"node_ids":[1]}'
expect 422 '{"version":1,"batches":["101%"],"node_ids":[1]}'
expect 422 '{"version":1,"batches":["20"],"node_ids":[1]}'
expect 422 '{"version":1,"batches":["2.5%"],"node_ids":[1]}'
expect 400 '{"version":1,"batches":[true],"node_ids":[1]}'
expect 400 '{"version":1,"batch_size":1,"pause_after":1,"node_ids":[1,2]}'
expect 422 '{"version":1,"batch_size":1,"pause_after":[],"node_ids":[1,2]}'
expect 422 '{"version":1,"batch_size":1,"pause_after":[0],"node_ids":[1,2]}'
expect 400 '{"version":1,"batch_size":1,"pause_after":["1"],"node_ids":[1,2]}'
expect 422 '{"version":1,"batch_size":1,"pause_after":[1,1],"node_ids":[1,2,3]}'
expect 422 '{"version":1,"batch_size":1,"pause_after":[3],"node_ids":[1,2]}'
expect 422 '{"version":1,"batch_size":1,"pause_after":[2],"node_ids":[1,2]}'
expect 422 '{"version":1,"batch_size":1,"max_failures":-1,"node_ids":[1]}'
expect 400 '{"version":1,"batch_size":1,"max_failures":"1","node_ids":[1]}'
expect 422 '{"version":1,"batch_size":1,"max_failure_percent":101,"node_ids":[1]}'
expect 422 '{"version":1,"batch_size":1,"max_failures":1,"max_failure_percent":10,"node_ids":[1]}'
expect 422 '{"version":1,"batch_size":1,"not_before":"tomorrow","node_ids":[1]}'
expect 400 '{"version":1,"batch_size":1,"not_before":1700000000,"node_ids":[1]}'
expect 422 '{"version":1,"batch_size":1,"not_before":"2020-01-01T00:00:00Z","node_ids":[1]}'
expect 422 '{"version":1,"batch_size":1,"expires_at":"2020-01-01T00:00:00Z","node_ids":[1]}'
expect 422 "{\"version\":1,\"batch_size\":1,\"not_before\":\"$(iso_in 7200)\",\"expires_at\":\"$(iso_in 3600)\",\"node_ids\":[1]}"
expect 422 '{"version":1,"batch_size":1,"node_ids":[1,1]}'
out=$(curl -s -w '\n%{http_code}' -H 'Idempotency-Key: has space' -H 'Content-Type: application/json' \
  --data-binary '{"version":1,"batch_size":1,"node_ids":[1]}' "$API/api/v1/releases")
check_eq "curl: a malformed Idempotency-Key is 400" 400 "${out##*$'\n'}"
check_eq "sql: nothing was written by bad input" "$before" "$(checksum)"

echo "== every release ended consistent"
check_eq "sql: no release left unfinished but the far-future ones cancelled above" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")"
check_eq "sql: counters equal row counts in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE success_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='success') OR failed_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='failed')")"
# The executor keeps its rounds' statements prepared: each "finished" line says how many
# of the release's statements the server had to prepare, and a release that ran a few
# dozen prepared only some of them.
stmts=$(sed -n 's/.* finished: .*, \([0-9]*\) SQL statements (\([0-9]*\) prepared).*/\1 \2/p' "$WORK/cmdb.log")
check "log: finished releases say how many of their statements were prepared" test -n "$stmts"
check_eq "log: no release of 20 statements or more prepared half of them" 0 \
  "$(awk '$1 >= 20 && 2 * $2 >= $1' <<<"$stmts" | wc -l)"
check_eq "agents: no (release, node) applied twice" 0 \
  "$(grep '^apply ' "$APPLY_LOG" | sed 's/.* key=//' | sort | uniq -d | wc -l)"
check_eq "agents: no skipped node was ever applied" 0 \
  "$(sql "SELECT CONCAT('cmdb-', t.idempotency_token, '-r', t.id, '-n', n.node_id) FROM release_task_nodes n JOIN release_tasks t ON t.id=n.release_task_id WHERE n.status='skipped'" | grep -cxFf - <(grep '^apply ' "$APPLY_LOG" | sed 's/.* key=//'))"

end_checks
