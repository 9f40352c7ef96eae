#!/usr/bin/env bash
# Integration test: who may write. Bearer tokens (writer/reader; every role against every
# route is test_api_roles.sh), HTTPS with client certificates, created_by/updated_by on
# the rows, 401/403 that change nothing, and the start-up refusals (world-readable token
# file, unauthenticated non-loopback API).
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/api-auth"

fresh_db cmdb_auth
stack_certs "$WORK/certs" 4

echo "== start-up refusals"
CMDB_LISTEN=0.0.0.0:$(free_port) "$ROOT/bin/cmdb" serve >"$WORK/refuse2.log" 2>&1
check_eq "non-loopback without authentication: exit 2" 2 $?
check "  ...naming CMDB_LISTEN" grep -q 'CMDB_LISTEN: 0.0.0.0' "$WORK/refuse2.log"
ops=ops-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
audit=audit-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
{
  echo "# name:sha256(token)[:role]"
  echo "ops:$(printf '%s' "$ops" | sha256sum | cut -d' ' -f1)"
  echo "audit:$(printf '%s' "$audit" | sha256sum | cut -d' ' -f1):reader"
} >"$WORK/tokens"
chmod 644 "$WORK/tokens"
CMDB_API_TOKENS_FILE=$WORK/tokens "$ROOT/bin/cmdb" serve >"$WORK/refuse3.log" 2>&1
check_eq "token file readable by others: exit 2" 2 $?
check "  ...saying chmod 600" grep -q 'chmod 600' "$WORK/refuse3.log"
chmod 600 "$WORK/tokens"
printf 'broken-line-without-hash\n' >"$WORK/tokens-bad"
chmod 600 "$WORK/tokens-bad"
CMDB_API_TOKENS_FILE=$WORK/tokens-bad "$ROOT/bin/cmdb" serve >"$WORK/refuse4.log" 2>&1
check_eq "malformed token file: exit 2" 2 $?
check "  ...naming the line" grep -q 'CMDB_API_TOKENS_FILE line 1' "$WORK/refuse4.log"

echo "== bearer tokens"
stack_cmdb "$WORK/cmdb-tokens.log" CMDB_API_TOKENS_FILE="$WORK/tokens" || exit 1
checksum() { sql 'CHECKSUM TABLE nodes, release_tasks, release_task_nodes' | cut -f2 | paste -sd' '; }
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
J=(-H 'Content-Type: application/json')
before=$(checksum)
check_eq "GET without a token: reads are open" 200 "$(code "$API/api/v1/nodes")"
check_eq "POST without a token: 401" 401 "$(code "${J[@]}" -d '{"hostname":"a","ip":"10.0.0.1"}' "$API/api/v1/nodes")"
check "  ...with a JSON error" jq -e '.error | test("authentication required")' "$WORK/body"
hdr=$(curl -s -o /dev/null -D - "${J[@]}" -d '{"hostname":"a","ip":"10.0.0.1"}' "$API/api/v1/nodes" | tr -d '\r')
check "  ...and WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' <<<"$hdr"
check_eq "POST with an unknown token: 401" 401 "$(code "${J[@]}" -H "Authorization: Bearer nope" -d '{"hostname":"a","ip":"10.0.0.1"}' "$API/api/v1/nodes")"
check_eq "GET with an unknown token: 401 too" 401 "$(code -H "Authorization: Bearer nope" "$API/api/v1/nodes")"
check_eq "POST with a reader token: 403" 403 "$(code "${J[@]}" -H "Authorization: Bearer $audit" -d '{"hostname":"a","ip":"10.0.0.1"}' "$API/api/v1/nodes")"
check_eq "  ...forbidden_role, naming the role needed" "forbidden_role inventory" "$(jq -r '"\(.code) \(.role)"' "$WORK/body")"
check_eq "PATCH without a token: 401" 401 "$(code "${J[@]}" -X PATCH -d '{"status":"offline"}' "$API/api/v1/nodes/1")"
check_eq "POST release without a token: 401" 401 "$(code "${J[@]}" -d '{"version":1,"batch_size":1}' "$API/api/v1/releases")"
check_eq "sql: refused writes changed nothing" "$before" "$(checksum)"
check_eq "POST with the writer token: 201" 201 "$(code "${J[@]}" -H "Authorization: Bearer $ops" -d '{"hostname":"a","ip":"10.0.0.1"}' "$API/api/v1/nodes")"
check_eq "  ...created_by token:ops in the answer" token:ops "$(jq -r .created_by "$WORK/body")"
check_eq "PATCH with the writer token: 200, updated_by" "200 token:ops" \
  "$(code "${J[@]}" -X PATCH -H "Authorization: Bearer $ops" -d '{"status":"online"}' "$API/api/v1/nodes/1") $(jq -r .updated_by "$WORK/body")"
check_eq "POST release with the writer token: 201" 201 "$(code "${J[@]}" -H "Authorization: Bearer $ops" -d '{"version":1,"batch_size":1}' "$API/api/v1/releases")"
check_eq "sql: created_by recorded on the node and the release" "token:ops token:ops" \
  "$(sql "SELECT (SELECT created_by FROM nodes WHERE id=1), (SELECT created_by FROM release_tasks WHERE id=1)" | tr '\t' ' ')"
check "the token never appears in the log" bash -c "! grep -q -e '$ops' -e '$audit' '$WORK/cmdb-tokens.log'"
stop_pid "$CMDB_PID"

echo "== HTTPS with client certificates"
port=$(free_port)
API=https://127.0.0.1:$port
start_bg "$WORK/cmdb-tls.log" env CMDB_LISTEN="127.0.0.1:$port" CMDB_TLS_CERT="$CERT_DIR/agent.pem" \
  CMDB_TLS_KEY="$CERT_DIR/agent.pem" CMDB_CLIENT_CA="$CERT_DIR/ca.pem" "$ROOT/bin/cmdb" serve
CMDB_PID=$BG_PID
C=(--cacert "$CERT_DIR/ca.pem" --cert "$CERT_DIR/client.crt" --key "$CERT_DIR/client.key")
check "HTTPS API answers with a client certificate" wait_until 20 curl -sf "${C[@]}" "$API/healthz"
check "log says HTTPS and client certificates" grep -q 'API on https://.*client certificates verified' "$WORK/cmdb-tls.log"
check "log warns that a certificate without a cert: line is a writer, as before roles" grep -q \
  'warn serve: a verified client certificate without a cert:<CN> line' "$WORK/cmdb-tls.log"
curl -s --max-time 5 --cacert "$CERT_DIR/ca.pem" "$API/api/v1/nodes" >/dev/null
rc=$?
check "no client certificate: refused at the handshake (curl $rc)" test "$rc" -eq 35 -o "$rc" -eq 55 -o "$rc" -eq 56
curl -s --max-time 5 "http://127.0.0.1:$port/api/v1/nodes" >/dev/null
check "plain HTTP to the HTTPS port gets nothing" test $? -ne 0
check_eq "POST with the certificate: 201" 201 "$(code "${C[@]}" "${J[@]}" -d '{"hostname":"b","ip":"10.0.0.2"}' "$API/api/v1/nodes")"
check_eq "  ...created_by is the certificate's CN" cert:cmdb-controller "$(jq -r .created_by "$WORK/body")"
check "the key material never appears in the log" bash -c "! grep -q 'PRIVATE KEY' '$WORK'/cmdb-*.log"
check "no temporary PEM is left behind" bash -c "! ls -d \${TMPDIR:-/tmp}/cmdb-tls-* 2>/dev/null | grep -q ."

end_checks
