#!/usr/bin/env bash
# Integration test of labels, selectors, zone-by-zone releases and inventory imports
# (issue 22), against the real bin/cmdb serving HTTPS, a private MariaDB and mutual-TLS
# agents: labels on POST and PATCH (merge patch) with every refusal, an Ansible INI
# inventory with nested groups through a real `ansible-inventory --list` and
# `cmdb import`, GET /api/v1/nodes by selector, status and config version, paging across
# 10,500 nodes, POST /api/v1/nodes/import in both modes with a bad item in the middle
# (nothing written), Idempotency-Key and limits, and releases by selector with group_by:
# the dry run, a failure in the second zone (the third never dispatched: the agents' apply
# log says so), the rollback of a grouped release, pause_between_groups resumed, cancel
# and tolerance, and a label change that moves no node out of a release.
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/labels"
PORT=${LABELS_AGENT_PORT:-10543}

echo "== set-up: MariaDB, certificates, agents, tokens, a controller on HTTPS"
fresh_db cmdb_labels
stack_certs "$WORK/certs" 16
# Every curl of this script (lib.sh's helpers too) trusts the dev CA of the API's HTTPS.
export CURL_CA_BUNDLE=$CERT_DIR/ca.pem
# Agents 127.0.9.1-9: zone a (1-3), b (4-6), c (7-9); web-b2 (5) fails version 7 only.
# 127.0.9.10: a spare of another environment.
: >"$WORK/nodes.txt"
for i in $(seq 1 10); do
  opts=delay=0.3
  [ "$i" = 5 ] && opts="delay=0.3 failversion=7"
  printf '127.0.9.%d:%d %s\n' "$i" "$PORT" "$opts" >>"$WORK/nodes.txt"
done
APPLY_LOG=$WORK/applies.log
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$APPLY_LOG" || exit 1

token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ALICE=$(token) BOB=$(token) VIEWER=$(token)
{
  echo "alice:$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1)"
  echo "bob:$(printf '%s' "$BOB" | sha256sum | cut -d' ' -f1)"
  echo "viewer:$(printf '%s' "$VIEWER" | sha256sum | cut -d' ' -f1):reader"
} >"$WORK/tokens"
chmod 600 "$WORK/tokens"
APIPORT=$(free_port)
API=https://127.0.0.1:$APIPORT
start_bg "$WORK/cmdb.log" env CMDB_LISTEN="127.0.0.1:$APIPORT" CMDB_TLS_CERT="$CERT_DIR/agent.pem" \
  CMDB_TLS_KEY="$CERT_DIR/agent.pem" CMDB_API_TOKENS_FILE="$WORK/tokens" \
  RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 RELEASE_LEASE_SECONDS=5 \
  "$ROOT/bin/cmdb" serve
CMDB_PID=$BG_PID
wait_until 20 curl -sf "$API/healthz" || { cat "$WORK/cmdb.log" >&2; exit 1; }

rid() { jq -r .id <<<"$BODY"; }
field() { jget "/api/v1/releases/$1" | jq -r "$2"; }
node_field() { jget "/api/v1/nodes/$1" | jq -c "$2"; }
count_sql() { sql "SELECT COUNT(*) FROM $1"; }
enc() { jq -rn --arg s "$1" '$s | @uri'; }
# applied R: the node ids release R's dispatches reached, sorted ("1 2 3").
applied() {
  grep "^apply .* key=cmdb-[0-9a-f]*-r$1-" "$APPLY_LOG" | sed 's/.*-n\([0-9]*\)$/\1/' |
    sort -n | uniq | paste -sd' '
}
done_rel() { release_done "$1"; }
status_is() { [ "$(field "$1" .status)" = "$2" ]; }
# err_has STATUS PATTERN: the last answer had STATUS and an error matching PATTERN.
err_has() { [ "$HTTP_STATUS" = "$1" ] && jq -r .error <<<"$BODY" | grep -q -- "$2"; }
# sorted ID...: the ids in ascending order, space-separated.
sorted() { printf '%s\n' "$@" | sort -n | paste -sd' '; }
# as_file TOKEN METHOD PATH FILE: like as, with the body from FILE (bodies over the
# kernel's 128 KiB limit of one argument).
as_file() {
  local out
  out=$(curl -s -w '\n%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' --data-binary @"$4" "$API$3")
  HTTP_STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
cli() { CMDB_URL=$API CMDB_TOKEN=${CLI_TOKEN-$ALICE} CMDB_CACERT=$CERT_DIR/ca.pem "$ROOT/bin/cmdb" import "$@"; }

echo "== labels on nodes: POST"
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-1","ip":"10.9.0.1","labels":{"env":"prod","example.com/team":"pay","empty":""}}'
check_eq "POST with labels: 201, the labels sorted by key" \
  '201 {"empty":"","env":"prod","example.com/team":"pay"}' "$HTTP_STATUS $(jq -c .labels <<<"$BODY")"
LAB1=$(rid)
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-2","ip":"10.9.0.2"}'
check_eq "POST without labels: every node JSON carries labels ({})" '201 {}' "$HTTP_STATUS $(jq -c .labels <<<"$BODY")"
LAB2=$(rid)
NODES_BEFORE=$(count_sql nodes)
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-3","ip":"10.9.0.3","labels":{"zone-":"a"}}'
check_eq "a bad key is 422" 422 "$HTTP_STATUS"
check "...naming the key and the rule" err_has 422 'label key "zone-": the name must start and end with a letter or digit'
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-3","ip":"10.9.0.3","labels":{"Example.com/x":"a"}}'
check "an uppercase prefix: 422 saying it must be a DNS subdomain" \
  err_has 422 'must be a DNS subdomain'
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-3","ip":"10.9.0.3","labels":{"env":"pr od"}}'
check_eq "a bad value is 422 naming key and value" \
  '422 label "env": value "pr od" must be empty, or must start and end with a letter or digit, with only letters, digits, '"'"'-'"'"', '"'"'_'"'"' and '"'"'.'"'"' between' \
  "$HTTP_STATUS $(jq -r .error <<<"$BODY")"
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-3","ip":"10.9.0.3","labels":{"rack":12}}'
check "a value that is no string: 422 naming the key" \
  err_has 422 'rack'
as "$ALICE" POST /api/v1/nodes '{"hostname":"lab-3","ip":"10.9.0.3","labels":"env=prod"}'
check_eq "labels that are no object: 400" 400 "$HTTP_STATUS"
many=$(seq 1 65 | sed 's/.*/"k&":"v"/' | paste -sd,)
as "$ALICE" POST /api/v1/nodes "{\"hostname\":\"lab-3\",\"ip\":\"10.9.0.3\",\"labels\":{$many}}"
check_eq "65 labels: 422, at most 64" "422 a node has at most 64 labels" "$HTTP_STATUS $(jq -r .error <<<"$BODY")"
check_eq "sql: no refused POST created a node" "$NODES_BEFORE" "$(count_sql nodes)"
check_eq "sql: no refused POST wrote a label" 3 "$(count_sql node_labels)"
check "GET /api/v1/nodes: every node has labels" jq -e '[.nodes[] | has("labels")] | all' <(jget /api/v1/nodes)

echo "== labels on nodes: PATCH is a JSON merge patch (RFC 7386)"
WAS=$(node_field "$LAB1" .updated_at)
as "$BOB" PATCH "/api/v1/nodes/$LAB1" '{"labels":{"env":"staging","new":"1","empty":null,"absent":null}}'
check_eq "a string sets, null removes (also a key not there), unnamed keys are kept" \
  '200 {"env":"staging","example.com/team":"pay","new":"1"}' "$HTTP_STATUS $(jq -c .labels <<<"$BODY")"
check_eq "who changed them is on record" '"token:bob"' "$(jq -c .updated_by <<<"$BODY")"
check "and when (updated_at moved)" test "$(jq -c .updated_at <<<"$BODY")" != "$WAS"
as "$BOB" PATCH "/api/v1/nodes/$LAB1" '{"labels":{"env":"prod","bad key":"x"}}'
check_eq "a patch with one bad key: 422" 422 "$HTTP_STATUS"
check_eq "...and nothing of it applies" '{"env":"staging","example.com/team":"pay","new":"1"}' "$(node_field "$LAB1" .labels)"
as "$BOB" PATCH "/api/v1/nodes/$LAB1" '{"labels":{"env":7}}'
check "a number in a patch: 422 naming the key" err_has 422 env
as "$BOB" PATCH "/api/v1/nodes/$LAB1" '{"labels":["env"]}'
check_eq "a patch that is no object: 400" 400 "$HTTP_STATUS"
as "$VIEWER" PATCH "/api/v1/nodes/$LAB1" '{"labels":{"env":"x"}}'
check_eq "a reader may not patch (403)" 403 "$HTTP_STATUS"
api PATCH "/api/v1/nodes/$LAB1" '{"labels":{"env":"x"}}'
check_eq "no token: 401" 401 "$HTTP_STATUS"
check_eq "...neither changed anything" '"staging"' "$(node_field "$LAB1" .labels.env)"
full=$(seq 1 64 | sed 's/.*/"k&":"v"/' | paste -sd,)
as "$ALICE" POST /api/v1/nodes "{\"hostname\":\"lab-64\",\"ip\":\"10.9.0.64\",\"labels\":{$full}}"
L64=$(rid)
check_eq "a node with 64 labels" "201 64" "$HTTP_STATUS $(jq '.labels | length' <<<"$BODY")"
as "$ALICE" PATCH "/api/v1/nodes/$L64" '{"labels":{"k65":"v"}}'
check_eq "a 65th label by patch: 422" "422 a node has at most 64 labels" "$HTTP_STATUS $(jq -r .error <<<"$BODY")"
as "$ALICE" PATCH "/api/v1/nodes/$L64" '{"labels":{"k1":null,"k65":"v"}}'
check_eq "one removed and one added in the same patch: 200, still 64" "200 64 true" \
  "$HTTP_STATUS $(jq '.labels | length, has("k65") and (has("k1") | not)' <<<"$BODY" | paste -sd' ')"
as "$ALICE" PATCH "/api/v1/nodes/999999" '{"labels":{"a":"b"}}'
check_eq "a patch of an unknown node: 404" 404 "$HTTP_STATUS"

echo "== cmdb import of a real ansible-inventory --list (an INI inventory with nested groups)"
cat >"$WORK/inventory.ini" <<EOF
[web_a]
web-a1 ansible_host=127.0.9.1
web-a2 ansible_host=127.0.9.2
web-a3 ansible_host=127.0.9.3

[web_b]
web-b1 ansible_host=127.0.9.4
web-b2 ansible_host=127.0.9.5
web-b3 ansible_host=127.0.9.6

[web_c]
web-c1 ansible_host=127.0.9.7
web-c2 ansible_host=127.0.9.8
web-c3 ansible_host=127.0.9.9

[web_a:vars]
zone=a

[web_b:vars]
zone=b

[web_c:vars]
zone=c

[webservers:children]
web_a
web_b
web_c

[prod:children]
webservers

[prod:vars]
env=prod

[spare]
spare-1 ansible_host=127.0.9.10 zone=a env=staging
EOF
ansible-inventory -i "$WORK/inventory.ini" --list >"$WORK/inventory.json" 2>"$WORK/ansible.err"
check "ansible-inventory --list reads the INI inventory" test -s "$WORK/inventory.json"
cli --port "$PORT" --label-vars zone,env "$WORK/inventory.json" >"$WORK/import1.out" 2>&1
check_eq "cmdb import: exit 0" 0 $?
check "...it says what it read and what changed" bash -c \
  "grep -q 'ansible-inventory --list' '$WORK/import1.out' && grep -q '^created web-b2 127.0.9.5:$PORT (node [0-9]*)' '$WORK/import1.out' && grep -q '^imported 10 of 10 nodes in 1 of 1 request (create): 10 created, 0 updated, 0 unchanged' '$WORK/import1.out'"
id_of() { sql "SELECT id FROM nodes WHERE hostname = '$1'"; }
A1=$(id_of web-a1) A2=$(id_of web-a2) A3=$(id_of web-a3) B1=$(id_of web-b1) B2=$(id_of web-b2)
B3=$(id_of web-b3) C1=$(id_of web-c1) C2=$(id_of web-c2) C3=$(id_of web-c3) SP=$(id_of spare-1)
check_eq "a host of a nested group: group/<name> of every group on the way up, and the label vars" \
  '{"env":"prod","group/prod":"","group/web_b":"","group/webservers":"","zone":"b"}' "$(node_field "$B2" .labels)"
check_eq "ansible_host is the ip, --port the agent port, online" "\"127.0.9.5\" $PORT \"online\"" \
  "$(node_field "$B2" '.ip, .agent_port, .status' | paste -sd' ')"
check_eq "a host of a plain group, host vars as labels" '{"env":"staging","group/spare":"","zone":"a"}' \
  "$(node_field "$SP" .labels)"
cli --port "$PORT" --label-vars zone,env --mode upsert "$WORK/inventory.json" >"$WORK/import2.out" 2>&1
check_eq "the same inventory again (upsert): exit 0, all unchanged" \
  "0 imported 10 of 10 nodes in 1 of 1 request (upsert): 0 created, 0 updated, 10 unchanged" \
  "$? $(tail -n 1 "$WORK/import2.out")"
cli --port "$PORT" --label-vars zone,env "$WORK/inventory.json" >"$WORK/import3.out" 2>&1
check_eq "again in create mode: exit 1, refused" 1 $?
check "...naming each known host" grep -q "^item [0-9] (web-b2 127.0.9.5:$PORT): ip 127.0.9.5 and agent_port $PORT are those of node $B2 (web-b2) already" "$WORK/import3.out"
sed 's/^web-c3 ansible_host=127.0.9.9$/web-c3 ansible_host=127.0.9.9 rack=r7/' "$WORK/inventory.ini" >"$WORK/inventory2.ini"
ansible-inventory -i "$WORK/inventory2.ini" --list >"$WORK/inventory2.json" 2>/dev/null
cli --port "$PORT" --label-vars zone,env,rack --mode upsert "$WORK/inventory2.json" >"$WORK/import4.out" 2>&1
check_eq "a host variable added: that host updated, labels replaced whole" \
  "updated web-c3 127.0.9.9:$PORT (node $C3)|imported 10 of 10 nodes in 1 of 1 request (upsert): 0 created, 1 updated, 9 unchanged|\"r7\"" \
  "$(grep -v '^/' "$WORK/import4.out" | grep -v 'ansible-inventory' | paste -sd'|')|$(node_field "$C3" .labels.rack)"
cli --port "$PORT" --label-vars zone,env --mode upsert "$WORK/inventory.json" >/dev/null 2>&1
check_eq "...and removed again" null "$(node_field "$C3" .labels.rack)"
printf '[bad]\nbad-1 ansible_host=10.9.9.1\nbad-2 ansible_host=not-an-address\n' >"$WORK/bad.ini"
ansible-inventory -i "$WORK/bad.ini" --list >"$WORK/bad.json" 2>/dev/null
N=$(count_sql nodes)
cli --port "$PORT" "$WORK/bad.json" >"$WORK/import-bad.out" 2>&1
check_eq "a bad host: exit 1" 1 $?
check "...nothing was sent, the host is named" bash -c \
  "grep -q 'nothing was sent' '$WORK/import-bad.out' && grep -q 'bad-2' '$WORK/import-bad.out'"
check_eq "...and nothing written" "$N" "$(count_sql nodes)"
CLI_TOKEN='' cli --port "$PORT" --mode upsert "$WORK/inventory.json" >"$WORK/import-401.out" 2>&1
check_eq "without a token: exit 1, HTTP 401" "1 1" "$? $(grep -c 'HTTP 401' "$WORK/import-401.out")"
CLI_TOKEN=$VIEWER cli --port "$PORT" --mode upsert "$WORK/inventory.json" >"$WORK/import-403.out" 2>&1
check_eq "with a reader's token: exit 1, HTTP 403" "1 1" "$? $(grep -c 'HTTP 403' "$WORK/import-403.out")"
cli >/dev/null 2>&1
check_eq "no file: a usage error (2)" 2 $?
cli --port 0 "$WORK/inventory.json" >/dev/null 2>&1
check_eq "a bad --port: a usage error (2)" 2 $?
cli "$WORK/none.json" >/dev/null 2>&1
check_eq "a file that does not exist: 2" 2 $?

echo "== GET /api/v1/nodes: selector, status, config version; all must hold"
ids() { jget "/api/v1/nodes?$1" | jq -r '[.nodes[].id] | join(" ")'; }
sids() { sorted $(ids "$1"); }
WEB=$(sorted "$A1" "$A2" "$A3" "$B1" "$B2" "$B3" "$C1" "$C2" "$C3")
check_eq "selector=group/webservers: the nine" "$WEB" "$(sids "selector=group/webservers")"
check "the answer is in id order" bash -c "[ '$(ids "selector=group/webservers")' = '$(sids "selector=group/webservers")' ]"
check_eq "k=v,k in (...)" "$(sorted "$A1" "$A2" "$A3" "$C1" "$C2" "$C3")" "$(sids "selector=$(enc 'env=prod,zone in (a,c)')")"
check_eq "k==v, spaces around tokens" "$(sorted "$B1" "$B2" "$B3")" "$(sids "selector=$(enc ' zone == b , env in ( prod ) ')")"
check_eq "!k: the nodes without the key" "$(sorted "$LAB1" "$LAB2" "$L64")" "$(sids "selector=$(enc '!zone')")"
check_eq "k!=v also matches nodes without the key" \
  "$(sorted "$LAB1" "$LAB2" "$L64" "$B1" "$B2" "$B3" "$C1" "$C2" "$C3")" "$(sids "selector=$(enc 'zone!=a')")"
check_eq "notin too" "$(sorted "$LAB1" "$LAB2" "$L64" "$A1" "$A2" "$A3" "$SP")" \
  "$(sids "selector=$(enc 'zone notin (b,c)')")"
check_eq "k (has the key), with !k of another" "$(sorted "$A1" "$A2" "$A3" "$C1" "$C2" "$C3")" \
  "$(sids "selector=$(enc 'group/webservers,!group/web_b')")"
as "$ALICE" PATCH "/api/v1/nodes/$C3" '{"status":"offline"}'
check_eq "selector and status=online" "$(sorted "$C1" "$C2")" "$(sids "selector=group/web_c&status=online")"
check_eq "status=offline" "$C3" "$(ids "selector=group/web_c&status=offline")"
as "$ALICE" PATCH "/api/v1/nodes/$C3" '{"status":"online"}'
api GET "/api/v1/nodes?selector=$(enc 'zone in (a')"
check "a malformed selector: 400 with the position and what was expected" \
  err_has 400 'position 11: expected'
api GET "/api/v1/nodes?selector=$(enc 'Zone-=a')"
check "a bad key in a selector: 400 naming the rule" \
  err_has 400 'label key'
for q in status=gone limit=0 limit=10001 limit=x after=3 'limit=5&after=-1' config_version=0 total=1 'limit=5&total=yes'; do
  api GET "/api/v1/nodes?$q"
  check_eq "?$q is 400" 400 "$HTTP_STATUS"
done
check "without limit the answer is as today: no next_after, no total" \
  jq -e 'has("next_after") == false and has("total") == false and .count == (.nodes | length)' <(jget /api/v1/nodes)
check "with limit: next_after, and total only when asked (it counts every page)" bash -c \
  "jq -e 'has(\"next_after\") and (has(\"total\") | not)' <<<'$(jget '/api/v1/nodes?limit=2')' >/dev/null &&
   jq -e '.total == $(jget /api/v1/nodes | jq .count)' <<<'$(jget '/api/v1/nodes?limit=2&total=1')' >/dev/null"

echo "== POST /api/v1/nodes/import"
NODES=$(count_sql nodes) IMPORTS=$(count_sql node_imports) LABELS=$(count_sql node_labels)
unchanged_db() { [ "$(count_sql nodes)" = "$NODES" ] && [ "$(count_sql node_imports)" = "$IMPORTS" ] && [ "$(count_sql node_labels)" = "$LABELS" ]; }
as "$ALICE" POST /api/v1/nodes/import '{"mode":"create","nodes":[{"hostname":"i-1","ip":"10.20.0.1"},{"hostname":"i-2","ip":"10.20.0.999"},{"hostname":"i-3","ip":"10.20.0.3"}]}'
check_eq "create, a bad item in the middle: 422 listing it by index" '422 1 [1]' \
  "$HTTP_STATUS $(jq -c '.bad, [.items[].index]' <<<"$BODY" | paste -sd' ')"
check "...nothing written" unchanged_db
as "$ALICE" POST /api/v1/nodes/import "{\"mode\":\"upsert\",\"nodes\":[{\"hostname\":\"lab-1-new\",\"ip\":\"10.9.0.1\",\"labels\":{}},{\"hostname\":\"i-2\",\"ip\":\"10.20.0.2\",\"labels\":{\"-x\":\"y\"}},{\"hostname\":\"i-3\",\"ip\":\"10.20.0.3\"}]}"
check_eq "upsert, a bad item in the middle: 422 listing it" '422 [1]' "$HTTP_STATUS $(jq -c '[.items[].index]' <<<"$BODY")"
check "...nothing written: the known node kept its name and labels, no new node" bash -c \
  "[ '$(node_field "$LAB1" .hostname)' = '\"lab-1\"' ] && [ '$(node_field "$LAB1" '.labels | length')' = 3 ]"
check "...and nothing else" unchanged_db
as "$ALICE" POST /api/v1/nodes/import '{"nodes":[{"hostname":"i-1","ip":"10.20.0.1"},{"hostname":"i-3","ip":"10.20.0.3"},{"hostname":"i-4","ip":"10.20.0.1"}]}'
check_eq "an address given twice: the later item refused, naming the first" '422 [2] ip 10.20.0.1 and agent_port 8443 are those of item 0 already' \
  "$HTTP_STATUS $(jq -c '[.items[].index]' <<<"$BODY") $(jq -r '.items[0].error' <<<"$BODY")"
as "$ALICE" POST /api/v1/nodes/import '{"nodes":[{"hostname":"i-1","ip":"10.20.0.1"},{"hostname":"x","ip":"10.9.0.2"},{"hostname":"i-3","ip":"10.20.0.3"}]}'
check_eq "create: a registered address in the middle is an item refused" '422 [1]' "$HTTP_STATUS $(jq -c '[.items[].index]' <<<"$BODY")"
check "...naming its node" grep -q "node $LAB2 (lab-2)" <<<"$(jq -r '.items[0].error' <<<"$BODY")"
check "...nothing written" unchanged_db
for body in '{"nodes":"x"}' '{"nodes":[],"mode":"create"}' '{"nodes":[{"hostname":"a","ip":"10.1.1.1"}],"mode":"merge"}' '{"nodes":[{"hostname":"a","ip":"10.1.1.1"}],"extra":1}'; do
  as "$ALICE" POST /api/v1/nodes/import "$body"
  check "refused: $body ($HTTP_STATUS)" test "$HTTP_STATUS" = 400 -o "$HTTP_STATUS" = 422
done
jq -cn '{nodes: [range(10001) | {hostname: "t-\(.)", ip: "10.30.\(. / 250 | floor).\(. % 250)", labels: {pool: "big", shard: "\(. % 7)", role: "a-role-long-enough-to-pad"}}]}' >"$WORK/big.json"
check "a request of 10,001 nodes is over 1 MiB" test "$(stat -c %s "$WORK/big.json")" -gt 1048576
as_file "$ALICE" POST /api/v1/nodes/import "$WORK/big.json"
check_eq "...read whole (the route's own limit), and 422: at most 10,000" "422 nodes must hold 1 to 10000 nodes" \
  "$HTTP_STATUS $(jq -r .error <<<"$BODY")"
as "$VIEWER" POST /api/v1/nodes/import '{"nodes":[{"hostname":"a","ip":"10.1.1.1"}]}'
check_eq "writers only: a reader gets 403" 403 "$HTTP_STATUS"
api POST /api/v1/nodes/import '{"nodes":[{"hostname":"a","ip":"10.1.1.1"}]}'
check_eq "no token: 401" 401 "$HTTP_STATUS"
check "...nothing written by any of them" unchanged_db
UP='{"mode":"upsert","nodes":[{"hostname":"lab-1-renamed","ip":"10.9.0.1","labels":{"tier":"1"}},{"hostname":"i-5","ip":"10.20.0.5","status":"offline","labels":{"pool":"new"}},{"hostname":"lab-2","ip":"10.9.0.2"}]}'
idem() { curl -s -w '\n%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: $1" --data-binary "$2" "$API/api/v1/nodes/import"; }
OUT=$(idem imp-key-1 "$UP")
check_eq "upsert: 201, counts, ids and changes in request order" \
  "201 1 1 1 $LAB1 $LAB2 updated,created,unchanged" \
  "$(tail -n 1 <<<"$OUT") $(head -n 1 <<<"$OUT" | jq -r '"\(.created) \(.updated) \(.unchanged) \(.ids[0]) \(.ids[2]) \(.changes | join(","))"')"
I5=$(head -n 1 <<<"$OUT" | jq -r '.ids[1]')
check_eq "the updated node: new hostname, labels replaced whole, status kept, by alice" \
  '"lab-1-renamed" {"tier":"1"} "online" "token:alice"' "$(node_field "$LAB1" '.hostname, .labels, .status, .updated_by' | paste -sd' ')"
check_eq "the created node: its status and labels" '"offline" {"pool":"new"}' "$(node_field "$I5" '.status, .labels' | paste -sd' ')"
IMPORTS=$(count_sql node_imports)
OUT2=$(idem imp-key-1 "$UP")
check_eq "the same Idempotency-Key and body: 200 with the same answer" "200 $(head -n 1 <<<"$OUT" | jq -c .)" \
  "$(tail -n 1 <<<"$OUT2") $(head -n 1 <<<"$OUT2" | jq -c .)"
check_eq "...and nothing imported again" "$IMPORTS" "$(count_sql node_imports)"
OUT3=$(idem imp-key-1 '{"mode":"upsert","nodes":[{"hostname":"other","ip":"10.20.0.6"}]}')
check_eq "the key with another body: 409" "409 idempotency_payload_mismatch" \
  "$(tail -n 1 <<<"$OUT3") $(head -n 1 <<<"$OUT3" | jq -r .code)"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$WORK/pad"
printf '{"hostname":"pad","ip":"10.9.0.77"%s}' "$(cat "$WORK/pad")" >"$WORK/big-node.json"
check_eq "other routes keep 1 MiB: POST /api/v1/nodes of 1.1 MB is 413" 413 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' --data-binary @"$WORK/big-node.json" "$API/api/v1/nodes")"
head -c 34000000 /dev/zero | tr '\0' ' ' >"$WORK/huge.json"
check_eq "an import over 32 MiB is 413" 413 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' --data-binary @"$WORK/huge.json" "$API/api/v1/nodes/import")"
rm -f "$WORK/huge.json" "$WORK/pad" "$WORK/big-node.json"

echo "== paging across 10,500 nodes (cmdb import of our JSON, sent in two requests)"
jq -cn '{mode: "create", nodes: [range(10500) | {hostname: "bulk-\(.)", ip: "10.100.\(. / 250 | floor).\(. % 250)", status: "offline", labels: {pool: "bulk", shard: "\(. % 7)"}}]}' >"$WORK/bulk.json"
check "the file is over 1 MiB (the import route's own limit)" test "$(stat -c %s "$WORK/bulk.json")" -gt 1048576
cli "$WORK/bulk.json" >"$WORK/bulk.out" 2>&1
check_eq "cmdb import: exit 0, 10,500 nodes in 2 requests" \
  "0 imported 10500 of 10500 nodes in 2 of 2 requests (create): 10500 created, 0 updated, 0 unchanged" \
  "$? $(tail -n 1 "$WORK/bulk.out")"
jget /api/v1/nodes | jq -r '.nodes[].id' >"$WORK/all-ids"
: >"$WORK/paged-ids"
after=0 pages=0 last_next=""
while :; do
  page=$(jget "/api/v1/nodes?limit=1000&after=$after&total=1")
  jq -r '.nodes[].id' <<<"$page" >>"$WORK/paged-ids"
  pages=$((pages + 1))
  next=$(jq -r .next_after <<<"$page")
  total=$(jq -r .total <<<"$page")
  [ "$next" = null ] && break
  [ "$pages" -lt 20 ] || break
  after=$next
done
check "paging: the pages hold every node once, in id order, as the answer without limit" \
  cmp -s "$WORK/all-ids" "$WORK/paged-ids"
check_eq "...in $(( ($(wc -l <"$WORK/all-ids") + 999) / 1000 )) pages, the last without next_after, total the count of all" \
  "$(( ($(wc -l <"$WORK/all-ids") + 999) / 1000 )) $(wc -l <"$WORK/all-ids")" "$pages $total"
: >"$WORK/shard-ids"
after=0
for _ in $(seq 1 10); do
  page=$(jget "/api/v1/nodes?selector=$(enc 'pool=bulk,shard=3')&limit=333&after=$after&total=1")
  jq -r '.nodes[] | select(.labels.shard == "3") | .id' <<<"$page" >>"$WORK/shard-ids"
  next=$(jq -r .next_after <<<"$page")
  [ "$next" = null ] && break
  after=$next
done
check_eq "paging a selector: 1500 nodes of shard 3, each matching, total says so" "1500 1500" \
  "$(sort -un "$WORK/shard-ids" | wc -l) $(jq -r .total <<<"$page")"

echo "== releases by selector: refusals and the dry run"
RELEASES=$(count_sql release_tasks)
rel() { as "$ALICE" POST "/api/v1/releases${2:-}" "$1"; }
rel '{"version":6,"batch_size":2,"selector":"group/webservers","node_ids":[1]}'
check_eq "selector and node_ids: 422" "422 give node_ids or selector, not both" "$HTTP_STATUS $(jq -r .error <<<"$BODY")"
rel '{"version":6,"batch_size":2,"selector":""}'
check "an empty selector: 422" err_has 422 'selector is empty'
rel '{"version":6,"batch_size":2,"selector":"zone in (a,b"}'
check "a malformed selector in the body: 422 with the position" \
  err_has 422 '^selector: position 13: expected'
rel '{"version":6,"batch_size":2,"selector":"zone=nowhere"}'
check_eq "no match: 422 saying so" '422 no node matches the selector "zone=nowhere"' "$HTTP_STATUS $(jq -r .error <<<"$BODY")"
rel '{"version":6,"batch_size":2,"selector":"pool=bulk"}'
check "only offline matches: 422 saying so" \
  err_has 422 'no online node matches the selector "pool=bulk": the 10500 nodes it matches are offline'
rel '{"version":6,"batch_size":2,"selector":"group/webservers","group_by":"-zone"}'
check "a bad group_by: 422 naming the rule" err_has 422 '^group_by: label key'
rel '{"version":6,"batch_size":2,"selector":"group/webservers","pause_between_groups":true}'
check_eq "pause_between_groups without group_by: 422" 422 "$HTTP_STATUS"
rel '{"version":6,"batch_size":2,"selector":7}'
check_eq "a selector that is no string: 400" 400 "$HTTP_STATUS"
check_eq "sql: no refusal created a release" "$RELEASES" "$(count_sql release_tasks)"

as "$ALICE" PATCH "/api/v1/nodes/$C3" '{"status":"offline"}'
rel '{"version":7,"batch_size":2,"selector":"env=prod,group/webservers","group_by":"zone"}' '?dry_run=1'
D=$BODY
check_eq "dry run: matches, left out, groups, their batches" \
  '200 9 8 [{"group":"a","first_batch":1,"batches":2,"nodes":3},{"group":"b","first_batch":3,"batches":2,"nodes":3},{"group":"c","first_batch":5,"batches":1,"nodes":2}]' \
  "$HTTP_STATUS $(jq -c '.matched, .total_nodes, .groups' <<<"$D" | paste -sd' ')"
check_eq "dry run: each batch says its group" "a:2 a:1 b:2 b:1 c:2" \
  "$(jq -r '[.batches[] | "\(.group):\(.nodes | length)"] | join(" ")' <<<"$D")"
check_eq "dry run: each group's nodes, in id order" \
  "$(sorted "$A1" "$A2" "$A3")|$(sorted "$B1" "$B2" "$B3")|$(sorted "$C1" "$C2")" \
  "$(jq -r '[.groups[].group as $g | [.batches[] | select(.group == $g) | .nodes[].node_id] | join(" ")] | join("|")' <<<"$D")"
check_eq "dry run: the offline match is left out" "[{\"node_id\":$C3,\"hostname\":\"web-c3\",\"node_ip\":\"127.0.9.9\",\"agent_port\":$PORT,\"reason\":\"offline\"}]" \
  "$(jq -c .left_out <<<"$D")"
check_eq "dry run: the selector and the group_by it was made from, sizes per group" \
  '"env=prod,group/webservers" "zone" false [2,1,2,1,2]' \
  "$(jq -c '.selector, .group_by, .pause_between_groups, .batch_sizes' <<<"$D" | paste -sd' ')"
rel '{"version":7,"batches":[1,"50%"],"selector":"group/webservers","group_by":"zone"}' '?dry_run=1'
check_eq "dry run: percentages are of each group's size" "[1,1,1,1,1,1,1,1]" "$(jq -c .batch_sizes <<<"$BODY")"
rel "{\"version\":7,\"batch_size\":1,\"node_ids\":[$C1,$A1,$LAB2,$B1,$C2],\"group_by\":\"zone\"}" '?dry_run=1'
check_eq "group_by with node_ids: groups in the order of their first node, the unlabelled last" \
  'c a b null' "$(jq -r '[.groups[].group | tostring] | join(" ")' <<<"$BODY")"
check_eq "sql: a dry run writes nothing" "$RELEASES" "$(count_sql release_tasks)"

echo "== a release to every web server (version 6), then zone by zone with a failure in zone b"
as "$ALICE" PATCH "/api/v1/nodes/$C3" '{"status":"online"}'
rel '{"version":6,"batch_size":5,"selector":"group/webservers"}'
R0=$(rid)
check_eq "a release by selector: 201, its selector shown, not grouped" '201 "group/webservers" null null' \
  "$HTTP_STATUS $(jq -c '.selector, .group_by, .groups' <<<"$BODY" | paste -sd' ')"
check "it ends" wait_until 60 done_rel "$R0"
check_eq "success on the nine" "success 9" "$(field "$R0" '"\(.status) \(.success_nodes)"')"
check_eq "?selector= with config_version: all nine run 6" "$WEB" "$(ids "selector=group/webservers&config_version=6")"
check_eq "?selector= with config_version_not: none" "" "$(ids "selector=group/webservers&config_version_not=6")"

rel '{"version":7,"batch_size":2,"selector":"group/webservers","group_by":"zone"}'
R1=$(rid)
check_eq "created: groups and batch sizes cut within each group" '201 [2,1,2,1,2,1] ["a","b","c"]' \
  "$HTTP_STATUS $(jq -c '.batch_sizes, [.groups[].group]' <<<"$BODY" | paste -sd' ')"
check "it ends" wait_until 60 done_rel "$R1"
check_eq "failed in zone b: zone a done, batch 3 failed, the rest skipped" \
  "failed a:success a:success b:failed b:skipped c:skipped c:skipped" \
  "$(jget "/api/v1/releases/$R1" | jq -r '[.status] + [.batches[] | "\(.group):\(.status)"] | join(" ")')"
check "the error names batch 3 and web-b2" grep -q "^batch 3, node $B2 (web-b2" <<<"$(field "$R1" .error_msg)"
check_eq "the summary view says each batch's group" "a a b b c c" \
  "$(jget "/api/v1/releases/$R1?view=summary" | jq -r '[.batches[].group] | join(" ")')"
B3RD=$(jget "/api/v1/releases/$R1" | jq -r '[.batches[2].nodes[].node_id] | join(" ")')
check_eq "agents: only zone a and batch 3 were dispatched; zone c never" \
  "$(sorted "$A1" "$A2" "$A3" $B3RD)" "$(applied "$R1")"
check_eq "sql: the third zone's nodes are skipped with the reason" "3" \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id=$R1 AND node_id IN ($C1,$C2,$C3) AND status='skipped' AND error_msg LIKE 'release failed: batch 3%'")"

echo "== the rollback of a grouped release"
as "$BOB" POST "/api/v1/releases/$R1/rollback"
RB=$(rid)
check_eq "201, grouped by the original's zones" '201 "zone" ["a","b"]' \
  "$HTTP_STATUS $(jq -c '.group_by, [.groups[].group]' <<<"$BODY" | paste -sd' ')"
check "the rollback ends" wait_until 60 done_rel "$RB"
check_eq "success, each batch in its zone" "success a a b" \
  "$(jget "/api/v1/releases/$RB" | jq -r '[.status] + [.batches[].group] | join(" ")')"
check_eq "agents: zone a and batch 3 of zone b got version 6 back" "$(sorted "$A1" "$A2" "$A3" $B3RD)" \
  "$(applied "$RB")"

echo "== pause_between_groups, resumed zone by zone"
rel '{"version":8,"batch_size":2,"selector":"group/webservers","group_by":"zone","pause_between_groups":true}'
R2=$(rid)
check_eq "created with pause_between_groups" "201 true" "$HTTP_STATUS $(jq -r .pause_between_groups <<<"$BODY")"
check "it pauses after zone a" wait_until 60 status_is "$R2" paused
check "...reason group_done, naming the zone done and the next" grep -q \
  '^paused after batch 2, the last of group zone=a; group zone=b is next (group_done)$' <<<"$(field "$R2" .paused_reason)"
check_eq "agents: zone a only" "$(sorted "$A1" "$A2" "$A3")" "$(applied "$R2")"
check "the timeline says paused with the reason" jq -e '[.events[] | select(.type == "paused" and (.detail | test("group_done")))] | length == 1' \
  <(jget "/api/v1/releases/$R2/events")
RESUMED=$(($(date +%s%3N) - 5))
as "$ALICE" POST "/api/v1/releases/$R2/resume"
check_eq "resume: 200" 200 "$HTTP_STATUS"
check "it pauses again after zone b" wait_until 60 bash -c \
  "[ \"\$(curl -s '$API/api/v1/releases/$R2' | jq -r .paused_reason)\" = 'paused after batch 4, the last of group zone=b; group zone=c is next (group_done)' ] && [ \"\$(curl -s '$API/api/v1/releases/$R2' | jq -r .status)\" = paused ]"
check_eq "agents: zones a and b" "$(sorted "$A1" "$A2" "$A3" "$B1" "$B2" "$B3")" "$(applied "$R2")"
ZONE_B=$(grep -E "key=cmdb-[0-9a-f]+-r$R2-n($B1|$B2|$B3)$" "$APPLY_LOG" | sed 's/.* at=\([0-9]*\) .*/\1/')
check_eq "zone b was dispatched after the resume, not before" "3 0" \
  "$(grep -c . <<<"$ZONE_B") $(awk -v r="$RESUMED" '$1 < r' <<<"$ZONE_B" | grep -c .)"
as "$ALICE" POST "/api/v1/releases/$R2/resume"
check "resumed again, it ends" wait_until 60 done_rel "$R2"
check_eq "success on all nine, no pause after the last zone" "success 9 2" \
  "$(field "$R2" '"\(.status) \(.success_nodes)"') $(jget "/api/v1/releases/$R2/events" | jq '[.events[] | select(.type == "paused")] | length')"
check_eq "the nine run version 8" "$WEB" "$(ids "selector=group/webservers&config_version=8")"

echo "== cancel and tolerance as for any release; a label change moves no node"
rel '{"version":9,"batch_size":3,"selector":"group/webservers","group_by":"zone","pause_between_groups":true}'
R3=$(rid)
check "paused after zone a" wait_until 60 status_is "$R3" paused
as "$ALICE" POST "/api/v1/releases/$R3/cancel"
check "cancel: it ends cancelled" wait_until 30 done_rel "$R3"
check_eq "zones b and c skipped, never dispatched" "cancelled 6 $(sorted "$A1" "$A2" "$A3")" \
  "$(field "$R3" .status) $(sql "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id=$R3 AND status='skipped' AND error_msg LIKE 'release cancelled by%'") $(applied "$R3")"
rel '{"version":7,"batch_size":3,"selector":"group/webservers","group_by":"zone","max_failures":1}'
R4=$(rid)
check "a release tolerating one failure ends" wait_until 60 done_rel "$R4"
check_eq "partial: every zone ran" "partial 8 1" "$(field "$R4" '"\(.status) \(.success_nodes) \(.failed_nodes)"')"
check_eq "agents: all nine dispatched" "$WEB" "$(applied "$R4")"
rel '{"version":10,"batch_size":2,"selector":"group/webservers","group_by":"zone","not_before":"2099-01-01T00:00:00Z"}'
R5=$(rid)
BEFORE=$(jget "/api/v1/releases/$R5" | jq -c '[.groups, [.batches[] | [.group, [.nodes[].node_id]]]]')
as "$ALICE" PATCH "/api/v1/nodes/$A1" '{"labels":{"zone":"c","group/webservers":null}}'
check_eq "a later label change moves no node into, out of, or between its groups" "$BEFORE" \
  "$(jget "/api/v1/releases/$R5" | jq -c '[.groups, [.batches[] | [.group, [.nodes[].node_id]]]]')"
check_eq "...the selector now matches eight" 8 "$(jget '/api/v1/nodes?selector=group/webservers' | jq .count)"
as "$ALICE" POST "/api/v1/releases/$R5/cancel"
as "$ALICE" PATCH "/api/v1/nodes/$A1" '{"labels":{"zone":"a","group/webservers":""}}'

echo "== a release without the new fields is as before"
rel "{\"version\":11,\"batch_size\":1,\"node_ids\":[$SP]}"
R6=$(rid)
check_eq "selector, group_by null, pause_between_groups false, groups null, left_out []" \
  '201 null null false null []' "$HTTP_STATUS $(jq -c '.selector, .group_by, .pause_between_groups, .groups, .left_out' <<<"$BODY" | paste -sd' ')"
check "it ends" wait_until 60 done_rel "$R6"
check "its batches carry no group" jq -e '[.batches[] | has("group")] | any | not' <(jget "/api/v1/releases/$R6")

echo "== the controller"
check "no controller error was logged" bash -c "! grep -q ' error ' '$WORK/cmdb.log'"
check "cmdb still running" kill -0 "$CMDB_PID"
end_checks
