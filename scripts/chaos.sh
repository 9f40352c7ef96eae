#!/usr/bin/env bash
# Chaos test (issue: nothing lost, nothing applied twice). Starts a private MariaDB,
# the agent simulator and 3 controllers on one database, creates releases of varied
# size (some with a failing node), then for a while kill -9s a random controller at
# random moments and restarts it, and restarts MariaDB twice (once gracefully, once
# with kill -9). Then it waits for every release to end and checks, from the
# simulator's apply log and the database, that nothing was applied twice, nothing was
# lost and nothing is stuck.
#
#   scripts/chaos.sh [--seconds N] [--releases N] [--seed N]
#
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

SECONDS_CHAOS=60
RELEASES=20
SEED=$$
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_CHAOS=$2; shift 2 ;;
    --releases) RELEASES=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--releases N] [--seed N]" >&2; exit 2 ;;
  esac
done
RANDOM=$SEED

begin_test "${CHAOS_DIR:-$ROOT/var/chaos}"
PORT=${CHAOS_AGENT_PORT:-9843}
NODES=60
FAILING=(7 23 41) # node ids whose agent fails every apply
LEASE=5

echo "== chaos: seed $SEED, $SECONDS_CHAOS s of faults, $RELEASES releases, 3 controllers"
DB_PORT=$(free_port)
fresh_db cmdb_chaos "$DB_PORT"
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

values=""
for i in $(seq 1 "$NODES"); do
  values+="${values:+,}('node-$i','127.0.$((1 + (i - 1) / 250)).$((1 + (i - 1) % 250))',$PORT,'online',UTC_TIMESTAMP(3),UTC_TIMESTAMP(3))"
done
sql "INSERT INTO nodes (hostname, ip, agent_port, status, created_at, updated_at) VALUES $values"

# Controllers: slot k runs on a fixed API port; its log is appended across restarts.
declare -a CPID CPORT
start_controller() {
  local k=$1
  env CMDB_LISTEN="127.0.0.1:${CPORT[$k]}" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
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
  if [ $((r % 4)) -eq 0 ]; then # every fourth release includes a failing node
    ids=$(printf '%s\n%s\n' "$ids" "${FAILING[$((r % 3))]}" | sort -nu)
  else
    ids=$(printf '%s\n' "$ids" | grep -vxE "$(IFS='|'; echo "${FAILING[*]}")")
  fi
  list=$(paste -sd, <<<"$ids")
  api POST /api/v1/releases "{\"version\":$((1000 + r)),\"batch_size\":$((1 + RANDOM % 6)),\"node_ids\":[$list]}"
  [ "$HTTP_STATUS" = 201 ] && created=$((created + 1))
done
check_eq "setup: $RELEASES releases created" "$RELEASES" "$created"

echo "== faults for $SECONDS_CHAOS s"
kills=0
db_restarts=0
start=$SECONDS
next_db=$((SECONDS_CHAOS / 3))
while [ $((SECONDS - start)) -lt "$SECONDS_CHAOS" ]; do
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  sleep $((RANDOM % 3))
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
echo "== faults over: $kills controller kills, $db_restarts MariaDB restarts; waiting for releases"

# A release left by a killed controller is taken over once its lease expires.
all_done() {
  [ "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")" = 0 ]
}
check "every release reached an end within 180 s" wait_until 180 all_done

check_eq "sql: every release is success or failed" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks WHERE status NOT IN ('success','failed') OR finished_at IS NULL")"
check_eq "sql: no node pending or running in a finished release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes WHERE status IN ('pending','running')")"
check_eq "sql: counters equal row counts in every release" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE success_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='success') OR failed_nodes <> (SELECT COUNT(*) FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.status='failed')")"
failing_list=$(IFS=,; echo "${FAILING[*]}")
check_eq "sql: every release without a failing node succeeded" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE status <> 'success' AND NOT EXISTS (SELECT 1 FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.node_id IN ($failing_list))")"
check_eq "sql: every release with a failing node failed" 0 \
  "$(sql "SELECT COUNT(*) FROM release_tasks t WHERE status <> 'failed' AND EXISTS (SELECT 1 FROM release_task_nodes n WHERE n.release_task_id=t.id AND n.node_id IN ($failing_list))")"
check_eq "sql: in failed releases every batch after the failure is skipped" 0 \
  "$(sql "SELECT COUNT(*) FROM release_task_nodes n JOIN (SELECT release_task_id, MIN(batch) AS fb FROM release_task_nodes WHERE status='failed' GROUP BY release_task_id) f ON f.release_task_id=n.release_task_id WHERE n.batch > f.fb AND n.status <> 'skipped'")"

# Apply-log checks: key = cmdb-<token>-r<release>-n<node>.
sql "SELECT CONCAT('cmdb-', t.idempotency_token, '-r', t.id, '-n', n.node_id), n.status, n.batch > COALESCE(f.fb, 1000000) FROM release_task_nodes n JOIN release_tasks t ON t.id=n.release_task_id LEFT JOIN (SELECT release_task_id, MIN(batch) AS fb FROM release_task_nodes WHERE status='failed' GROUP BY release_task_id) f ON f.release_task_id=n.release_task_id" >"$WORK/rows.tsv"
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
check "agentsim survived" kill -0 "$sim_pid"

nodes_total=$(sql "SELECT COUNT(*) FROM release_task_nodes")
echo "figures: seed=$SEED seconds=$SECONDS_CHAOS kills=$kills db_restarts=$db_restarts releases=$RELEASES nodes=$nodes_total applies=$applies replays=$replays duplicates=$duplicates claims=$(cat "$WORK"/controller-*.log | grep -c "claimed release")"
end_checks
