#!/usr/bin/env bash
# Integration test of running cmdb in production (issue 10), against the real bin/cmdb, a
# private MariaDB, mutual-TLS agents, a real webhook receiver (build/tests/hookd) and a
# real Prometheus: the audit timeline and its paging, webhook notifications (delivery,
# signature, a 500 then success, a receiver that hangs, kill -9 before delivery, masked
# URLs), GET /metrics and a Prometheus that scrapes it, JSON logs, the health probes, and
# SIGHUP reloading tokens and the API and agent certificates while a release runs.
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/operations"
PORT=${OPS_AGENT_PORT:-10143}
HOOKD=$ROOT/build/tests/hookd
[ -x "$HOOKD" ] || { echo "build/tests/hookd is missing: run make test" >&2; exit 1; }

echo "== set-up: MariaDB, certificates, agents, webhook receiver, tokens, a controller"
fresh_db cmdb_ops
stack_certs "$WORK/certs" 64
: >"$WORK/nodes.txt"
add_agent() { printf '127.0.5.%d:%d %s\n' "$1" "$PORT" "$2" >>"$WORK/nodes.txt"; }
for i in 1 2 3 4; do add_agent "$i" delay=0.2; done
add_agent 5 'fail delay=0.2'    # node 5: its apply fails
add_agent 6 'flaky=1 delay=0.2' # node 6: the first dispatch answers 503
add_agent 7 delay=3             # node 7: slow, keeps a release running
add_agent 8 'flaky=1 delay=0.2' # node 8: like node 6, for the metrics of a later controller
APPLY_LOG=$WORK/applies.log
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$APPLY_LOG" || exit 1

HOOK=$WORK/hook
mkdir -p "$HOOK"
echo ok >"$HOOK/mode"
HOOK_PORT=$(free_port)
start_bg "$WORK/hookd.log" "$HOOKD" "$HOOK_PORT" "$HOOK"
wait_until 10 grep -q 'hookd ready' "$WORK/hookd.log" || { cat "$WORK/hookd.log" >&2; exit 1; }

token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ALICE=$(token) BOB=$(token) CAROL=$(token)
tokens_line() { echo "$1:$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)"; }
{ tokens_line alice "$ALICE"; tokens_line bob "$BOB"; } >"$WORK/tokens"
chmod 600 "$WORK/tokens"
export CMDB_API_TOKENS_FILE=$WORK/tokens
SECRET=$(token)
HOOK_URL="http://hookuser:hookpass@127.0.0.1:$HOOK_PORT/hook?key=querysecret"
CMDB_ENV=(RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 RELEASE_LEASE_SECONDS=5
  CMDB_LOG_FORMAT=json RELEASE_WEBHOOK_URL="$HOOK_URL" RELEASE_WEBHOOK_SECRET="$SECRET"
  RELEASE_WEBHOOK_TIMEOUT=2 RELEASE_WEBHOOK_RETRIES=3)
stack_cmdb "$WORK/cmdb.log" "${CMDB_ENV[@]}" || exit 1

rid() { jq -r .id <<<"$BODY"; }
done_rel() { release_done "$1"; }
events() { jget "/api/v1/releases/$1/events?limit=1000"; }
types() { events "$1" | jq -r '[.events[].type] | join(" ")'; }
run_release() { # run_release BODY: creates a release as alice, waits for its end; $R
  as "$ALICE" POST /api/v1/releases "$1"
  R=$(rid)
  wait_until 60 done_rel "$R"
}
for i in 1 2 3 4 5 6 7 8; do
  as "$ALICE" POST /api/v1/nodes "{\"hostname\":\"o-$i\",\"ip\":\"127.0.5.$i\",\"agent_port\":$PORT}"
  [ "$HTTP_STATUS" = 201 ] || { echo "node $i: $HTTP_STATUS $BODY" >&2; exit 1; }
done

delivered() { # delivered RELEASE: the delivery of its release.finished was answered 200
  local id
  id=$(sql "SELECT delivery_id FROM notifications WHERE release_id=$1 AND event='release.finished'")
  [ -n "$id" ] && grep -q "delivery=$id .*answer=200" "$HOOK/requests.log" 2>/dev/null
}

echo "== the audit timeline"
run_release '{"version":1,"batch_size":2,"node_ids":[1,2,6]}'
R1=$R
check_eq "curl: release 1 succeeded" success "$(jget "/api/v1/releases/$R1" | jq -r .status)"
# Once its notification is out, release 1's timeline is complete.
wait_until 20 delivered "$R1"
ev=$(events "$R1")
check_eq "curl: created by alice first, claimed by the controller next" "created token:alice claimed controller:" \
  "$(jq -r '"\(.events[0].type) \(.events[0].actor) \(.events[1].type) \(.events[1].actor | sub(":.*"; ":"))"' <<<"$ev")"
check_eq "curl: two batches started, three nodes dispatched and succeeded" "2 3 3" \
  "$(jq -r '[.events[] | select(.type == "batch_started")] | length' <<<"$ev") $(jq -r '[.events[] | select(.type == "node_dispatched")] | length' <<<"$ev") $(jq -r '[.events[] | select(.type == "node_succeeded")] | length' <<<"$ev")"
check "curl: the flaky node's retry is on the timeline with its reason" \
  jq -e '[.events[] | select(.type == "node_retried" and .node_id == 6 and (.detail | test("503")))] | length == 1' <<<"$ev"
check_eq "curl: the last release event is finished (success)" "finished success" \
  "$(jq -r '[.events[] | select(.type | startswith("notif") | not)] | last | "\(.type) \(.detail)"' <<<"$ev")"
check "curl: event ids increase and times never go back" \
  jq -e '[.events[].id] as $i | [.events[].at] as $t | ($i == ($i | sort)) and ($t == ($t | sort))' <<<"$ev"
page1=$(jget "/api/v1/releases/$R1/events?limit=3")
next=$(jq -r .next_after <<<"$page1")
page2=$(jget "/api/v1/releases/$R1/events?after=$next&limit=1000")
check_eq "curl: paging with after/limit returns every event once, in order" \
  "$(jq -c '[.events[].id]' <<<"$ev")" "$(jq -c -s '[.[].events[].id]' <(echo "$page1") <(echo "$page2"))"
check_eq "curl: a tail past the end is empty and keeps the cursor" "0 $(jq -r '.events[-1].id' <<<"$ev")" \
  "$(jget "/api/v1/releases/$R1/events?after=$(jq -r '.events[-1].id' <<<"$ev")" | jq -r '"\(.events | length) \(.next_after)"')"
api GET "/api/v1/releases/999999/events"
check_eq "curl: events of an unknown release: 404" 404 "$HTTP_STATUS"
api GET "/api/v1/releases/$R1/events?after=-1"
check_eq "curl: a negative cursor is 400" 400 "$HTTP_STATUS"
run_release '{"version":2,"batch_size":1,"node_ids":[1,5,2]}'
R2=$R
ev=$(events "$R2")
check "curl: the failed node's event carries the agent's error" \
  jq -e '[.events[] | select(.type == "node_failed" and .node_id == 5 and (.detail | test("simulated apply failure")))] | length == 1' <<<"$ev"
check "curl: then halted with the reason, then finished failed" \
  jq -e '[.events[].type] | (index("halted") < index("finished")) and (map(select(. == "finished")) | length == 1)' <<<"$ev"
as "$ALICE" POST /api/v1/releases '{"version":3,"batch_size":1,"node_ids":[3],"not_before":"2099-01-01T00:00:00Z"}'
R3=$(rid)
as "$BOB" POST "/api/v1/releases/$R3/pause"
as "$BOB" POST "/api/v1/releases/$R3/resume"
as "$BOB" POST "/api/v1/releases/$R3/cancel"
check_eq "curl: operator actions on the timeline, with bob as actor" "created:token:alice paused:token:bob resumed:token:bob cancelled:token:bob finished:token:bob" \
  "$(events "$R3" | jq -r '[.events[] | select(.type | startswith("notif") | not) | "\(.type):\(.actor)"] | join(" ")')"
check_eq "sql: one node_succeeded and one node_failed event per such row, in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE t.success_nodes <> (SELECT COUNT(*) FROM release_events e WHERE e.release_id=t.id AND e.type='node_succeeded') OR t.failed_nodes <> (SELECT COUNT(*) FROM release_events e WHERE e.release_id=t.id AND e.type='node_failed')")"

echo "== webhook notifications"
check "hookd: release 1's notification arrived" wait_until 20 delivered "$R1"
D1=$(sql "SELECT delivery_id FROM notifications WHERE release_id=$R1 AND event='release.finished'")
line=$(grep "delivery=$D1 .*answer=200" "$HOOK/requests.log" | head -1)
n=${line%% *}
body=$HOOK/body-$n.json
check_eq "hookd: the body says what happened" "$D1 release.finished $R1 success 3 3 0 0 token:alice" \
  "$(jq -r '"\(.delivery_id) \(.event) \(.release_id) \(.status) \(.total_nodes) \(.success_nodes) \(.failed_nodes) \(.skipped_nodes) \(.created_by)"' "$body")"
check "hookd: a one-line text a chat webhook shows, and a duration" \
  jq -e '(.text | test("^cmdb: release [0-9]+ \\(version 1\\) success")) and (.text | contains("\n") | not) and .duration_ms > 0' "$body"
check "hookd: at most 16 KiB" test "$(wc -c <"$body")" -le 16384
want=$(openssl dgst -sha256 -hmac "$SECRET" -hex <"$body" | sed 's/.*= //')
check_eq "hookd: X-Cmdb-Signature is the HMAC-SHA256 of the body" "sha256=$want" \
  "$(sed 's/.* signature=\([^ ]*\).*/\1/' <<<"$line")"
check "hookd: the body holds no secret, token or URL credential" \
  bash -c "! grep -qE '$SECRET|$ALICE|$BOB|hookpass|querysecret' $HOOK/body-*.json"
check "curl: the timeline records the delivery" \
  jq -e '[.events[] | select(.type == "notified" and (.detail | contains("HTTP 200")))] | length == 1' <(events "$R1")
check "log: the webhook URL is masked" grep -q "http://\*\*\*@127.0.0.1:$HOOK_PORT/hook?\*\*\*" "$WORK/cmdb.log"
check "log: no credential of the URL, no secret, no token in it" \
  bash -c "! grep -qE 'hookpass|querysecret|$SECRET|$ALICE|$BOB' $WORK/cmdb.log"

# outbox_empty: every notification so far was delivered (or given up).
outbox_empty() { [ "$(sql "SELECT COUNT(*) FROM notifications WHERE state='pending'")" = 0 ]; }

echo "-- a 500, then success"
check "sql: the earlier notifications are out" wait_until 30 outbox_empty
echo fail=1 >"$HOOK/mode"
run_release '{"version":4,"batch_size":2,"node_ids":[1,2]}'
R4=$R
check "hookd: delivered on the second attempt" wait_until 20 delivered "$R4"
D4=$(sql "SELECT delivery_id FROM notifications WHERE release_id=$R4 AND event='release.finished'")
check_eq "hookd: the same delivery id twice, answered 500 then 200" "500 200" \
  "$(grep "delivery=$D4 " "$HOOK/requests.log" | sed 's/.*answer=\([0-9]*\).*/\1/' | paste -sd' ')"
check_eq "curl: the timeline has notify_failed (HTTP 500) then notified" "notify_failed:HTTP 500 notified:HTTP 200" \
  "$(events "$R4" | jq -r '[.events[] | select(.type | startswith("notif")) | "\(.type):\(.detail | capture("(?<h>HTTP [0-9]+)").h)"] | join(" ")')"

echo "-- a receiver that hangs delays no release"
wait_until 30 outbox_empty
echo hang >"$HOOK/mode"
as "$ALICE" POST /api/v1/releases '{"version":5,"batch_size":2,"node_ids":[3,4]}'
R5=$(rid)
check "curl: the release ends while the webhook hangs" wait_until 20 done_rel "$R5"
check_eq "curl: and succeeds" success "$(jget "/api/v1/releases/$R5" | jq -r .status)"
check "curl: the attempt times out after RELEASE_WEBHOOK_TIMEOUT (notify_failed: timed out)" wait_until 20 \
  bash -c "curl -s $API/api/v1/releases/$R5/events | jq -e '[.events[] | select(.type == \"notify_failed\" and (.detail | test(\"timed out\")))] | length >= 1'"
echo ok >"$HOOK/mode"
check "hookd: delivered once the receiver answers again" wait_until 30 delivered "$R5"

echo "-- kill -9 before delivery: sent after the restart"
wait_until 30 outbox_empty
echo hang >"$HOOK/mode"
as "$ALICE" POST /api/v1/releases '{"version":6,"batch_size":2,"node_ids":[1,2]}'
R6=$(rid)
check "curl: release 6 ends" wait_until 20 done_rel "$R6"
D6=$(sql "SELECT delivery_id FROM notifications WHERE release_id=$R6 AND event='release.finished'")
check "hookd: its first attempt is in flight (hanging)" wait_until 10 grep -q "delivery=$D6 " "$HOOK/requests.log"
kill -9 "$CMDB_PID"
wait "$CMDB_PID" 2>/dev/null
check_eq "sql: not delivered when the controller died" pending \
  "$(sql "SELECT state FROM notifications WHERE delivery_id='$D6'")"
echo ok >"$HOOK/mode"
stack_cmdb "$WORK/cmdb2.log" "${CMDB_ENV[@]}" || exit 1
check "hookd: delivered after the restart, with the same delivery id" wait_until 40 delivered "$R6"
check_eq "sql: delivered, and only one notification row for it" "delivered 1" \
  "$(sql "SELECT state, COUNT(*) FROM notifications WHERE release_id=$R6 AND event='release.finished' GROUP BY state" | tr '\t' ' ')"

echo "== metrics"
metrics=$WORK/metrics.txt
curl -s -D "$WORK/metrics.hdr" -o "$metrics" "$API/metrics"
check "curl: /metrics answers text/plain in the exposition format" grep -qi '^Content-Type: text/plain; version=0.0.4' "$WORK/metrics.hdr"
check "promtool: check metrics accepts it" bash -c "promtool check metrics <'$metrics' 2>&1 | grep -v 'counter metrics should' | grep -v '^$' | (! grep -q .)"
mval() { # mval METRIC{labels}: its value in the scrape (label values may hold spaces)
  awk -v m="$1" '{ v = $NF; line = $0; sub(/ [^ ]*$/, "", line); if (line == m) print v }' "$metrics"
}
check "metrics: a build info gauge" grep -qE '^cmdb_build_info\{version="[^"]+"\} 1$' "$metrics"
check "metrics: releases by status from the database" test "$(mval 'cmdb_releases{status="success"}')" -ge 4
check "metrics: API requests by route and code" test "$(mval 'cmdb_api_requests_total{route="GET /healthz",code="200"}')" -ge 1
check "metrics: a histogram with its +Inf bucket" grep -q '^cmdb_agent_request_duration_seconds_bucket{kind="poll",le="+Inf"}' "$metrics"
as "$ALICE" POST /api/v1/releases '{"version":7,"batch_size":3,"node_ids":[1,5,8]}'
R7=$(rid)
wait_until 30 done_rel "$R7"
curl -s -o "$metrics" "$API/metrics"
check "metrics: node outcomes by class (success, agent_failed)" \
  test "$(mval 'cmdb_node_outcomes_total{class="success"}')" -ge 2 -a "$(mval 'cmdb_node_outcomes_total{class="agent_failed"}')" -ge 1
check "metrics: the flaky agent's 503 is a transient dispatch" test "$(mval 'cmdb_agent_requests_total{kind="dispatch",outcome="transient"}')" -ge 1
check "metrics: POST /api/v1/releases 201 counted" test "$(mval 'cmdb_api_requests_total{route="POST /api/v1/releases",code="201"}')" -ge 1
check "metrics: webhook deliveries counted" test "$(mval 'cmdb_webhook_deliveries_total{outcome="delivered"}')" -ge 1
check_eq "metrics: nothing active once it is done" "0 0" "$(mval cmdb_releases_active) $(mval cmdb_agent_calls_inflight)"

echo "-- a real Prometheus scrapes the controller during a release"
PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$ROOT/deploy/prometheus/alerts.yml" ]
scrape_configs:
  - job_name: cmdb
    static_configs: [ { targets: [ "${API#http://}" ] } ]
YML
start_bg "$WORK/prometheus.log" prometheus --config.file="$WORK/prometheus.yml" \
  --storage.tsdb.path="$WORK/prom" --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
PROM=http://127.0.0.1:$PROM_PORT
check "prometheus: ready" wait_until 60 curl -sf "$PROM/-/ready"
# Targets reach the scraper in batches every 5 s: wait for the first scrape.
check "prometheus: the scrape target is up" wait_until 30 bash -c "[ \"\$(curl -s --data-urlencode 'query=up{job=\"cmdb\"}' $PROM/api/v1/query | jq -r '.data.result[0].value[1]')\" = 1 ]"
as "$ALICE" POST /api/v1/releases '{"version":8,"batch_size":1,"node_ids":[7,1]}'
R8=$(rid)
check "prometheus: saw the release active while it ran" wait_until 30 \
  bash -c "[ \"\$(curl -s --data-urlencode 'query=max_over_time(cmdb_releases_active[1m])' $PROM/api/v1/query | jq -r '.data.result[0].value[1] // 0')\" -ge 1 ]"
wait_until 30 done_rel "$R8"
succ=$(jget "/api/v1/releases/$R8" | jq -r .success_nodes)
check_eq "curl: release 8 succeeded on both nodes" 2 "$succ"
check "prometheus: queried back, the success count rose by release 8's nodes" wait_until 20 \
  bash -c "[ \"\$(curl -s --data-urlencode 'query=increase(cmdb_node_outcomes_total{class=\"success\"}[5m])' $PROM/api/v1/query | jq -r '.data.result[0].value[1] // 0 | tonumber | floor')\" -ge 2 ]"
check_eq "prometheus: the alert rules are loaded and healthy" "6 ok" \
  "$(curl -s "$PROM/api/v1/rules" | jq -r '[.data.groups[].rules[]] | "\(length) \(map(.health) | unique | join(","))"')"

echo "== JSON logs"
check "log: every line of the controller's log is a JSON object with time, level, module, msg" \
  bash -c "jq -e -s 'all(.[]; has(\"time\") and has(\"level\") and has(\"module\") and has(\"msg\"))' '$WORK/cmdb2.log'"
check "log: a release's lines carry its release_id" \
  bash -c "jq -e -s '[.[] | select(.msg | test(\"release $R8 finished\"))] | .[0].release_id == $R8' '$WORK/cmdb2.log'"
check "log: a node's line carries its node_id too" \
  bash -c "jq -e -s '[.[] | select(.release_id == $R7 and .node_id == 5)] | length >= 1' '$WORK/cmdb2.log'"

echo "== health"
check_eq "curl: /health/live 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API/health/live")"
check_eq "curl: /health/ready 200: database up, schema current, executor running" "200 ok up running" \
  "$(curl -s -w ' %{http_code}' "$API/health/ready" | sed 's/.* \([0-9]*\)$/\1/') $(curl -s "$API/health/ready" | jq -r '"\(.status) \(.database) \(.executor)"')"
check_eq "curl: the old names answer too" "200 200" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$API/healthz") $(curl -s -o /dev/null -w '%{http_code}' "$API/readyz")"
latest=$(sql "SELECT MAX(version) FROM schema_migrations")
sql "UPDATE schema_migrations SET version = -version WHERE version = $latest"
check_eq "curl: a schema behind the build: 503 naming cmdb migrate" "503 behind" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$API/health/ready") $(curl -s "$API/health/ready" | jq -r .database)"
sql "UPDATE schema_migrations SET version = -version WHERE version = -$latest"
check_eq "curl: ready again once it is current" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API/health/ready")"

echo "== SIGHUP: tokens"
as "$CAROL" POST /api/v1/nodes '{"hostname":"carol-1","ip":"10.9.0.1"}'
check_eq "curl: carol is not known yet (401)" 401 "$HTTP_STATUS"
{ tokens_line alice "$ALICE"; tokens_line carol "$CAROL"; } >"$WORK/tokens"
kill -HUP "$CMDB_PID"
check "log: tokens reloaded" wait_until 10 grep -q 'tokens reloaded' "$WORK/cmdb2.log"
as "$CAROL" POST /api/v1/nodes '{"hostname":"carol-1","ip":"10.9.0.1"}'
check_eq "curl: carol may write after the reload" 201 "$HTTP_STATUS"
as "$BOB" POST /api/v1/nodes '{"hostname":"bob-1","ip":"10.9.0.2"}'
check_eq "curl: bob, removed from the file, is refused" 401 "$HTTP_STATUS"
chmod 644 "$WORK/tokens"
kill -HUP "$CMDB_PID"
check "log: a token file others may read is refused on reload" wait_until 10 grep -q 'reload refused, the old tokens stay in force' "$WORK/cmdb2.log"
as "$CAROL" POST /api/v1/nodes '{"hostname":"carol-2","ip":"10.9.0.3"}'
check_eq "curl: the old tokens stay in force" 201 "$HTTP_STATUS"
chmod 600 "$WORK/tokens"

echo "== SIGHUP: API and agent certificates, with a release in flight"
mint() { # mint DIR NAME EXT: a P-256 key and a certificate from the dev CA
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
    -keyout "$1/$2.key" -out "$1/$2.csr" 2>/dev/null &&
    openssl x509 -req -in "$1/$2.csr" -CA "$CERT_DIR/ca.pem" -CAkey "$CERT_DIR/ca.key" \
      -set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile <(printf '%s\n' "$3") \
      -out "$1/$2.crt" 2>/dev/null
}
TLS=$WORK/tls
mkdir -p "$TLS"
mint "$TLS" api-a 'subjectAltName=IP:127.0.0.1' && mint "$TLS" api-b 'subjectAltName=IP:127.0.0.1' &&
  mint "$TLS" ctl-b 'extendedKeyUsage=clientAuth' || { echo "minting certificates failed" >&2; exit 1; }
cp "$TLS/api-a.crt" "$TLS/api.crt"
cp "$TLS/api-a.key" "$TLS/api.key"
cp "$CERT_DIR/client.crt" "$TLS/ctl.crt"
cp "$CERT_DIR/client.key" "$TLS/ctl.key"
chmod 600 "$TLS"/*
PLAIN_API=$API
port=$(free_port)
start_bg "$WORK/cmdb-tls.log" env CMDB_LISTEN="127.0.0.1:$port" CMDB_TLS_CERT="$TLS/api.crt" \
  CMDB_TLS_KEY="$TLS/api.key" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
  AGENT_CERT_FILE="$TLS/ctl.crt" AGENT_KEY_FILE="$TLS/ctl.key" "$ROOT/bin/cmdb" serve
TLS_PID=$BG_PID
TAPI=https://127.0.0.1:$port
check "cmdb: the HTTPS controller is up" wait_until 20 curl -sf --cacert "$CERT_DIR/ca.pem" "$TAPI/health/live"
serial() { openssl s_client -connect "127.0.0.1:$port" -CAfile "$CERT_DIR/ca.pem" </dev/null 2>/dev/null | openssl x509 -noout -serial; }
first=$(serial)
check_eq "openssl: it serves certificate a" "$(openssl x509 -in "$TLS/api-a.crt" -noout -serial)" "$first"
kill -STOP "$CMDB_PID" # the plain controller stays out of the way: this one runs the release
curl -s --cacert "$CERT_DIR/ca.pem" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"version":9,"batch_size":1,"node_ids":[7,2]}' "$TAPI/api/v1/releases" >"$WORK/r9.json"
R9=$(jq -r .id "$WORK/r9.json")
wait_until 20 grep -q "^apply .*-r$R9-n7" "$APPLY_LOG"
cp "$TLS/api-b.crt" "$TLS/api.crt"
cp "$TLS/api-b.key" "$TLS/api.key"
cp "$TLS/ctl-b.crt" "$TLS/ctl.crt"
cp "$TLS/ctl-b.key" "$TLS/ctl.key"
kill -HUP "$TLS_PID"
check "log: API certificate reloaded" wait_until 15 grep -q 'API certificate reloaded' "$WORK/cmdb-tls.log"
check "log: agent certificates reloaded" wait_until 15 grep -q 'agent certificates reloaded' "$WORK/cmdb-tls.log"
check "openssl: it serves certificate b now" wait_until 15 bash -c "[ \"\$(openssl s_client -connect 127.0.0.1:$port -CAfile $CERT_DIR/ca.pem </dev/null 2>/dev/null | openssl x509 -noout -serial)\" = \"$(openssl x509 -in "$TLS/api-b.crt" -noout -serial)\" ]"
API=$TAPI
tdone() { curl -s --cacert "$CERT_DIR/ca.pem" "$TAPI/api/v1/releases/$R9" | jq -e '.finished_at != null' >/dev/null; }
check "curl: the release in flight during the reload finishes" wait_until 60 tdone
check_eq "curl: successfully, both nodes (node 2 after the reload, with the new client certificate)" "success 2" \
  "$(curl -s --cacert "$CERT_DIR/ca.pem" "$TAPI/api/v1/releases/$R9" | jq -r '"\(.status) \(.success_nodes)"')"
echo "not a certificate" >"$TLS/api.crt"
echo "not a key" >"$TLS/ctl.key"
kill -HUP "$TLS_PID"
check "log: a bad API certificate is refused" wait_until 15 grep -q 'reload refused, the old API certificate stays in force' "$WORK/cmdb-tls.log"
check "log: a bad agent key is refused" wait_until 15 grep -q 'reload refused, the old agent certificates stay in force' "$WORK/cmdb-tls.log"
check_eq "openssl: certificate b is still served" "$(openssl x509 -in "$TLS/api-b.crt" -noout -serial)" "$(serial)"
out=$(curl -s --cacert "$CERT_DIR/ca.pem" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"version":10,"batch_size":1,"node_ids":[3]}' "$TAPI/api/v1/releases")
R10=$(jq -r .id <<<"$out")
t10() { curl -s --cacert "$CERT_DIR/ca.pem" "$TAPI/api/v1/releases/$R10" | jq -e '.status == "success"' >/dev/null; }
check "curl: releases still run with the old agent certificates" wait_until 30 t10
kill -CONT "$CMDB_PID"
API=$PLAIN_API

echo "== every release ended consistent"
check_eq "sql: no release left unfinished" 0 "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")"
check_eq "sql: every finished release has exactly one finished event" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE (SELECT COUNT(*) FROM release_events e WHERE e.release_id=t.id AND e.type='finished') <> 1")"
check_eq "agents: no (release, node) applied twice" 0 \
  "$(grep '^apply ' "$APPLY_LOG" | sed 's/.* key=//' | sort | uniq -d | wc -l)"

end_checks
