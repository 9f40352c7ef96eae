#!/usr/bin/env bash
# Integration test of the safety net (issue 9), against the real bin/cmdb, a private
# MariaDB and mutual-TLS agents: each node's config version, rollback by hand, automatic
# rollback of a failed release (also across a kill -9 of the controller), rollback from an
# Alertmanager webhook delivered twice, the approval gate (four eyes, reject, cancel, the
# node-count rule), and the check before every dispatch (a node set offline or moved
# mid-release is skipped and never contacted). What the agents applied is read from the
# simulator's apply log. Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/safety-net"
PORT=${SAFETY_AGENT_PORT:-10043}

echo "== set-up: MariaDB, certificates, agents, tokens, two controllers"
fresh_db cmdb_safety
stack_certs "$WORK/certs" 64
: >"$WORK/nodes.txt"
add_agent() { printf '127.0.4.%d:%d %s\n' "$1" "$PORT" "$2" >>"$WORK/nodes.txt"; }
for i in 1 2 3 5 6; do add_agent "$i" delay=0.2; done
add_agent 4 'delay=0.2 failversion=3'   # node 4 fails version 3 only
add_agent 7 'delay=0.2 failversion=5'   # node 7 fails version 5 only
add_agent 8 delay=2.5                   # node 8: slow, keeps a failed release in flight
add_agent 9 delay=1.5                   # node 9: slow
for i in 10 11 12; do add_agent "$i" delay=0.2; done
APPLY_LOG=$WORK/applies.log
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$APPLY_LOG" || exit 1

token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ALICE=$(token) BOB=$(token) AM=$(token) VIEWER=$(token)
{
  echo "alice:$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1)"
  echo "bob:$(printf '%s' "$BOB" | sha256sum | cut -d' ' -f1)"
  echo "alertmanager:$(printf '%s' "$AM" | sha256sum | cut -d' ' -f1)"
  echo "viewer:$(printf '%s' "$VIEWER" | sha256sum | cut -d' ' -f1):reader"
} >"$WORK/tokens"
chmod 600 "$WORK/tokens"
export CMDB_API_TOKENS_FILE=$WORK/tokens
EXEC_ENV=(RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 RELEASE_LEASE_SECONDS=5)
stack_cmdb "$WORK/cmdb.log" "${EXEC_ENV[@]}" || exit 1
API_EXEC=$API

rid() { jq -r .id <<<"$BODY"; }
field() { jget "/api/v1/releases/$1" | jq -r "$2"; }
done_rel() { release_done "$1"; }
# applied R: "node:version" of release R's applies, sorted by node.
applied() {
  grep "^apply .* key=cmdb-[0-9a-f]*-r$1-" "$APPLY_LOG" |
    sed 's/.*version=\([0-9]*\) .*-n\([0-9]*\)$/\2:\1/' | sort -n | paste -sd' '
}
applied_count() { grep -c "^apply .* key=cmdb-[0-9a-f]*-r$1-" "$APPLY_LOG"; }
versions() { # versions ID...: "id:config_version" of these nodes
  local out=() id
  for id in "$@"; do out+=("$id:$(jget "/api/v1/nodes/$id" | jq -r .config_version)"); done
  echo "${out[*]}"
}
run_release() { # run_release WHO BODY: creates a release and waits for its end; $R
  as "$1" POST /api/v1/releases "$2"
  R=$(rid)
  wait_until 60 done_rel "$R"
}

for i in $(seq 1 12); do
  as "$ALICE" POST /api/v1/nodes "{\"hostname\":\"s-$(printf %02d "$i")\",\"ip\":\"127.0.4.$i\",\"agent_port\":$PORT}"
  [ "$HTTP_STATUS" = 201 ] || { echo "registering node $i: $HTTP_STATUS $BODY" >&2; exit 1; }
done
# Node 12's agent stands in for the address node 11 moves to; node 12 itself stays out.
as "$ALICE" PATCH /api/v1/nodes/12 '{"status":"offline"}'

echo "== which version each node runs"
check_eq "curl: a new node runs no known version" "null null" \
  "$(jget /api/v1/nodes/1 | jq -r '"\(.config_version) \(.config_applied_at)"')"
run_release "$ALICE" '{"version":1,"batch_size":3,"node_ids":[1,2,3,4,5,6,9,10]}'
check_eq "curl: release of version 1 succeeds" success "$(field "$R" .status)"
check_eq "curl: ?config_version=1 lists the 8 nodes it reached" "1,2,3,4,5,6,9,10" \
  "$(jget '/api/v1/nodes?config_version=1' | jq -r '[.nodes[].id] | join(",")')"
check_eq "curl: ?config_version_not=1 lists the others, never-applied ones included" "7,8,11,12" \
  "$(jget '/api/v1/nodes?config_version_not=1' | jq -r '[.nodes[].id] | join(",")')"
check "curl: config_applied_at and config_release_id are shown" \
  jq -e ".config_applied_at != null and .config_release_id == $R" <(jget /api/v1/nodes/1)
check_eq "sql: config_version was set with the success (same finished_at)" 0 \
  "$(sql "SELECT COUNT(*) FROM nodes n JOIN release_task_nodes r ON r.node_id=n.id AND r.release_task_id=$R WHERE n.config_applied_at <> r.finished_at")"
R1=$R
run_release "$ALICE" '{"version":2,"batch_size":2,"node_ids":[1,2,3,4,5,6]}'
R2=$R
check_eq "curl: each release node shows its version and previous_version" "2 1" \
  "$(field "$R2" '.batches[0].nodes[0] | "\(.version) \(.previous_version)"')"
as "$ALICE" GET '/api/v1/nodes?config_version=x'
check_eq "curl: ?config_version=x is 400" 400 "$HTTP_STATUS"
as "$ALICE" GET '/api/v1/nodes?config_version=1&config_version_not=2'
check_eq "curl: both filters at once is 400" 400 "$HTTP_STATUS"

echo "== a failed release, then a rollback by hand"
run_release "$ALICE" '{"version":3,"batch_size":2,"node_ids":[1,2,3,4,5,6]}'
R3=$R
check_eq "curl: version 3 fails at node 4; batch 3 skipped" "failed failed skipped" \
  "$(field "$R3" '"\(.status) \(.batches[1].status) \(.batches[2].status)"')"
check_eq "curl: the fleet is split: nodes 1-3 on 3, 4-6 on 2" "1:3 2:3 3:3 4:2 5:2 6:2" "$(versions 1 2 3 4 5 6)"
as "$VIEWER" POST "/api/v1/releases/$R3/rollback"
check_eq "curl: a reader cannot roll back (403)" 403 "$HTTP_STATUS"
as "$BOB" POST "/api/v1/releases/$R3/rollback"
check_eq "curl: rollback answers 201 with rollback_of" "201 $R3 pending" \
  "$HTTP_STATUS $(jq -r '"\(.rollback_of) \(.status)"' <<<"$BODY")"
RB=$(rid)
check_eq "curl: the original shows rolled_back_by" "$RB" "$(field "$R3" .rolled_back_by)"
check_eq "curl: it has the original's batch plan and the dispatched nodes 1-4" "[2] 4" \
  "$(jq -c .batch_plan <<<"$BODY") $(jq -r .total_nodes <<<"$BODY")"
as "$BOB" POST "/api/v1/releases/$R3/rollback"
check_eq "curl: a second rollback request answers 200 with the same release" "200 $RB" "$HTTP_STATUS $(rid)"
check "curl: the rollback finishes" wait_until 60 done_rel "$RB"
check_eq "curl: rollback success, 4 nodes" "success 4" "$(field "$RB" '"\(.status) \(.success_nodes)"')"
check_eq "agents: each touched node got its previous version 2, once" "1:2 2:2 3:2 4:2" "$(applied "$RB")"
check_eq "sql: every node of the release runs 2 again" "1:2 2:2 3:2 4:2 5:2 6:2" "$(versions 1 2 3 4 5 6)"
check_eq "curl: the failed node 4 was re-applied (its state after a failed apply is unknown)" "2 2" \
  "$(field "$RB" '.batches[].nodes[] | select(.node_id == 4) | "\(.version) \(.previous_version)"')"
as "$BOB" POST "/api/v1/releases/$RB/rollback"
check_eq "curl: rollback of a rollback is 409" "409 invalid_transition" "$HTTP_STATUS $(jq -r .code <<<"$BODY")"
as "$ALICE" POST /api/v1/releases '{"version":9,"batch_size":1,"node_ids":[5],"not_before":"2099-01-01T00:00:00Z"}'
P=$(rid)
as "$BOB" POST "/api/v1/releases/$P/rollback"
check_eq "curl: rollback of a pending release is 409 naming pending" "409 pending" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
as "$ALICE" POST "/api/v1/releases/$P/cancel"
as "$BOB" POST "/api/v1/releases/$P/rollback"
check_eq "curl: rollback of a release that dispatched nothing is 422" 422 "$HTTP_STATUS"
check "curl: ...saying so" grep -q "dispatched nothing" <<<"$(jq -r .error <<<"$BODY")"
as "$BOB" POST "/api/v1/releases/$R3/rollback" '{"why":"x"}'
check_eq "curl: rollback takes no fields (400)" 400 "$HTTP_STATUS"
as "$BOB" POST "/api/v1/releases/$R1/rollback"
check_eq "curl: nodes with no previous version: nothing to roll back (422)" 422 "$HTTP_STATUS"

echo "== auto_rollback after a fail-fast"
run_release "$ALICE" '{"version":3,"batch_size":2,"node_ids":[1,2,3,4,5,6],"auto_rollback":true}'
R4=$R
AB=$(field "$R4" .rolled_back_by)
check_eq "curl: failed, with a rollback release created" "failed true" \
  "$(field "$R4" '"\(.status) \(.rolled_back_by != null)"')"
check "curl: created by the controller, with the reason" jq -e \
  '(.created_by | startswith("controller:")) and (.rollback_reason | test("auto_rollback"))' \
  <(jget "/api/v1/releases/$AB")
check "curl: the automatic rollback finishes" wait_until 60 done_rel "$AB"
check_eq "agents: it restored nodes 1-4 to version 2, once each" "1:2 2:2 3:2 4:2" "$(applied "$AB")"
check_eq "sql: nodes 1-6 run version 2" "1:2 2:2 3:2 4:2 5:2 6:2" "$(versions 1 2 3 4 5 6)"

echo "== a rollback that skips a node changed since: each batch ends, none stays running"
run_release "$ALICE" '{"version":11,"batch_size":2,"node_ids":[1,2,3,5]}'
R11=$R
run_release "$ALICE" '{"version":12,"batch_size":1,"node_ids":[5]}'
as "$BOB" POST "/api/v1/releases/$R11/rollback"
RS=$(rid)
check "curl: the rollback finishes" wait_until 60 done_rel "$RS"
check_eq "curl: it ends success; node 5 (changed since by release 12) skipped, not contacted" \
  "success 3 skipped 1:2 2:2 3:2 5:12" \
  "$(field "$RS" '"\(.status) \(.success_nodes) \(.batches[1].nodes[] | select(.node_id == 5) | .status)"') $(versions 1 2 3 5)"
check_eq "curl: batch 2 (1 success, 1 skipped) is success, never running: full view, summary" \
  "success success success success 1 1" \
  "$(field "$RS" '[.batches[].status] | join(" ")') $(jget "/api/v1/releases/$RS?view=summary" | jq -r '"\([.batches[].status] | join(" ")) \(.batches[1].success) \(.batches[1].skipped)"')"
check_eq "curl: filtering the nodes does not change a batch's status" "2 success" \
  "$(jget "/api/v1/releases/$RS?node_status=skipped" | jq -r '.batches[] | "\(.batch) \(.status)"')"

echo "== kill -9 between the failure and the rollback's start"
run_release "$ALICE" '{"version":4,"batch_size":2,"node_ids":[7,8]}'
as "$ALICE" POST /api/v1/releases '{"version":5,"batch_size":2,"node_ids":[7,8],"auto_rollback":true}'
K=$(rid)
check "curl: version 5 fails at node 7 while node 8 is still applying" \
  wait_until 30 bash -c "curl -s $API/api/v1/releases/$K | jq -e '.status == \"failed\" and .finished_at == null'"
kill -9 "$CMDB_PID"
wait "$CMDB_PID" 2>/dev/null
check_eq "sql: exactly one rollback release exists, written with the failure" 1 \
  "$(sql "SELECT COUNT(*) FROM release_tasks WHERE rollback_of=$K")"
KB=$(sql "SELECT id FROM release_tasks WHERE rollback_of=$K")
check_eq "sql: it has not started" pending "$(sql "SELECT status FROM release_tasks WHERE id=$KB")"
stack_cmdb "$WORK/cmdb2.log" "${EXEC_ENV[@]}" || exit 1
API_EXEC=$API
check "curl: the original finishes (taken over after the lease)" wait_until 60 done_rel "$K"
check "curl: the rollback runs and finishes" wait_until 60 done_rel "$KB"
check_eq "curl: rollback success" success "$(field "$KB" .status)"
check_eq "agents: rollback applied version 4 to nodes 7 and 8, once each" "7:4 8:4" "$(applied "$KB")"
check_eq "sql: still one rollback for it" 1 "$(sql "SELECT COUNT(*) FROM release_tasks WHERE rollback_of=$K")"
check_eq "sql: nodes 7 and 8 run version 4" "7:4 8:4" "$(versions 7 8)"

echo "== rollback from an Alertmanager alert"
run_release "$ALICE" '{"version":6,"batch_size":2,"node_ids":[1,2]}'
A6=$R
starts=$(date -u +%Y-%m-%dT%H:%M:%S.123456789Z)
alert() { # alert STATUS FINGERPRINT LABELS: one alert as Alertmanager's documentation shows it
  printf '{"status":"%s","labels":%s,"annotations":{"summary":"error ratio above 5%%"},"startsAt":"%s","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=x","fingerprint":"%s"}' \
    "$1" "$3" "$starts" "$2"
}
payload() { # payload ALERT...: the webhook body (version 4) around the alerts
  local IFS=,
  printf '{"version":"4","groupKey":"{}:{alertname=\\"ReleaseErrors\\"}","truncatedAlerts":0,"status":"firing","receiver":"cmdb","groupLabels":{"alertname":"ReleaseErrors"},"commonLabels":{"alertname":"ReleaseErrors"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[%s]}' "$*"
}
FIRING=$(payload "$(alert firing 1a2b3c4d5e6f7a8b "{\"alertname\":\"ReleaseErrors\",\"release_id\":\"$A6\",\"severity\":\"page\"}")" \
  "$(alert firing 0f0f0f0f0f0f0f0f '{"alertname":"DiskFull","instance":"db1"}')")
alerts_checksum() { sql 'CHECKSUM TABLE alerts, release_tasks' | cut -f2 | paste -sd' '; }
api POST /api/v1/alerts "$FIRING"
check_eq "curl: the alert webhook needs a writer (401 without a token)" 401 "$HTTP_STATUS"
as "$AM" POST /api/v1/alerts "$FIRING"
check_eq "curl: 200, two alerts received" "200 2" "$HTTP_STATUS $(jq -r .received <<<"$BODY")"
AR=$(jq -r '.alerts[0].rollback_release_id' <<<"$BODY")
check_eq "curl: the alert with release_id rolled that release back" "$A6 rolled back by release $AR" \
  "$(jq -r '.alerts[0] | "\(.release_id) \(.outcome)"' <<<"$BODY")"
check_eq "curl: the alert without release_id is ignored" "ignored: no release_id label" \
  "$(jq -r '.alerts[1].outcome' <<<"$BODY")"
before=$(sql "SELECT COUNT(*) FROM release_tasks")
as "$AM" POST /api/v1/alerts "$FIRING"
check_eq "curl: the same delivery again: 200, duplicate, the same rollback" "200 true $AR" \
  "$HTTP_STATUS $(jq -r '.alerts[0] | "\(.duplicate) \(.rollback_release_id)"' <<<"$BODY")"
check_eq "sql: it created no release" "$before" "$(sql "SELECT COUNT(*) FROM release_tasks")"
as "$AM" POST /api/v1/alerts "$(payload "$(alert resolved 1a2b3c4d5e6f7a8b "{\"alertname\":\"ReleaseErrors\",\"release_id\":\"$A6\"}")")"
check_eq "curl: the resolved alert is accepted and ignored" "200 ignored: resolved" \
  "$HTTP_STATUS $(jq -r '.alerts[0].outcome' <<<"$BODY")"
check_eq "sql: one rollback of the alerted release; the alerts kept with what they caused" \
  "1 $AR 2 ignored: resolved" \
  "$(sql "SELECT COUNT(*) FROM release_tasks WHERE rollback_of=$A6") $(sql "SELECT rollback_release_id, deliveries FROM alerts WHERE fingerprint='1a2b3c4d5e6f7a8b' AND status='firing'" | tr '\t' ' ') $(sql "SELECT outcome FROM alerts WHERE status='resolved'")"
check "curl: the alert's rollback finishes" wait_until 60 done_rel "$AR"
check_eq "agents: nodes 1 and 2 back on version 2" "1:2 2:2" "$(applied "$AR")"
check "curl: its reason names the alert" grep -q "alert ReleaseErrors (fingerprint 1a2b3c4d5e6f7a8b)" \
  <<<"$(field "$AR" .rollback_reason)"
as "$ALICE" POST /api/v1/releases '{"version":7,"batch_size":1,"node_ids":[9,10]}'
AL=$(rid)
wait_until 30 bash -c "[ \$(grep -c '^apply .*-r$AL-' '$APPLY_LOG') -ge 1 ]"
as "$AM" POST /api/v1/alerts "$(payload "$(alert firing 2b2b2b2b2b2b2b2b "{\"alertname\":\"ReleaseErrors\",\"release_id\":\"$AL\"}")")"
check "curl: an alert on a running release cancels it, then rolls it back" \
  grep -q "^cancelled; rolled back by release" <<<"$(jq -r '.alerts[0].outcome' <<<"$BODY")"
AL2=$(jq -r '.alerts[0].rollback_release_id' <<<"$BODY")
check "curl: both finish" wait_until 60 bash -c "curl -s $API/api/v1/releases/$AL | jq -e '.finished_at != null' && curl -s $API/api/v1/releases/$AL2 | jq -e '.finished_at != null'"
check_eq "curl: cancelled; node 10 never dispatched; node 9 back on 1" "cancelled 9:1 9:1" \
  "$(field "$AL" .status) $(applied "$AL2") $(versions 9)"
echo "-- malformed alert payloads: 400, nothing written"
before=$(alerts_checksum)
bad_alert() { # bad_alert BODY
  as "$AM" POST /api/v1/alerts "$1"
  if [ "$HTTP_STATUS" = 400 ] && jq -e '.error | length > 0' >/dev/null 2>&1 <<<"$BODY"; then
    check "400 ${1:0:60}" true
  else
    check "400 ${1:0:60} (got $HTTP_STATUS $BODY)" false
  fi
}
bad_alert '{"version":"3","alerts":[]}'
bad_alert '{"alerts":[]}'
bad_alert '{"version":"4","alerts":{}}'
bad_alert '{"version":"4","alerts":[1]}'
bad_alert '{"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-30T10:00:00Z"}]}'
bad_alert '{"version":"4","alerts":[{"status":"maybe","labels":{},"fingerprint":"a","startsAt":"2026-11-30T10:00:00Z"}]}'
bad_alert '{"version":"4","alerts":[{"status":"firing","labels":{"release_id":7},"fingerprint":"a","startsAt":"2026-11-30T10:00:00Z"}]}'
bad_alert '{"version":"4","alerts":[{"status":"firing","labels":{},"fingerprint":"a","startsAt":"soon"}]}'
bad_alert "$(payload "$(alert firing 3c3c "{\"release_id\":\"$A6\"}")" '{"status":"firing"}')"
bad_alert '[1,2]'
check_eq "sql: malformed payloads wrote nothing (alerts, releases)" "$before" "$(alerts_checksum)"

echo "== approval gate"
as "$ALICE" POST /api/v1/releases '{"version":8,"batch_size":1,"node_ids":[5,6],"require_approval":true}'
G=$(rid)
check_eq "curl: created awaiting_approval, with the reason" "201 awaiting_approval true require_approval was set" \
  "$HTTP_STATUS $(jq -r '"\(.status) \(.approval_required) \(.approval_reason)"' <<<"$BODY")"
sleep_scans() { local s=$SECONDS; wait_until 3 false; [ $((SECONDS - s)) -ge 2 ]; }
check "time: two executor scans pass" sleep_scans
check_eq "curl: never claimed while awaiting approval; nothing applied" "awaiting_approval null 0" \
  "$(field "$G" '"\(.status) \(.started_at)"') $(applied_count "$G")"
as "$ALICE" POST "/api/v1/releases/$G/approve"
check_eq "curl: the creator approving is 403" 403 "$HTTP_STATUS"
check "curl: ...saying four eyes" grep -q "four eyes" <<<"$(jq -r .error <<<"$BODY")"
as "$BOB" POST "/api/v1/releases/$G/approve" '{"comment":"checked the diff"}'
check_eq "curl: another principal approves: 200, pending" "200 pending token:bob checked the diff" \
  "$HTTP_STATUS $(jq -r '"\(.status) \(.approved_by) \(.approval_comment)"' <<<"$BODY")"
check "curl: the approved release runs to success" wait_until 60 done_rel "$G"
check_eq "curl: success, approver and comment kept" "success token:bob checked the diff" \
  "$(field "$G" '"\(.status) \(.approved_by) \(.approval_comment)"')"
as "$BOB" POST "/api/v1/releases/$G/approve"
check_eq "curl: approving a release that does not await approval is 409" "409 success" \
  "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
as "$ALICE" POST /api/v1/releases '{"version":8,"batch_size":1,"node_ids":[5],"require_approval":true}'
J=$(rid)
as "$BOB" POST "/api/v1/releases/$J/reject" '{"comment":"not today"}'
check_eq "curl: reject: rejected, by whom, why" "200 rejected token:bob not today" \
  "$HTTP_STATUS $(jq -r '"\(.status) \(.rejected_by) \(.approval_comment)"' <<<"$BODY")"
check_eq "curl: its nodes skipped, finished, nothing applied" "release rejected by token:bob true 0" \
  "$(field "$J" '"\(.batches[0].nodes[0].error_msg) \(.finished_at != null)"') $(applied_count "$J")"
as "$BOB" POST "/api/v1/releases/$J/approve"
check_eq "curl: approving a rejected release is 409" 409 "$HTTP_STATUS"
as "$ALICE" POST /api/v1/releases '{"version":8,"batch_size":1,"node_ids":[5],"require_approval":true}'
CX=$(rid)
as "$ALICE" POST "/api/v1/releases/$CX/cancel"
check_eq "curl: cancel works from awaiting_approval" "200 cancelled" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
as "$ALICE" POST "/api/v1/releases/$CX/pause"
check_eq "curl: pause of a cancelled release is 409" 409 "$HTTP_STATUS"
as "$BOB" POST "/api/v1/releases/$CX/approve" "{\"comment\":\"$(head -c 1100 /dev/zero | tr '\0' x)\"}"
check_eq "curl: a comment over 1024 characters is 422" 422 "$HTTP_STATUS"
as "$BOB" POST "/api/v1/releases/$CX/approve" '{"note":"x"}'
check_eq "curl: an unknown field is 400" 400 "$HTTP_STATUS"
echo "-- the node-count rule, through a controller with RELEASE_APPROVAL_MIN_NODES=3"
stack_cmdb "$WORK/cmdb-gate.log" RELEASE_EXECUTOR_ENABLED=0 RELEASE_APPROVAL_MIN_NODES=3 || exit 1
API_GATE=$API
as "$ALICE" POST '/api/v1/releases?dry_run=1' '{"version":8,"batch_size":2,"node_ids":[1,2,3,4]}'
check_eq "curl: a dry run of 4 nodes says it will need approval" "true 4 nodes, more than RELEASE_APPROVAL_MIN_NODES=3" \
  "$(jq -r '"\(.approval_required) \(.approval_reason)"' <<<"$BODY")"
as "$ALICE" POST /api/v1/releases '{"version":8,"batch_size":2,"node_ids":[1,2,3]}'
check_eq "curl: 3 nodes need no approval" pending "$(jq -r .status <<<"$BODY")"
NG=$(rid)
as "$ALICE" POST /api/v1/releases '{"version":8,"batch_size":2,"node_ids":[1,2,3,4]}'
check_eq "curl: 4 nodes await approval" awaiting_approval "$(jq -r .status <<<"$BODY")"
BIG=$(rid)
API=$API_EXEC
check "curl: the 3-node release runs" wait_until 60 done_rel "$NG"
API=$API_GATE
as "$BOB" POST "/api/v1/releases/$NG/rollback"
check_eq "curl: a rollback is never put behind the gate" "201 pending" "$HTTP_STATUS $(jq -r .status <<<"$BODY")"
NGB=$(rid)
as "$ALICE" POST "/api/v1/releases/$BIG/cancel"
API=$API_EXEC
check "curl: that rollback runs" wait_until 60 done_rel "$NGB"

echo "== the check before every dispatch"
as "$ALICE" POST /api/v1/releases '{"version":10,"batch_size":1,"node_ids":[9,10,11]}'
V=$(rid)
check "agents: batch 1 (slow node 9) dispatched" wait_until 30 bash -c "[ \$(grep -c '^apply .*-r$V-' '$APPLY_LOG') -ge 1 ]"
as "$ALICE" PATCH /api/v1/nodes/10 '{"status":"offline"}'
as "$ALICE" PATCH /api/v1/nodes/11 "{\"ip\":\"127.0.4.12\",\"agent_port\":$PORT}"
check_eq "curl: moving node 11 onto node 12's address is 409 (ip and port are taken)" 409 "$HTTP_STATUS"
as "$ALICE" PATCH /api/v1/nodes/12 '{"agent_port":1}'
as "$ALICE" PATCH /api/v1/nodes/11 "{\"ip\":\"127.0.4.12\",\"agent_port\":$PORT}"
check_eq "curl: node 11 moves to 127.0.4.12 (200)" "200 127.0.4.12" "$HTTP_STATUS $(jq -r .ip <<<"$BODY")"
check "curl: the release finishes" wait_until 60 done_rel "$V"
body=$(jget "/api/v1/releases/$V")
check_eq "curl: it ends success: skipped nodes are no failures" "success 1 0" \
  "$(jq -r '"\(.status) \(.success_nodes) \(.failed_nodes)"' <<<"$body")"
check_eq "curl: node 10 skipped as offline" "skipped node offline since the release was created; not contacted" \
  "$(jq -r '.batches[].nodes[] | select(.node_id == 10) | "\(.status) \(.error_msg)"' <<<"$body")"
check "curl: node 11 skipped as moved, naming both addresses" grep -q \
  "skipped node moved to 127.0.4.12:$PORT since the release was created (was 127.0.4.11:$PORT)" \
  <<<"$(jq -r '.batches[].nodes[] | select(.node_id == 11) | "\(.status) \(.error_msg)"' <<<"$body")"
check_eq "agents: only node 9 was contacted for this release" "9:10" "$(applied "$V")"
check_eq "agents: neither the offline node nor either address of the moved one got a request" 0 \
  "$(grep -E "node=127\.0\.4\.(10|11|12):.*-r$V-" "$APPLY_LOG" | wc -l)"
as "$ALICE" PATCH /api/v1/nodes/10 '{"hostname":"bad_name"}'
check_eq "curl: PATCH with a bad hostname is 422" 422 "$HTTP_STATUS"
as "$ALICE" PATCH /api/v1/nodes/10 '{}'
check_eq "curl: PATCH with nothing to change is 422" 422 "$HTTP_STATUS"
as "$ALICE" PATCH /api/v1/nodes/999 '{"status":"online"}'
check_eq "curl: PATCH of an unknown node is 404" 404 "$HTTP_STATUS"

echo "== every release ended consistent"
check_eq "sql: no release left unfinished" 0 "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")"
check_eq "sql: counters equal row counts in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE success_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='success') OR failed_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='failed')")"
check_eq "agents: no (release, node) applied twice" 0 \
  "$(grep '^apply ' "$APPLY_LOG" | sed 's/.* key=//' | sort | uniq -d | wc -l)"
check_eq "sql: no release has two rollbacks, and no rollback is rolled back" "0 0" \
  "$(sql "SELECT COUNT(*) FROM (SELECT rollback_of FROM release_tasks WHERE rollback_of IS NOT NULL GROUP BY rollback_of HAVING COUNT(*) > 1) x") $(sql "SELECT COUNT(*) FROM release_tasks a JOIN release_tasks b ON b.rollback_of=a.id WHERE a.rollback_of IS NOT NULL")"
check_eq "sql: every node's config_version is the version of its last success" 0 \
  "$(sql "SELECT COUNT(*) FROM nodes n JOIN release_task_nodes r ON r.release_task_id=n.config_release_id AND r.node_id=n.id WHERE r.status <> 'success' OR r.version <> n.config_version")"

end_checks
