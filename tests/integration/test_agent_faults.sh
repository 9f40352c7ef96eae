#!/usr/bin/env bash
# Integration test: every agent misbehaviour of docs/agent-protocol.md ("What an agent
# must survive"), over real mutual TLS, fails its node with the right error_msg and
# never counts as success; the node after it is skipped, never dispatched.
# Also checks that migrations are idempotent and that the schema's status ENUMs are the
# state table's. Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/agent-faults"
# Agents listen on their own port so that `make run` (9443) can run beside the tests.
PORT=${FAULTS_AGENT_PORT:-9643}

fresh_db cmdb_faults
out=$("$ROOT/bin/cmdb" migrate 2>&1)
check "migrate: a second run applies nothing" grep -q '0 migrations applied now' <<<"$out"
check_eq "sql: schema_migrations holds one row per file" \
  "$(ls "$ROOT"/migrations/*.sql | wc -l)" "$(sql 'SELECT COUNT(*) FROM schema_migrations')"
# The schema's status ENUMs hold exactly the state table's names (build/web/states.js is
# written from internal/state at build time), so a status added to one is in the other.
enum_of() {
  sql "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
       AND TABLE_NAME = '$1' AND COLUMN_NAME = 'status'" |
    sed "s/^enum(//; s/)\$//; s/'//g" | tr ',' '\n' | sort | paste -sd' '
}
states_js=$ROOT/build/web/states.js
check_eq "sql: release_tasks.status is the state table's release statuses" \
  "$(grep -o "name: '[a-z_]*'" "$states_js" | cut -d"'" -f2 | sort | paste -sd' ')" \
  "$(enum_of release_tasks)"
check_eq "sql: release_task_nodes.status is the state table's node statuses" \
  "$(sed -n 's/^const CMDB_NODE_STATUSES.*\[\(.*\)\].*/\1/p' "$states_js" | tr -d "' " |
    tr ',' '\n' | sort | paste -sd' ')" \
  "$(enum_of release_task_nodes)"

stack_certs "$WORK/certs" 64
# name behaviour expected-error-pattern; the healthy node 127.0.1.50 follows each one.
cases=(
  "garbage|garbage|agent status: invalid JSON"
  "badstatus|badstatus|agent status: unknown status \"exploded\""
  "badtaskid|badtaskid|agent dispatch: missing or invalid task_id"
  "http5xx|5xx|agent dispatch: HTTP 500: simulated agent fault \\(after 1 retry\\)"
  "busy429|429|agent dispatch: HTTP 429: busy \\(after 1 retry\\)"
  "forget|forget|agent status: task .* unknown to the agent \\(HTTP 404\\)"
  "hang|hang|timeout: agent 127.0.1.[0-9]*:$PORT gave no answer within 2 s \\(after 1 retry\\)"
  "otherca|cert=otherca|tls: server certificate not trusted"
  "wrongname|cert=wrongname|tls: server certificate not trusted"
  "expired|cert=expired|tls: server certificate not trusted"
  "applyfail|fail|agent failed: simulated apply failure"
  "slow|delay=30|timeout: the task did not finish within 6 s \\(RELEASE_NODE_TIMEOUT\\)"
)
{
  echo "127.0.1.50:$PORT delay=0.1"
  echo "127.0.1.51:$PORT flaky=2 delay=0.1"
  for i in "${!cases[@]}"; do
    IFS='|' read -r _ behaviour _ <<<"${cases[$i]}"
    case "$behaviour" in delay=*) ;; *) behaviour="$behaviour delay=0.1" ;; esac
    echo "127.0.1.$((i + 1)):$PORT $behaviour"
  done
} >"$WORK/nodes.txt"
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$WORK/applies.log" || exit 1
curl -s --max-time 5 --cacert "$CERT_DIR/ca.pem" "https://127.0.1.50:$PORT/api/v1/tasks/x" >/dev/null
rc=$?
# 35: handshake failed; with TLS 1.3 the server's alert arrives after the client's
# handshake is done, so curl sees it while sending (55) or receiving (56).
check "agentsim: a client without a certificate is refused at the handshake (curl $rc)" \
  test "$rc" -eq 35 -o "$rc" -eq 55 -o "$rc" -eq 56
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$CERT_DIR/ca.pem" \
  --cert "$AGENT_CERT_FILE" --key "$AGENT_KEY_FILE" "https://127.0.1.50:$PORT/api/v1/tasks/x")
check_eq "agentsim: with the client certificate the agent answers (404 unknown task)" 404 "$code"
stack_cmdb "$WORK/cmdb.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
  AGENT_REQUEST_TIMEOUT=2 AGENT_CONNECT_TIMEOUT=2 RELEASE_NODE_RETRIES=1 RELEASE_NODE_TIMEOUT=6 \
  || exit 1

for i in "${!cases[@]}"; do
  IFS='|' read -r name _ _ <<<"${cases[$i]}"
  api POST /api/v1/nodes "{\"hostname\":\"$name\",\"ip\":\"127.0.1.$((i + 1))\",\"agent_port\":$PORT}"
done
api POST /api/v1/nodes "{\"hostname\":\"healthy\",\"ip\":\"127.0.1.50\",\"agent_port\":$PORT}"
good=$(jq .id <<<"$BODY")

for i in "${!cases[@]}"; do
  IFS='|' read -r name _ pattern <<<"${cases[$i]}"
  api POST /api/v1/releases "{\"version\":7,\"batch_size\":1,\"node_ids\":[$((i + 1)),$good]}"
  rel=$(jq .id <<<"$BODY")
  if ! wait_until 30 release_done "$rel"; then
    check "$name: release finishes" false
    continue
  fi
  body=$(jget "/api/v1/releases/$rel")
  check_eq "$name: release failed, batch 2 skipped" "failed skipped 0 1" \
    "$(jq -r '"\(.status) \(.batches[1].status) \(.success_nodes) \(.failed_nodes)"' <<<"$body")"
  msg=$(jq -r '.batches[0].nodes[0].error_msg' <<<"$body")
  check "$name: error_msg matches \"$pattern\" (got \"$msg\")" grep -Eq -- "$pattern" <<<"$msg"
done
# A transient fault that clears up: two 503s, then the dispatch works. With one retry
# allowed the node fails; a release with RELEASE_NODE_RETRIES=3 (below) succeeds.
api POST /api/v1/nodes "{\"hostname\":\"flaky\",\"ip\":\"127.0.1.51\",\"agent_port\":$PORT}"
flaky=$(jq .id <<<"$BODY")
stop_pid "$CMDB_PID"
stack_cmdb "$WORK/cmdb-retry.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
  RELEASE_NODE_RETRIES=3 || exit 1
api POST /api/v1/releases "{\"version\":8,\"batch_size\":1,\"node_ids\":[$flaky]}"
rel=$(jq .id <<<"$BODY")
check "flaky: release finishes" wait_until 30 release_done "$rel"
check_eq "flaky: two 503s are retried and the release succeeds" success "$(release_status "$rel")"
check_eq "flaky: the log shows both retries" 2 "$(grep -c "node $flaky: agent dispatch: HTTP 503.*retry [12] of 3" "$WORK/cmdb-retry.log")"
check_eq "flaky: applied exactly once" 1 "$(grep -c '^apply node=127.0.1.51:' "$WORK/applies.log")"
check_eq "agents: the healthy node was never dispatched" 0 \
  "$(grep -c '^apply node=127.0.1.50:' "$WORK/applies.log")"

# Agents that accept the TCP connection and never answer the TLS handshake (a wedged
# agent, or a middlebox that passes the SYN): more of them than the 32 connections set
# up at a time, ahead of a healthy node in the same batch. A handshake that has gone on
# for a second stops holding its slot, so the healthy node is applied long before the
# silent ones time out, and the release then fails on them.
SILENT=40
start_bg "$WORK/silent.log" perl -MIO::Socket::INET -e '
  my ($n, $port) = @ARGV; my @s;
  for my $i (1 .. $n) {
    push @s, IO::Socket::INET->new(LocalAddr => "127.0.2.$i", LocalPort => $port,
      Listen => 8, ReuseAddr => 1) or die "127.0.2.$i:$port: $!\n";
  }
  print "listening\n"; $| = 1; sleep 120;' "$SILENT" "$PORT"
wait_until 10 grep -q listening "$WORK/silent.log" || { cat "$WORK/silent.log"; exit 1; }
ids=""
for i in $(seq 1 "$SILENT"); do
  api POST /api/v1/nodes "{\"hostname\":\"silent-$i\",\"ip\":\"127.0.2.$i\",\"agent_port\":$PORT}"
  ids="$ids$(jq .id <<<"$BODY"),"
done
stop_pid "$CMDB_PID"
stack_cmdb "$WORK/cmdb-silent.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
  AGENT_CONNECT_TIMEOUT=8 AGENT_REQUEST_TIMEOUT=8 RELEASE_NODE_RETRIES=0 || exit 1
api POST /api/v1/releases "{\"version\":9,\"batch_size\":$((SILENT + 1)),\"node_ids\":[$ids$good]}"
rel=$(jq .id <<<"$BODY")
check "silent: release finishes" wait_until 60 release_done "$rel"
body=$(jget "/api/v1/releases/$rel")
check_eq "silent: release failed, the silent nodes failed, the healthy one succeeded" \
  "failed $SILENT 1" "$(jq -r '"\(.status) \(.failed_nodes) \(.success_nodes)"' <<<"$body")"
check_eq "silent: each silent node failed on the connect timeout" "$SILENT" \
  "$(jq '[.batches[0].nodes[] | select(.status == "failed" and
           (.error_msg | test("^connect 127[.]0[.]2[.][0-9]+:[0-9]+: timed out$")))] | length' \
    <<<"$body")"
check_eq "silent: the healthy node finished before any silent node failed" 1 \
  "$(sql "SELECT MAX(IF(node_id = $good, finished_at, NULL)) <
              MIN(IF(node_id <> $good, finished_at, NULL))
          FROM release_task_nodes WHERE release_task_id = $rel")"
check_eq "silent: the healthy node was applied once" 1 \
  "$(grep -c '^apply node=127.0.1.50:.* version=9' "$WORK/applies.log")"
check_eq "silent: /metrics counts each silent node's connect as slow" "$SILENT" \
  "$(curl -s "$API/metrics" | awk '$1 == "cmdb_agent_connections_slow_total" { print $2 }')"

end_checks
