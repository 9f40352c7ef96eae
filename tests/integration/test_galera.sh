#!/usr/bin/env bash
# Integration test of a three-node MariaDB Galera cluster (issue 12), against the real
# bin/cmdb, a private cluster (scripts/galera.sh) and mutual-TLS agents. Three
# controllers each list a different node first in CMDB_DB_HOST. While releases run, the
# first node of controller 1 is killed (-9), then the first node of controller 2 is cut
# off from the cluster (gmcast.isolate) and stays up refusing queries. Each time every
# controller's API answers within 10 s, writes succeed, the releases keep moving, the
# moves are counted and logged; a fourth controller that lists only the isolated node
# answers 503 while it is cut off and 200 once it is back. At the end every release is
# terminal, its counters are exact, nothing was applied twice, every success was
# applied, and the timeline of each release is numbered without gaps.
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/galera"
PORT=${GALERA_AGENT_PORT:-10243}
export GALERA_BASE_PORT=${GALERA_BASE_PORT:-3510}
NODES=40

echo "== set-up: a three-node Galera cluster, certificates, agents, four controllers"
stack_galera "$WORK/galera" || { echo "the Galera cluster did not start" >&2; exit 1; }
new_database cmdb_galera || { echo "migrate failed" >&2; exit 1; }
check_eq "sql: the cluster has three nodes" 3 \
  "$(sql "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'" | cut -f2)"
check_eq "sql: every table has a primary key (Galera replicates rows by it)" 0 \
  "$(sql "SELECT COUNT(*) FROM information_schema.tables t WHERE t.table_schema = DATABASE() AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY')")"
stack_certs "$WORK/certs" "$NODES"
: >"$WORK/nodes.txt"
values=""
for i in $(seq 1 "$NODES"); do
  printf '127.0.6.%d:%d delay=0.%d\n' "$i" "$PORT" $((3 + i % 4)) >>"$WORK/nodes.txt"
  values+="${values:+,}('g-$i','127.0.6.$i',$PORT,'online',UTC_TIMESTAMP(3),UTC_TIMESTAMP(3))"
done
sql "INSERT INTO nodes (hostname, ip, agent_port, status, created_at, updated_at) VALUES $values"
APPLY_LOG=$WORK/applies.log
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$APPLY_LOG" || exit 1

declare -a CAPI CPID
EXEC_ENV=(RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 RELEASE_LEASE_SECONDS=5)
for k in 1 2 3; do
  stack_cmdb "$WORK/cmdb-$k.log" CMDB_DB_HOST="$(galera_hosts "$k")" "${EXEC_ENV[@]}" || exit 1
  CAPI[$k]=$API
  CPID[$k]=$CMDB_PID
done
# Controller 4 serves the API only, from node 2 alone: it has nowhere to move to.
node2="127.0.0.1:$(cut -d' ' -f2 <<<"$GALERA_PORTS")"
stack_cmdb "$WORK/cmdb-4.log" CMDB_DB_HOST="$node2" RELEASE_EXECUTOR_ENABLED=0 || exit 1
CAPI[4]=$API
API=${CAPI[1]}
for k in 1 2 3; do
  check_eq "controller $k: /health/ready names its first node" \
    "$(galera_hosts "$k" | cut -d, -f1)" \
    "$(curl -s "${CAPI[$k]}/health/ready" | jq -r .database_node)"
done

# Releases through all three controllers, interleaved, on overlapping nodes: each one
# waits for the earlier ones that share a node, whichever controller created it.
# Node ids step by the cluster size (each node hands out its own AUTO_INCREMENT values).
mapfile -t NODE_IDS < <(sql "SELECT id FROM nodes ORDER BY id")
created=0
for r in $(seq 1 9); do
  k=$((1 + r % 3))
  first=$(((r * 7) % 30))
  list=$(IFS=,; echo "${NODE_IDS[*]:$first:10}")
  out=$(curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"version\":$((100 + r)),\"batch_size\":2,\"node_ids\":[$list]}" \
    "${CAPI[$k]}/api/v1/releases")
  [ "${out##*$'\n'}" = 201 ] && created=$((created + 1))
done
check_eq "api: 9 releases created through the three controllers" 9 "$created"
check_eq "sql: releases are ordered by seq, 1 to 9 without gaps" "1 9 9" \
  "$(sql 'SELECT MIN(seq), MAX(seq), COUNT(DISTINCT seq) FROM release_tasks' | tr '\t' ' ')"
check_eq "sql: the ids came from more than one node (auto_increment_increment 3)" 3 \
  "$(sql 'SELECT @@auto_increment_increment')"

successes() { sql "SELECT COUNT(*) FROM release_task_nodes WHERE status = 'success'" 2>/dev/null; }
# moving_since N: the cluster recorded more successes than N.
moving_since() { [ "$(successes)" -gt "$1" ]; }
# answers K: controller K's API answers a read and a write with 200.
answers() {
  curl -sf -m 3 "${CAPI[$1]}/api/v1/releases?limit=5" >/dev/null &&
    curl -sf -m 3 -X POST -H 'Content-Type: application/json' \
      --data-binary "{\"hostname\":\"probe-$1-$RANDOM$RANDOM\",\"ip\":\"10.9.$1.$((RANDOM % 250 + 1))\",\"agent_port\":$((20000 + RANDOM % 30000))}" \
      "${CAPI[$1]}/api/v1/nodes" >/dev/null
}
# fault NAME: each controller answers within 10 s of the fault (injected at $T0, epoch
# ms), counted from then; figures in $WORK/moves.
fault() {
  local k t
  for k in 1 2 3; do
    if wait_until 10 answers "$k"; then
      t=$(($(date +%s%3N) - T0))
      PASSED=$((PASSED + 1))
      printf 'ok   %s: controller %d answers a read and a write (%d ms after)\n' "$1" "$k" "$t"
      echo "$1 controller=$k ms=$t" >>"$WORK/moves"
    else
      FAILED=$((FAILED + 1))
      printf 'FAIL %s: controller %d did not answer within 10 s\n' "$1" "$k"
    fi
  done
}
wait_until 30 moving_since 0
check "releases: nodes are succeeding before the faults" moving_since 0

# What clients see throughout: each controller is asked for a read and a write every
# 200 ms ("epoch_ms controller kind status seconds" per line in $WORK/probes); the probers
# stop when $WORK/probes.stop appears, or after 10 minutes whatever happens. The writes
# carry an Idempotency-Key, as a client that wants an answer through a failover sends
# them: a create whose COMMIT was cut off is run again and replays (200) if it had
# committed; without a key it would have to answer 503.
probe() {
  local k=$1 end=$((SECONDS + 600)) i=0
  while [ ! -e "$WORK/probes.stop" ] && [ $SECONDS -lt $end ]; do
    i=$((i + 1))
    echo "$(date +%s%3N) $k read $(curl -s -o /dev/null -m 15 -w '%{http_code} %{time_total}' \
      "${CAPI[$k]}/api/v1/releases?limit=5")" >>"$WORK/probes"
    echo "$(date +%s%3N) $k write $(curl -s -o /dev/null -m 15 -w '%{http_code} %{time_total}' \
      -X POST -H 'Content-Type: application/json' -H "Idempotency-Key: probe-$k-$i" \
      --data-binary "{\"hostname\":\"w-$k-$i\",\"ip\":\"10.8.$k.1\",\"agent_port\":$((20000 + i))}" \
      "${CAPI[$k]}/api/v1/nodes")" >>"$WORK/probes"
    sleep 0.2
  done
}
: >"$WORK/probes"
for k in 1 2 3; do
  probe "$k" &
  BG_PIDS+=($!)
done

echo "== node 1 (controller 1's first) killed with -9"
before=$(successes)
T0=$(date +%s%3N)
bash "$ROOT/scripts/galera.sh" kill 1 "$GALERA_DIR"
export DB_ROOT_SOCKET=$GALERA_DIR/n2/mysqld.sock
fault "node 1 killed"
check "node 1 killed: the releases keep moving" wait_until 30 moving_since "$before"
check "node 1 killed: controller 1 moved to another node" \
  bash -c "curl -s ${CAPI[1]}/metrics | grep -Eq '^cmdb_db_node_switches_total [1-9]'"
check "node 1 killed: controller 1 logged the move" \
  grep -q 'is not usable.*; using 127.0.0.1:' "$WORK/cmdb-1.log"
check_eq "node 1 killed: /health/ready of controller 1 names node 2" "$node2" \
  "$(curl -s "${CAPI[1]}/health/ready" | jq -r .database_node)"
check "node 1 rejoins the cluster (IST)" bash "$ROOT/scripts/galera.sh" start 1 "$GALERA_DIR"

echo "== node 2 (controller 2's first) isolated from the cluster"
before=$(successes)
T0=$(date +%s%3N)
bash "$ROOT/scripts/galera.sh" isolate 2 "$GALERA_DIR"
export DB_ROOT_SOCKET=$GALERA_DIR/n3/mysqld.sock
isolated() {
  mariadb --no-defaults --socket="$GALERA_DIR/n2/mysqld.sock" -uroot -N -B \
    -e "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'" | grep -q non-Primary
}
fault "node 2 isolated"
check "node 2 isolated: it is up, outside the primary component" wait_until 20 isolated
check "node 2 isolated: the releases keep moving" wait_until 30 moving_since "$before"
check "node 2 isolated: controller 2 logged the move" \
  grep -q 'is not usable (.*Galera node not usable.*; using 127.0.0.1:' "$WORK/cmdb-2.log"
API=${CAPI[4]}
api GET /api/v1/releases
check_eq "node 2 isolated: controller 4 (node 2 only) answers 503" 503 "$HTTP_STATUS"
check_eq "node 2 isolated: its 503 says the database is unavailable" \
  "database unavailable; retry later" "$(jq -r .error <<<"$BODY")"
api GET /health/ready
check_eq "node 2 isolated: /health/ready of controller 4 is 503" 503 "$HTTP_STATUS"
check "node 2 rejoins the cluster" bash "$ROOT/scripts/galera.sh" rejoin 2 "$GALERA_DIR"
check "node 2 back: controller 4 answers 200 again" wait_until 10 \
  bash -c "curl -sf ${CAPI[4]}/api/v1/releases >/dev/null"
API=${CAPI[1]}

touch "$WORK/probes.stop"
check_eq "clients: every probe of controllers 1-3 answered 201 or 200, none failed ($(wc -l <"$WORK/probes") probes)" "" \
  "$(awk '$4 != 200 && $4 != 201 {print}' "$WORK/probes" | head -n 5)"
slowest=$(sort -k5 -n -r "$WORK/probes" | head -n 1 | awk '{print $3 " " $5 " s"}')
# An answer of 500 is logged at level error; so is anything else the controller did not
# expect. A node leaving the cluster must be none of those.
check_eq "logs: no controller logged an error" "" \
  "$(grep -h ' error ' "$WORK"/cmdb-[1-4].log | head -n 5)"

echo "== waiting for every release to end"
all_done() { [ "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")" = 0 ]; }
check "every release ended within 120 s" wait_until 120 all_done
check_eq "sql: every release succeeded" "9 9" \
  "$(sql "SELECT COUNT(*), SUM(status = 'success') FROM release_tasks" | tr '\t' ' ')"
check_eq "sql: counters equal row counts in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE success_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id = t.id AND n.status = 'success') OR failed_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id = t.id AND n.status = 'failed')")"
sql "SELECT CONCAT('cmdb-', t.idempotency_token, '-r', t.id, '-n', n.node_id) FROM release_task_nodes n JOIN release_tasks t ON t.id = n.release_task_id WHERE n.status = 'success'" |
  sort >"$WORK/success-keys.txt"
grep '^apply ' "$APPLY_LOG" | sed 's/.* key=//' | sort >"$WORK/applied-keys.txt"
check_eq "agents: no (release, node) applied twice ($(wc -l <"$WORK/applied-keys.txt") applies)" 0 \
  "$(uniq -d "$WORK/applied-keys.txt" | wc -l)"
check_eq "agents: every success node was applied" 0 \
  "$(comm -23 "$WORK/success-keys.txt" "$WORK/applied-keys.txt" | wc -l)"
# Two releases sharing a node never ran it at once: each node's applies follow seq order.
check_eq "sql: on every node, releases applied in seq order, never overlapping" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes a JOIN release_tasks ta ON ta.id = a.release_task_id JOIN release_task_nodes b ON b.node_id = a.node_id AND b.release_task_id <> a.release_task_id JOIN release_tasks tb ON tb.id = b.release_task_id WHERE ta.seq < tb.seq AND b.started_at < a.finished_at")"
check_eq "sql: every timeline is numbered 1..n without gaps" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE t.last_event <> (SELECT COUNT(*) FROM release_events e WHERE e.release_id = t.id) OR t.last_event <> (SELECT COALESCE(MAX(seq), 0) FROM release_events e WHERE e.release_id = t.id)")"
check "api: a timeline reads back in order" \
  bash -c "curl -s '$API/api/v1/releases/$(sql 'SELECT id FROM release_tasks ORDER BY seq LIMIT 1')/events?limit=1000' | jq -e '[.events[].id] == [range(1; (.events | length) + 1)]'"
for k in 1 2 3; do
  check "controller $k still running" kill -0 "${CPID[$k]}"
done
switches=0 retries=0
for k in 1 2 3; do
  m=$(curl -s "${CAPI[$k]}/metrics")
  switches=$((switches + $(awk '/^cmdb_db_node_switches_total /{print $2}' <<<"$m")))
  retries=$((retries + $(awk '/^cmdb_db_tx_retries_total /{print $2}' <<<"$m")))
done
echo "figures: $(paste -sd' ' "$WORK/moves" | sed 's/ controller=/ c/g') slowest_probe=$slowest node_switches=$switches tx_retries=$retries"
end_checks
