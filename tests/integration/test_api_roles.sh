#!/usr/bin/env bash
# Integration test of roles (issue 23): every write route against every role, with the
# status, code and state each must leave; four eyes for a principal that is both operator
# and approver; GET /api/v1/whoami; a scope accepted and shown; today's token lines
# keeping their meaning; every malformed token line refusing start-up (exit 2, the line
# named); SIGHUP with a bad file keeping the old one; CMDB_READS_REQUIRE_AUTH on and off;
# a client certificate given roles by a cert: line. Real bin/cmdb, MariaDB and TLS.
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/api-roles"

fresh_db cmdb_roles
stack_certs "$WORK/certs" 4

token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
ROLES="reader operator approver inventory alerts admin writer"
declare -A TOK
for r in $ROLES maker pair staging newbie; do TOK[$r]=$(token); done
{
  echo "# one token per role; writer in today's form, without a role"
  for r in reader operator approver inventory alerts admin; do echo "$r:$(hash "${TOK[$r]}"):$r"; done
  echo "writer:$(hash "${TOK[writer]}")"
  echo "maker:$(hash "${TOK[maker]}"):operator"
  echo "pair:$(hash "${TOK[pair]}"):operator,approver"
  echo "staging:$(hash "${TOK[staging]}"):operator:env = staging, tier in (web,api)"
} >"$WORK/tokens"
chmod 600 "$WORK/tokens"

echo "== malformed token files refuse to start: exit 2, naming the line"
good="ok:$(hash ok)"
H=$(hash x)
bad_file() { # bad_file NAME LINE WANT: a good line, then LINE, then start-up
  printf '%s\n%s\n' "$good" "$2" >"$WORK/bad-$1"
  chmod 600 "$WORK/bad-$1"
  CMDB_API_TOKENS_FILE=$WORK/bad-$1 "$ROOT/bin/cmdb" serve >"$WORK/bad-$1.log" 2>&1
  check_eq "$1: exit 2" 2 $?
  check "  ...naming line 2: $3" grep -qF "CMDB_API_TOKENS_FILE line 2: $3" "$WORK/bad-$1.log"
}
bad_file no-hash "alice" "want name:sha256hex"
bad_file bad-name "al ice:$H" "the name must be"
bad_file bad-hash "alice:abc123" "the hash must be 64 hex digits"
bad_file unknown-role "alice:$H:root" 'unknown role "root"'
bad_file empty-roles "alice:$H:" "the roles are empty"
bad_file empty-role "alice:$H:operator,,approver" "an empty role"
bad_file twice-role "alice:$H:operator,operator" "the role operator is given twice"
bad_file bad-selector "alice:$H:operator:env in (prod" "the scope is not a label selector"
bad_file empty-scope "alice:$H:operator:" "the scope is empty"
bad_file cert-no-roles "cert:alice" "cert:alice needs its roles"
bad_file cert-bad-cn 'cert:al"ice:reader' "a certificate's CN must be"
bad_file twice-name "ok:$H" "name ok given twice"
bad_file twice-token "other:$(hash ok)" "token (the same hash) other given twice"
bad_file too-long "alice:$H:operator:$(printf 'k%.0s' $(seq 1 500))=v" "longer than 512"
check "no refusal echoes a hash" bash -c "! grep -q '$H' '$WORK'/bad-*.log"
CMDB_READS_REQUIRE_AUTH=1 "$ROOT/bin/cmdb" serve >"$WORK/reads-noauth.log" 2>&1
check_eq "CMDB_READS_REQUIRE_AUTH=1 without tokens or client CA: exit 2" 2 $?
check "  ...saying why" grep -q 'CMDB_READS_REQUIRE_AUTH: reads can need a principal only' \
  "$WORK/reads-noauth.log"

echo "== a controller with a token per role (reads open)"
stack_cmdb "$WORK/cmdb.log" CMDB_API_TOKENS_FILE="$WORK/tokens" || exit 1
as "${TOK[admin]}" POST /api/v1/nodes '{"hostname":"n1","ip":"10.9.0.1"}'
check_eq "admin registers node 1" 201 "$HTTP_STATUS"
rstatus() { sql "SELECT status FROM release_tasks WHERE id = $1"; }
# new_release [FIELDS]: a release of node 1 by maker (an operator); its id in $R.
new_release() {
  as "${TOK[maker]}" POST /api/v1/releases "{\"version\":3,\"batch_size\":1,\"node_ids\":[1]${1:-}}"
  R=$(jq -r .id <<<"$BODY")
}
seq_no=0 # counts the calls: each registers its own address, sends its own fingerprint
alert_body() { # a resolved alert
  printf '{"version":"4","alerts":[{"status":"resolved","labels":{"alertname":"X"},"fingerprint":"f%d%s","startsAt":"2026-11-30T10:00:00Z"}]}' "$seq_no" "$1"
}

# call ROUTE ROLE: one write as ROLE, after the set-up it needs (by admin or maker);
# prints the status, the code and the role of a refusal, and the release's status after.
call() {
  local route=$1 tok=${TOK[$2]} after=""
  case $route in
    nodes_create) as "$tok" POST /api/v1/nodes "{\"hostname\":\"h$seq_no\",\"ip\":\"10.9.1.$seq_no\"}" ;;
    nodes_patch) as "$tok" PATCH /api/v1/nodes/1 '{"status":"online"}' ;;
    dry_run) as "$tok" POST '/api/v1/releases?dry_run=1' '{"version":2,"batch_size":1,"node_ids":[1]}' ;;
    create) as "$tok" POST /api/v1/releases '{"version":2,"batch_size":1,"node_ids":[1]}' ;;
    pause | cancel) new_release; as "$tok" POST "/api/v1/releases/$R/$route"; after=$(rstatus "$R") ;;
    resume)
      new_release
      as "${TOK[maker]}" POST "/api/v1/releases/$R/pause"
      as "$tok" POST "/api/v1/releases/$R/resume"
      after=$(rstatus "$R")
      ;;
    rollback)
      new_release
      as "${TOK[maker]}" POST "/api/v1/releases/$R/cancel"
      as "$tok" POST "/api/v1/releases/$R/rollback"
      after=$(rstatus "$R")
      ;;
    approve | reject)
      new_release ',"require_approval":true'
      as "$tok" POST "/api/v1/releases/$R/$route"
      after=$(rstatus "$R")
      ;;
    alerts) as "$tok" POST /api/v1/alerts "$(alert_body "$2")" ;;
  esac
  echo "$HTTP_STATUS $(jq -r '[.code // "-", .role // "-"] | join(" ")' <<<"$BODY" 2>/dev/null) $after"
}

echo "== every write route against every role"
# route, the role it needs, the roles that have it, the status it answers them, and the
# release's status after it when allowed and when refused ("-": no release). A refusal is
# 403 with "code": "forbidden_role" and "role": the role it needs.
TABLE="nodes_create inventory inventory,admin,writer 201 - -
nodes_patch inventory inventory,admin,writer 200 - -
dry_run operator operator,admin,writer 200 - -
create operator operator,admin,writer 201 - -
pause operator operator,admin,writer 200 paused pending
resume operator operator,admin,writer 200 pending paused
cancel operator operator,admin,writer 200 cancelled pending
rollback operator operator,admin,writer 422 cancelled cancelled
approve approver approver,admin,writer 200 pending awaiting_approval
reject approver approver,admin,writer 200 rejected awaiting_approval
alerts alerts alerts,admin,writer 200 - -"
refusals=0
while read -r route need may status ok no; do
  for role in $ROLES; do
    if [[ ",$may," == *",$role,"* ]]; then
      want="$status - - ${ok#-}"
    else
      want="403 forbidden_role $need ${no#-}"
      refusals=$((refusals + 1))
    fi
    seq_no=$((seq_no + 1))
    check_eq "$route as $role" "${want% }" "$(call "$route" "$role" | sed 's/ *$//')"
  done
done <<<"$TABLE"
check_eq "metrics: every refusal counted in cmdb_api_forbidden_total{reason=\"forbidden_role\"}" \
  "$refusals" "$(curl -s "$API/metrics" | sed -n 's/^cmdb_api_forbidden_total{reason="forbidden_role"} //p')"
check_eq "metrics: out_of_scope is there, at 0 (scopes are not enforced yet)" 0 \
  "$(curl -s "$API/metrics" | sed -n 's/^cmdb_api_forbidden_total{reason="out_of_scope"} //p')"
check "metrics: cmdb_api_forbidden_total has its HELP" bash -c \
  "curl -s '$API/metrics' | grep -q '^# HELP cmdb_api_forbidden_total .'"
check_eq "log: every refusal at warn, with the principal, the route and the role" "$refusals" \
  "$(grep -cE ' warn api: forbidden_role: token:[a-z]+ may not (POST|PATCH) /api/v1/[a-z/{}]+: that needs the [a-z]+ role' "$WORK/cmdb.log")"
check "log: ...for instance the reader registering a node" grep -q \
  'forbidden_role: token:reader may not POST /api/v1/nodes: that needs the inventory role (it has reader)' "$WORK/cmdb.log"

echo "== four eyes, alerts, scopes, whoami"
as "${TOK[pair]}" POST /api/v1/releases '{"version":5,"batch_size":1,"node_ids":[1],"require_approval":true}'
P=$(jq -r .id <<<"$BODY")
as "${TOK[pair]}" POST "/api/v1/releases/$P/approve"
check_eq "an operator and approver cannot approve its own release: 403 four eyes, not a role" \
  "403 - true" "$HTTP_STATUS $(jq -r '.code // "-"' <<<"$BODY") $(jq -r '.error | test("four eyes")' <<<"$BODY")"
check_eq "  ...it still awaits approval" awaiting_approval "$(rstatus "$P")"
as "${TOK[approver]}" POST "/api/v1/releases/$P/approve"
check_eq "  ...another approver approves it" "200 pending" "$HTTP_STATUS $(rstatus "$P")"
before=$(sql "SELECT COUNT(*) FROM release_tasks")
as "${TOK[alerts]}" POST /api/v1/releases '{"version":6,"batch_size":1}'
check_eq "an alerts token cannot create a release: 403 naming the operator role" \
  "403 forbidden_role operator" "$HTTP_STATUS $(jq -r '"\(.code) \(.role)"' <<<"$BODY")"
check_eq "  ...and nothing was written" "$before" "$(sql "SELECT COUNT(*) FROM release_tasks")"
as "${TOK[staging]}" POST /api/v1/releases '{"version":7,"batch_size":1,"node_ids":[1]}'
check_eq "a scoped operator token is accepted (scopes are not enforced before labels)" 201 "$HTTP_STATUS"
whoami() { as "${TOK[$1]}" GET /api/v1/whoami; jq -c '[.principal, .roles, .scope]' <<<"$BODY"; }
check_eq "whoami: a reader" '["token:reader",["reader"],null]' "$(whoami reader)"
check_eq "whoami: a writer in today's form" '["token:writer",["writer"],null]' "$(whoami writer)"
check_eq "whoami: two roles and a scope, in canonical form" \
  '["token:staging",["operator"],"env=staging,tier in (api,web)"]' "$(whoami staging)"
check_eq "whoami: pair" '["token:pair",["operator","approver"],null]' "$(whoami pair)"
as "${TOK[writer]}" GET /api/v1/whoami
check_eq "whoami: what a writer's roles grant" \
  '["reader","operator","approver","inventory","alerts","writer"]' "$(jq -c .grants <<<"$BODY")"
as "${TOK[alerts]}" GET /api/v1/whoami
check_eq "whoami: what alerts grants" '["reader","alerts"]' "$(jq -c .grants <<<"$BODY")"
api GET /api/v1/whoami
check_eq "whoami without a token, reads open: 200, nobody" '200 {"principal":null,"roles":[],"grants":[],"scope":null}' \
  "$HTTP_STATUS $BODY"
as nope GET /api/v1/whoami
check_eq "whoami with an unknown token: 401" 401 "$HTTP_STATUS"
api GET /api/v1/nodes
check_eq "reads open: GET /api/v1/nodes without a token" 200 "$HTTP_STATUS"

echo "== SIGHUP: a bad file keeps the old one"
cp "$WORK/tokens" "$WORK/tokens.good"
{ cat "$WORK/tokens.good"; echo "newbie:$(hash "${TOK[newbie]}"):operator:env in (a"; } >"$WORK/tokens"
kill -HUP "$CMDB_PID"
check "log: the reload is refused, naming the line and why" wait_until 10 grep -q \
  "reload refused, the old tokens stay in force: CMDB_API_TOKENS_FILE line 12: the scope is not a label selector" "$WORK/cmdb.log"
as "${TOK[reader]}" GET /api/v1/whoami
check_eq "  ...the old tokens stay in force" 200 "$HTTP_STATUS"
as "${TOK[newbie]}" GET /api/v1/whoami
check_eq "  ...the new file's token is not" 401 "$HTTP_STATUS"
{ grep -v '^reader:' "$WORK/tokens.good"; echo "newbie:$(hash "${TOK[newbie]}"):operator:env in (a)"; } >"$WORK/tokens"
kill -HUP "$CMDB_PID"
check "log: a good file is loaded" wait_until 10 grep -q "tokens reloaded" "$WORK/cmdb.log"
check_eq "  ...its new token works, with its scope" '["token:newbie",["operator"],"env in (a)"]' "$(whoami newbie)"
as "${TOK[reader]}" GET /api/v1/whoami
check_eq "  ...a token it no longer lists is refused" 401 "$HTTP_STATUS"
cp "$WORK/tokens.good" "$WORK/tokens"
stop_pid "$CMDB_PID"

echo "== CMDB_READS_REQUIRE_AUTH=1"
stack_cmdb "$WORK/cmdb-reads.log" CMDB_API_TOKENS_FILE="$WORK/tokens" CMDB_READS_REQUIRE_AUTH=1 || exit 1
for path in /api/v1/nodes /api/v1/nodes/1 /api/v1/releases /api/v1/releases/1 \
  /api/v1/releases/1/events /api/v1/whoami; do
  api GET "$path"
  check_eq "GET $path without a token: 401" 401 "$HTTP_STATUS"
done
hdr=$(curl -s -o /dev/null -D - "$API/api/v1/nodes" | tr -d '\r')
check "  ...with WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' <<<"$hdr"
for role in reader alerts inventory; do
  as "${TOK[$role]}" GET /api/v1/releases/1
  check_eq "GET /api/v1/releases/1 as $role: 200" 200 "$HTTP_STATUS"
done
check_eq "whoami as the approver" '["token:approver",["approver"],null]' "$(whoami approver)"
for path in /metrics /healthz /health/live /health/ready / /ui/app.js; do
  check_eq "GET $path stays open" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API$path")"
done
as "${TOK[reader]}" POST /api/v1/nodes '{"hostname":"r","ip":"10.9.2.1"}'
check_eq "writes keep their roles: a reader may not register a node" "403 forbidden_role" \
  "$HTTP_STATUS $(jq -r .code <<<"$BODY")"
check "log: start-up says reads need a principal" grep -q 'CMDB_READS_REQUIRE_AUTH=1: every /api/v1 read needs a principal' "$WORK/cmdb-reads.log"
stop_pid "$CMDB_PID"

echo "== client certificates: roles from a cert: line"
{ cat "$WORK/tokens.good"; echo "cert:cmdb-controller:reader"; } >"$WORK/tokens-cert"
chmod 600 "$WORK/tokens-cert"
port=$(free_port)
API=https://127.0.0.1:$port
start_bg "$WORK/cmdb-tls.log" env CMDB_LISTEN="127.0.0.1:$port" CMDB_TLS_CERT="$CERT_DIR/agent.pem" \
  CMDB_TLS_KEY="$CERT_DIR/agent.pem" CMDB_CLIENT_CA="$CERT_DIR/ca.pem" \
  CMDB_API_TOKENS_FILE="$WORK/tokens-cert" "$ROOT/bin/cmdb" serve
CMDB_PID=$BG_PID
C=(-s --cacert "$CERT_DIR/ca.pem" --cert "$CERT_DIR/client.crt" --key "$CERT_DIR/client.key")
check "HTTPS API answers" wait_until 20 curl -sf "${C[@]}" "$API/healthz"
check_eq "whoami with the certificate: its cert: line's roles" \
  '["cert:cmdb-controller",["reader"],null]' "$(curl "${C[@]}" "$API/api/v1/whoami" | jq -c '[.principal, .roles, .scope]')"
check_eq "the certificate may not register a node: 403 naming inventory" "403 forbidden_role inventory" \
  "$(curl "${C[@]}" -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"hostname":"c","ip":"10.9.3.1"}' "$API/api/v1/nodes") $(jq -r '"\(.code) \(.role)"' "$WORK/body")"
check "log: start-up warns what a certificate without a line may do" grep -q \
  'a verified client certificate without a cert:<CN> line in CMDB_API_TOKENS_FILE is a writer' "$WORK/cmdb-tls.log"
stop_pid "$CMDB_PID"

echo "== without authentication (loopback only): every request is local, an admin"
stack_cmdb "$WORK/cmdb-local.log" || exit 1
api GET /api/v1/whoami
check_eq "whoami: local, admin" '200 ["local",["admin"],null]' \
  "$HTTP_STATUS $(jq -c '[.principal, .roles, .scope]' <<<"$BODY")"
check "the tokens never appear in a log" bash -c "! grep -q -e '${TOK[admin]}' -e '${TOK[reader]}' '$WORK'/cmdb*.log"

end_checks
