#!/usr/bin/env bash
# Chaos test (issue: nothing lost, nothing applied twice). Starts a private MariaDB,
# the agent simulator and 3 controllers on one database, creates releases of varied
# size (half with a failing node: some tolerating one failure, the others rolling
# themselves back when they fail), then for a while
# kill -9s a random controller at random moments and restarts it, pauses, resumes and
# cancels random releases through random controllers, and restarts MariaDB twice (once
# gracefully, once with kill -9). Then it resumes what is still paused, waits for every
# release to end and checks, from the simulator's apply log and the database, that
# nothing was applied twice, nothing was lost, nothing is stuck, and no release
# dispatched a node after a pause or cancel of it had returned, and every failed release
# with auto_rollback has exactly one rollback release.
#
# With --galera (make chaos GALERA=1) the database is a private three-node Galera
# cluster (scripts/galera.sh) instead, each controller lists a different node first, and
# the two database faults are a node killed with -9 and restarted, and a node cut off
# from the cluster (gmcast.isolate) and let back; the figures add the certification
# retries and node switches the controllers counted.
#
#   scripts/chaos.sh [--seconds N] [--releases N] [--seed N] [--galera]
#
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

SECONDS_CHAOS=60
RELEASES=20
SEED=$$
GALERA=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_CHAOS=$2; shift 2 ;;
    --releases) RELEASES=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --galera) GALERA=1; shift ;;
    *) echo "usage: $0 [--seconds N] [--releases N] [--seed N] [--galera]" >&2; exit 2 ;;
  esac
done
RANDOM=$SEED

begin_test "${CHAOS_DIR:-$ROOT/var/chaos}"
PORT=${CHAOS_AGENT_PORT:-9843}
NODES=60
FAILING=(7 23 41) # node ids whose agent fails every apply
LEASE=5

if [ "$GALERA" = 1 ]; then
  echo "== chaos: seed $SEED, $SECONDS_CHAOS s of faults, $RELEASES releases, 3 controllers, 3 Galera nodes"
  export GALERA_BASE_PORT=${GALERA_BASE_PORT:-3610}
  stack_galera "$WORK/galera" || { echo "the Galera cluster did not start" >&2; exit 1; }
  new_database cmdb_chaos || { echo "migrate failed" >&2; exit 1; }
else
  echo "== chaos: seed $SEED, $SECONDS_CHAOS s of faults, $RELEASES releases, 3 controllers"
  DB_PORT=$(free_port)
  fresh_db cmdb_chaos "$DB_PORT"
fi
stack_certs "$WORK/certs" "$NODES"
: >"$WORK/nodes.txt"
for i in $(seq 1 "$NODES"); do
  extra=""
  for f in "${FAILING[@]}"; do [ "$i" -eq "$f" ] && extra=" fail"; done
  printf '127.0.%d.%d:%d delay=0.%d%s\n' $((1 + (i - 1) / 250)) $((1 + (i - 1) % 250)) \
    "$PORT" $((1 + RANDOM % 6)) "$extra" >>"$WORK/nodes.txt"
done
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$WORK/applies.log" || exit 1
sim_pid=$AGENTSIM_PID

# The fleet already runs version 1000, so that a rollback has a version to go back to.
# Node i gets id i, named: on Galera AUTO_INCREMENT steps by the cluster size, and the
# script refers to nodes by number (FAILING, the releases' node_ids).
values=""
for i in $(seq 1 "$NODES"); do
  values+="${values:+,}($i,'node-$i','127.0.$((1 + (i - 1) / 250)).$((1 + (i - 1) % 250))',$PORT,'online',UTC_TIMESTAMP(3),UTC_TIMESTAMP(3),1000)"
done
sql "INSERT INTO nodes (id, hostname, ip, agent_port, status, created_at, updated_at, config_version) VALUES $values"

# Controllers: slot k runs on a fixed API port; its log is appended across restarts.
declare -a CPID CPORT
start_controller() {
  local k=$1 hosts=()
  [ "$GALERA" = 1 ] && hosts=(CMDB_DB_HOST="$(galera_hosts $((k + 1)))")
  env "${hosts[@]}" CMDB_LISTEN="127.0.0.1:${CPORT[$k]}" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
    RELEASE_LEASE_SECONDS=$LEASE AGENT_REQUEST_TIMEOUT=5 "$ROOT/bin/cmdb" serve \
    >>"$WORK/controller-$k.log" 2>&1 &
  CPID[$k]=$!
  BG_PIDS+=("${CPID[$k]}")
}
for k in 0 1 2; do
  CPORT[$k]=$(free_port)
  start_controller "$k"
done
API=http://127.0.0.1:${CPORT[0]}
wait_until 20 curl -sf "$API/healthz" || { echo "controller did not start" >&2; exit 1; }

echo "== creating $RELEASES releases"
created=0
for r in $(seq 1 "$RELEASES"); do
  size=$((3 + RANDOM % 30))
  ids=$(shuf -i 1-"$NODES" -n "$size" --random-source=<(yes "$SEED$r") | sort -n)
  if [ $((r % 2)) -eq 0 ]; then # every other release includes a failing node
    ids=$(printf '%s\n%s\n' "$ids" "${FAILING[$((r % 3))]}" | sort -nu)
  else
    ids=$(printf '%s\n' "$ids" | grep -vxE "$(IFS='|'; echo "${FAILING[*]}")")
  fi
  list=$(paste -sd, <<<"$ids")
  tolerate='' # every eighth release tolerates its one failing node and should end partial
  [ $((r % 8)) -eq 0 ] && tolerate=',"max_failures":1'
  # The others with a failing node roll themselves back when they fail.
  [ $((r % 8)) -ne 0 ] && [ $((r % 2)) -eq 0 ] && tolerate+=',"auto_rollback":true'
  api POST /api/v1/releases "{\"version\":$((1000 + r)),\"batch_size\":$((1 + RANDOM % 6)),\"node_ids\":[$list]$tolerate}"
  [ "$HTTP_STATUS" = 201 ] && created=$((created + 1))
  [ "$HTTP_STATUS" = 201 ] || echo "-- release $r not created: $HTTP_STATUS $BODY"
done
check_eq "setup: $RELEASES releases created" "$RELEASES" "$created"

# operate: pause, resume or cancel a random release through a random controller's API.
# Each request that changed the release is logged as "ID ACTION MS_AFTER_RETURN".
: >"$WORK/actions.log"
operate() {
  local id=$((1 + RANDOM % RELEASES)) k=$((RANDOM % 3)) action out code sent
  case $((RANDOM % 5)) in
    0 | 1) action=pause ;; 2 | 3) action=resume ;; *) action=cancel ;;
  esac
  [ "$action" = cancel ] && [ $((RANDOM % 2)) -eq 0 ] && action=pause # cancel less often
  sent=$(date +%s%3N)
  out=$(curl -s -m 10 -w '\n%{http_code}' -X POST "http://127.0.0.1:${CPORT[$k]}/api/v1/releases/$id/$action")
  code=${out##*$'\n'}
  [ "$code" = 200 ] || return 0
  echo "$id $action $(date +%s%3N) $sent" >>"$WORK/actions.log"
}

# galera_fault I: the I-th database fault on Galera: kill -9 a random node and start it
# again, or isolate a random node and let it back; sql() then uses a Synced node.
galera_fault() {
  local n=$((1 + RANDOM % 3))
  if [ "$1" -eq 1 ]; then
    echo "-- $(date -u +%T) Galera node $n: kill -9, restart"
    bash "$ROOT/scripts/galera.sh" kill "$n" "$GALERA_DIR"
    sleep 2
    bash "$ROOT/scripts/galera.sh" start "$n" "$GALERA_DIR" || { echo "node $n did not rejoin" >&2; return 1; }
  else
    echo "-- $(date -u +%T) Galera node $n: isolated for 5 s"
    bash "$ROOT/scripts/galera.sh" isolate "$n" "$GALERA_DIR"
    sleep 5
    bash "$ROOT/scripts/galera.sh" rejoin "$n" "$GALERA_DIR" || { echo "node $n did not rejoin" >&2; return 1; }
  fi
  DB_ROOT_SOCKET=$(galera_root_socket)
}

echo "== faults for $SECONDS_CHAOS s"
kills=0
db_restarts=0
start=$SECONDS
next_db=$((SECONDS_CHAOS / 3))
while [ $((SECONDS - start)) -lt "$SECONDS_CHAOS" ]; do
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  operate
  sleep $((RANDOM % 3))
  operate
  k=$((RANDOM % 3))
  if kill -9 "${CPID[$k]}" 2>/dev/null; then
    kills=$((kills + 1))
    wait "${CPID[$k]}" 2>/dev/null
    echo "-- $(date -u +%T) kill -9 controller $k (kill $kills)" | tee -a "$WORK/controller-$k.log"
    sleep "0.$((RANDOM % 10))"
    start_controller "$k"
  fi
  if [ $db_restarts -lt 2 ] && [ $((SECONDS - start)) -ge "$next_db" ]; then
    db_restarts=$((db_restarts + 1))
    next_db=$((2 * SECONDS_CHAOS / 3))
    if [ "$GALERA" = 1 ]; then
      galera_fault "$db_restarts" || exit 1
      continue
    fi
    if [ $db_restarts -eq 1 ]; then
      echo "-- $(date -u +%T) MariaDB restart (graceful)"
      bash "$ROOT/scripts/db.sh" stop "$WORK/db"
    else
      echo "-- $(date -u +%T) MariaDB restart (kill -9)"
      kill -9 "$(cat "$WORK/db/mysqld.pid")" 2>/dev/null
      sleep 0.5
    fi
    sleep 1
    bash "$ROOT/scripts/db.sh" start "$WORK/db" "$DB_PORT" >/dev/null || { echo "db restart failed" >&2; exit 1; }
  fi
done
db_faults="MariaDB restarts"
[ "$GALERA" = 1 ] && db_faults="Galera node faults"
echo "== faults over: $kills controller kills, $db_restarts $db_faults; waiting for releases"

# Nothing may stay paused for ever: resume what an operator left paused.
resume_paused() {
  local id
  for id in $(sql "SELECT id FROM release_tasks WHERE status='paused'"); do
    api POST "/api/v1/releases/$id/resume"
    [ "$HTTP_STATUS" = 200 ] && echo "$id resume $(date +%s%3N) $(date +%s%3N)" >>"$WORK/actions.log"
  done
  [ "$(sql "SELECT COUNT(*) FROM release_tasks WHERE status='paused'")" = 0 ]
}
check "every paused release could be resumed" wait_until 60 resume_paused

# A release left by a killed controller is taken over once its lease expires.
all_done() {
  [ "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")" = 0 ]
}
check "every release reached an end within 180 s" wait_until 180 all_done

check_eq "sql: every release is success, failed, partial or cancelled" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks WHERE status NOT IN ('success','failed','partial','cancelled') OR finished_at IS NULL")"
check_eq "sql: no node pending or running in a finished release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE status IN ('pending','running')")"
check_eq "sql: counters equal row counts in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE success_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='success') OR failed_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='failed')")"
failing_list=$(IFS=,; echo "${FAILING[*]}")
check_eq "sql: every release not cancelled and without a failing node succeeded" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE status NOT IN ('success','cancelled') AND NOT EXISTS (SELECT 1 FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.node_id IN ($failing_list))")"
failing_nodes="(SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.node_id IN ($failing_list))"
check_eq "sql: every release not cancelled with failing nodes failed, or ended partial within its allowance" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE $failing_nodes > 0 AND status <> 'cancelled' AND status <> IF($failing_nodes > failure_allowance, 'failed', 'partial')")"
check_eq "sql: in failed releases every batch after the failure is skipped" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes n JOIN release_tasks t ON t.id=n.release_task_id AND t.status='failed' JOIN (SELECT release_task_id, MAX(batch) AS fb FROM release_task_nodes WHERE status='failed' GROUP BY release_task_id) f ON f.release_task_id=n.release_task_id WHERE n.batch > f.fb AND n.status <> 'skipped'")"

# Apply-log checks: key = cmdb-<token>-r<release>-n<node>. Column 3: the node is in a
# batch after the one whose failure halted a failed release; column 4: its intent (started_at) in
# epoch ms, 0 when never dispatched.
sql "SELECT CONCAT('cmdb-', t.idempotency_token, '-r', t.id, '-n', n.node_id), n.status, t.status = 'failed' AND n.batch > COALESCE(f.fb, 1000000), COALESCE(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', n.started_at) DIV 1000, 0) FROM release_task_nodes n JOIN release_tasks t ON t.id=n.release_task_id LEFT JOIN (SELECT release_task_id, MAX(batch) AS fb FROM release_task_nodes WHERE status='failed' GROUP BY release_task_id) f ON f.release_task_id=n.release_task_id" >"$WORK/rows.tsv"
grep '^apply ' "$WORK/applies.log" | sed 's/.* key=//' | sort >"$WORK/applied-keys.txt"
applies=$(wc -l <"$WORK/applied-keys.txt")
replays=$(grep -c '^replay ' "$WORK/applies.log")
duplicates=$(uniq -d "$WORK/applied-keys.txt" | wc -l)
check_eq "agents: no (release, node) applied twice ($applies applies, $replays replays)" 0 "$duplicates"
missing=$(awk -F'\t' '$2=="success"{print $1}' "$WORK/rows.tsv" | sort | comm -23 - "$WORK/applied-keys.txt" | wc -l)
check_eq "agents: every success node was applied" 0 "$missing"
later=$(awk -F'\t' '$3=="1"{print $1}' "$WORK/rows.tsv" | sort | comm -12 - "$WORK/applied-keys.txt" | wc -l)
check_eq "agents: no node of a batch after a failure was ever dispatched" 0 "$later"
skipped_applied=$(awk -F'\t' '$2=="skipped"{print $1}' "$WORK/rows.tsv" | sort | comm -12 - "$WORK/applied-keys.txt" | wc -l)
check_eq "agents: no skipped node was applied" 0 "$skipped_applied"
# After a pause or cancel returned (until the next resume was sent), an agent may still
# see a request only for a node whose dispatch had begun before: its intent (started_at)
# is older than the moment the request returned. A node dispatched later is a violation.
awk '
  FNR == 1 { f++ }
  f == 1 { intent[$1] = $4; next }                                  # rows.tsv
  f == 2 { n[$1]++; act[$1, n[$1]] = $2; ret[$1, n[$1]] = $3; sent[$1, n[$1]] = $4; next }
  /^apply / {
    at = 0; key = ""
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^at=/) at = substr($i, 4) + 0
      if ($i ~ /^key=/) key = substr($i, 5)
    }
    split(key, p, "-r"); split(p[2], q, "-n"); id = q[1]
    stopped = 0; since = 0
    for (k = 1; k <= n[id]; k++) {                                  # actions in time order
      if (act[id, k] == "resume" && sent[id, k] <= at) stopped = 0
      else if (act[id, k] != "resume" && ret[id, k] < at) { stopped = 1; since = ret[id, k] }
    }
    if (!stopped) next
    late++
    if (intent[key] >= since) { bad++; print "dispatched after a stop: " key " at " at " (stopped " since ")" > "/dev/stderr" }
  }
  END { printf "%d %d\n", late + 0, bad + 0 }
' FS='\t' "$WORK/rows.tsv" FS=' ' "$WORK/actions.log" FS=' ' "$WORK/applies.log" >"$WORK/stops.txt"
read -r late_applies stop_violations <"$WORK/stops.txt"
actions=$(wc -l <"$WORK/actions.log")
check_eq "agents: no release dispatched a node after a pause or cancel of it returned ($actions actions, $late_applies in-flight applies seen after one)" 0 "$stop_violations"
check_eq "sql: every failed release with auto_rollback has exactly one rollback release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE t.auto_rollback = 1 AND t.status = 'failed' AND (SELECT COUNT(*) FROM release_tasks b WHERE b.rollback_of = t.id) <> 1")"
check_eq "sql: no release that did not fail was rolled back on its own" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks b JOIN release_tasks t ON t.id = b.rollback_of WHERE t.status <> 'failed'")"
rollbacks=$(sql "SELECT COUNT(*) FROM release_tasks WHERE rollback_of IS NOT NULL")
check "agentsim survived" kill -0 "$sim_pid"

nodes_total=$(sql "SELECT COUNT(*) FROM release_task_nodes")
galera_figures=""
if [ "$GALERA" = 1 ]; then
  # Counted in the logs: the controllers' counters restart with each kill.
  galera_figures=" node_switches=$(cat "$WORK"/controller-*.log | grep -c 'is not usable .*; using ') tx_retries=$(cat "$WORK"/controller-*.log | grep -c 'running the transaction again') executor_races=$(cat "$WORK"/controller-*.log | grep -c 'lost a race')"
fi
echo "figures: seed=$SEED galera=$GALERA$galera_figures seconds=$SECONDS_CHAOS kills=$kills db_restarts=$db_restarts releases=$RELEASES nodes=$nodes_total applies=$applies replays=$replays duplicates=$duplicates claims=$(cat "$WORK"/controller-*.log | grep -c "claimed release") takeovers=$(cat "$WORK"/controller-*.log | grep -c "took over release") actions=$actions pauses=$(grep -c ' pause ' "$WORK/actions.log") resumes=$(grep -c ' resume ' "$WORK/actions.log") cancels=$(grep -c ' cancel ' "$WORK/actions.log") late_applies=$late_applies rollbacks=$rollbacks $(sql "SELECT GROUP_CONCAT(CONCAT(status, '=', c) SEPARATOR ' ') FROM (SELECT status, COUNT(*) c FROM release_tasks GROUP BY status) x")"
end_checks
