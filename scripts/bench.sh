#!/usr/bin/env bash
# bench.sh: the release benchmark behind `make bench`. Starts its own MariaDB, certificates
# and agent simulator under var/bench, measures a large release against the floor
# (build/bench/floor: the same agent requests without a database), a small release, and
# the release API under wrk, then prints one table and writes it as JSON to
# bench/results/<UTC timestamp>.json and bench/results/latest.json.
# A missed target is printed as "miss"; it does not fail the run. See bench/README.md.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
# shellcheck source=scripts/bench_labels.sh
. "$ROOT/scripts/bench_labels.sh"

NODES=2000 BATCH=200 DELAY=0.5
SMALL_NODES=200 SMALL_BATCH=50 SMALL_DELAY=0.2
# The slow agent: the small release against agents that spend this CPU on each request,
# one request at a time (agentsim --request-cpu-ms), like a small real agent.
SLOW_CPU_MS=3
# The large fleet: HUGE_NODES in batches of HUGE_BATCH, and its full GET under wrk.
HUGE_NODES=10000 HUGE_BATCH=500 HUGE_DELAY=0.5
WRK_SECONDS=10 WRK_CONNECTIONS=32
INFLIGHT='' POLL_MIN_MS=50 POLL_MAX_MS=2000 API_THREADS=''
# Many releases at once: CONC_RELEASES of CONC_NODES disjoint nodes each, created together.
CONC_RELEASES=20 CONC_NODES=100 CONC_BATCH=10 CONC_DELAY=1.0
# Slow clients (issue 30): a release of HOSTILE_NODES nodes while HOSTILE_ADDRS addresses
# hold HOSTILE_PER hostile connections each (HOSTILE_NGINX_PER through nginx) for
# HOSTILE_SECONDS (a third half-open, a third trickling a header line every 5 s, a third
# idle keep-alive; each reopened as soon as it is closed), and a well-behaved client on
# 127.0.9.1 timing HOSTILE_PROBES GETs of /health/live and of the release.
HOSTILE_SECONDS=90 HOSTILE_ADDRS=20 HOSTILE_PER=10 HOSTILE_NGINX_PER=100
HOSTILE_NODES=50 HOSTILE_BATCH=5 HOSTILE_DELAY=5 HOSTILE_PROBES=100 HOSTILE_PROBE_MS=250
SECTIONS=big,small,api,concurrent,slow,huge,hostile,labels
# Agents listen here; tests use 9543/9643 and `make run` 9443, so all can run together.
PORT=9743
# Node i listens on 127.0.$((1 + i / 250)).$((1 + i % 250)): that range holds this many.
ADDR_MAX=63750
# civetweb in agentsim starts at most this many worker threads.
SIM_THREADS_MAX=1024

usage() {
  cat <<EOF
usage: scripts/bench.sh [--nodes N] [--batch B] [--delay S] [--small-nodes N]
                        [--small-batch B] [--small-delay S] [--wrk-seconds S]
                        [--wrk-connections C] [--inflight C] [--poll-min-ms M]
                        [--poll-max-ms X] [--api-threads T] [--conc-releases R]
                        [--conc-nodes N] [--conc-batch B] [--conc-delay S]
                        [--slow-cpu-ms MS] [--huge-nodes N] [--huge-batch B]
                        [--huge-delay S] [--hostile-seconds S]
                        [--sections big,small,api,concurrent,slow,huge,hostile,labels]
Defaults: --nodes $NODES --batch $BATCH --delay $DELAY --small-nodes $SMALL_NODES
--small-batch $SMALL_BATCH --small-delay $SMALL_DELAY --wrk-seconds $WRK_SECONDS
--wrk-connections $WRK_CONNECTIONS; --inflight is RELEASE_MAX_INFLIGHT for the controller
and the floor (default max(256, batch)); --poll-min-ms/--poll-max-ms are
RELEASE_POLL_INTERVAL_MS/RELEASE_POLL_MAX_MS for both ($POLL_MIN_MS/$POLL_MAX_MS);
--api-threads is CMDB_API_THREADS under wrk (default: the connection count);
--conc-* shape the concurrent section ($CONC_RELEASES releases of $CONC_NODES nodes,
batch $CONC_BATCH, delay $CONC_DELAY s); --slow-cpu-ms is the CPU each request costs the
slow agents ($SLOW_CPU_MS); --huge-* shape the large fleet ($HUGE_NODES nodes, batch
$HUGE_BATCH, delay $HUGE_DELAY s); --hostile-seconds is how long the hostile clients of
the slow-clients section stay ($HOSTILE_SECONDS); --sections runs only the named sections (api needs
big). A section not run shows n/a.
EOF
}

die() {
  echo "bench: $*" >&2
  exit 1
}

is_uint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_secs() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

while [ $# -gt 0 ]; do
  [ "$1" = --help ] && { usage; exit 0; }
  [ $# -ge 2 ] || { usage >&2; die "$1 needs a value"; }
  case $1 in
  --nodes) NODES=$2 ;;
  --batch) BATCH=$2 ;;
  --delay) DELAY=$2 ;;
  --small-nodes) SMALL_NODES=$2 ;;
  --small-batch) SMALL_BATCH=$2 ;;
  --small-delay) SMALL_DELAY=$2 ;;
  --wrk-seconds) WRK_SECONDS=$2 ;;
  --wrk-connections) WRK_CONNECTIONS=$2 ;;
  --inflight) INFLIGHT=$2 ;;
  --poll-min-ms) POLL_MIN_MS=$2 ;;
  --poll-max-ms) POLL_MAX_MS=$2 ;;
  --api-threads) API_THREADS=$2 ;;
  --conc-releases) CONC_RELEASES=$2 ;;
  --conc-nodes) CONC_NODES=$2 ;;
  --conc-batch) CONC_BATCH=$2 ;;
  --conc-delay) CONC_DELAY=$2 ;;
  --slow-cpu-ms) SLOW_CPU_MS=$2 ;;
  --huge-nodes) HUGE_NODES=$2 ;;
  --huge-batch) HUGE_BATCH=$2 ;;
  --huge-delay) HUGE_DELAY=$2 ;;
  --hostile-seconds) HOSTILE_SECONDS=$2 ;;
  --sections) SECTIONS=$2 ;;
  *) usage >&2; die "unknown option $1" ;;
  esac
  shift 2
done
for v in NODES BATCH SMALL_NODES SMALL_BATCH WRK_SECONDS WRK_CONNECTIONS POLL_MIN_MS \
  POLL_MAX_MS CONC_RELEASES CONC_NODES CONC_BATCH SLOW_CPU_MS HUGE_NODES HUGE_BATCH \
  HOSTILE_SECONDS; do
  is_uint "${!v}" || die "${v,,} must be a positive integer, got '${!v}'"
done
for v in DELAY SMALL_DELAY CONC_DELAY HUGE_DELAY; do
  is_secs "${!v}" || die "${v,,} must be seconds (e.g. 0.5), got '${!v}'"
done
[ -n "$INFLIGHT" ] || INFLIGHT=$((BATCH > 256 ? BATCH : 256))
[ -n "$API_THREADS" ] || API_THREADS=$WRK_CONNECTIONS
is_uint "$INFLIGHT" || die "--inflight must be a positive integer"
is_uint "$API_THREADS" || die "--api-threads must be a positive integer"
[[ ,$SECTIONS, =~ ,api, ]] && ! [[ ,$SECTIONS, =~ ,big, ]] && die "--sections: api needs big"
for s in ${SECTIONS//,/ }; do
  [[ $s =~ ^(big|small|api|concurrent|slow|huge|hostile|labels)$ ]] || die "--sections: unknown section $s"
done
section() { [[ ,$SECTIONS, == *,$1,* ]]; }
for n in "$NODES" "$SMALL_NODES" "$((CONC_RELEASES * CONC_NODES))" "$HUGE_NODES"; do
  [ "$n" -le "$ADDR_MAX" ] || die "$n nodes: the simulated address range holds $ADDR_MAX"
done

FLOOR=$ROOT/build/bench/floor
SLOWCLIENT=$ROOT/build/tests/slowclient
if [ ! -x "$ROOT/bin/cmdb" ] || [ ! -x "$ROOT/bin/agentsim" ] || [ ! -x "$FLOOR" ] ||
  [ ! -x "$SLOWCLIENT" ]; then
  die "build first: make all build/bench/floor build/tests/slowclient (or simply make bench)"
fi

# wrk is the API load generator (Debian package wrk); installed like install-deps.sh does.
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bench: installing wrk"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -qq || ! apt-get install -y -qq wrk >/dev/null; then
      die "apt-get install -y wrk failed"
    fi
  else
    die "wrk is not installed and we are not root; install it with: sudo apt-get install -y wrk"
  fi
fi

WORK=$ROOT/var/bench
RESULTS=$ROOT/bench/results
rm -rf "$WORK"
mkdir -p "$WORK" "$RESULTS"
trap stop_all EXIT
CLK_TCK=$(getconf CLK_TCK)

# calc EXPR: floating-point arithmetic for the figures.
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# sim_threads BATCH: civetweb parks a thread per connection, so twice a batch plus room.
sim_threads() {
  local t=$((2 * $1 + 64))
  [ "$t" -ge 64 ] || t=64
  [ "$t" -le "$SIM_THREADS_MAX" ] || t=$SIM_THREADS_MAX
  echo "$t"
}

# start_sim NODES DELAY BATCH NAME [ARGS...]: agentsim serving nodes 0..NODES-1 on $PORT,
# with more agentsim options in ARGS.
start_sim() {
  local n=$1 delay=$2 threads log=$WORK/$4-agentsim.log extra=("${@:5}")
  threads=$(sim_threads "$3")
  awk -v n="$n" -v port="$PORT" -v d="$delay" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "127.0.%d.%d:%d delay=%s\n", 1 + int(i / 250), 1 + i % 250, port, d
  }' >"$WORK/$4-nodes.txt"
  start_bg "$log" "$ROOT/bin/agentsim" --certs "$CERT_DIR" --nodes "$WORK/$4-nodes.txt" \
    --log "$WORK/$4-applies.log" --threads "$threads" "${extra[@]}"
  SIM_PID=$BG_PID
  SIM_THREADS=$threads
  wait_until 60 grep -q 'agentsim ready' "$log" || { cat "$log" >&2; die "agentsim did not start"; }
}

# register_nodes N: nodes 0..N-1 with ids in the floor's node order, by INSERTs of 1,000
# rows (one argument of the mariadb client must stay under the kernel's 128 KiB).
register_nodes() {
  local first values
  for ((first = 0; first < $1; first += 1000)); do
    values=$(awk -v a="$first" -v n="$1" -v port="$PORT" 'BEGIN {
      for (i = a; i < n && i < a + 1000; i++)
        printf "%s(\x27bench-%05d\x27,\x27127.0.%d.%d\x27,%d,\x27online\x27,%s,%s)",
          (i > a ? "," : ""), i, 1 + int(i / 250), 1 + i % 250, port,
          "UTC_TIMESTAMP(3)", "UTC_TIMESTAMP(3)"
    }')
    sql "INSERT INTO nodes (hostname, ip, agent_port, status, created_at, updated_at)
         VALUES $values" || return 1
  done
}

# proc_figures PID: sets CPU_S (user+system seconds) and RSS_MIB (VmHWM) of PID.
proc_figures() {
  local stat ticks hwm
  stat=$(cat "/proc/$1/stat") || return 1
  # Fields after the ")" that ends the command name: utime and stime are 12th and 13th.
  ticks=$(awk '{ print $12 + $13 }' <<<"${stat##*) }")
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status")
  CPU_S=$(calc "$ticks / $CLK_TCK")
  RSS_MIB=$(calc "$hwm / 1024")
}

# run_release NAME NODES BATCH [BODY]: a release of version $VERSION to every node (or as
# BODY asks), claimed by a fresh controller so that its CPU and peak RSS belong to the
# release. $REGISTER_MORE, when set, runs after the nodes are registered. Sets R_* figures.
run_release() {
  local name=$1 n=$2 batch=$3 body=${4:-} id line limit log
  new_database "cmdb_bench_$name" || die "migrate of cmdb_bench_$name failed"
  register_nodes "$n" || die "registering $n nodes failed"
  [ -z "${REGISTER_MORE:-}" ] || "$REGISTER_MORE" || die "$REGISTER_MORE failed"
  stack_cmdb "$WORK/$name-create.log" RELEASE_EXECUTOR_ENABLED=0 || die "cmdb did not start"
  [ -n "$body" ] || body="{\"version\":$VERSION,\"batch_size\":$batch}"
  api POST /api/v1/releases "$body"
  [ "$HTTP_STATUS" = 201 ] || die "POST /api/v1/releases answered $HTTP_STATUS: $BODY"
  id=$(jq -r .id <<<"$BODY")
  stop_pid "$CMDB_PID"

  log=$WORK/$name-cmdb.log
  stack_cmdb "$log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
    RELEASE_MAX_INFLIGHT="$INFLIGHT" RELEASE_POLL_INTERVAL_MS="$POLL_MIN_MS" \
    RELEASE_POLL_MAX_MS="$POLL_MAX_MS" || die "cmdb did not start"
  # Generous: every batch may take its delay plus ten seconds.
  limit=$(awk -v n="$n" -v b="$batch" -v d="$DELAY" -v s="$SMALL_DELAY" \
    'BEGIN { print int((n / b + 1) * ((d > s ? d : s) + 10) + 60) }')
  wait_until "$limit" grep -q "release $id finished: " "$log" ||
    { tail -20 "$log" >&2; die "release $id did not finish within $limit s"; }
  proc_figures "$CMDB_PID" || die "cannot read /proc/$CMDB_PID"
  curl -s "$API/metrics" >"$WORK/$name-metrics.txt"
  stop_pid "$CMDB_PID"

  line=$(grep "release $id finished: " "$log" | tail -1)
  R_ID=$id
  R_STATUS=$(sed -n 's/.*finished: \([a-z]*\).*/\1/p' <<<"$line")
  R_WALL_MS=$(sed -n 's/.* in \([0-9]*\) ms.*/\1/p' <<<"$line")
  R_WALL_SOURCE=log
  if [ -z "$R_WALL_MS" ]; then
    R_WALL_MS=$(sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) / 1000)
                     FROM release_tasks WHERE id=$id")
    R_WALL_SOURCE=database
  fi
  R_SQL=$(sed -n 's/.*, \([0-9]*\) SQL statements.*/\1/p' <<<"$line")
  if [ -n "$R_SQL" ]; then
    R_SQL_PER_NODE=$(calc "$R_SQL / $n")
  else
    R_SQL=null R_SQL_PER_NODE=null
  fi
  R_CPU_S=$CPU_S R_RSS_MIB=$RSS_MIB
}

# agent_requests: the agent requests the controller at $API made so far (its /metrics).
agent_requests() {
  curl -s "$API/metrics" | awk '/^cmdb_agent_requests_total\{/ { n += $NF } END { print n + 0 }'
}

# run_posted NAME NODES BATCH: a release to every node POSTed to a controller whose
# executor is on, as an operator would. Sets P_* figures: POST to claim and POST to
# terminal (the database's created_at, started_at and finished_at), agent requests per
# node (the controller's metrics; null from a build without /metrics), CPU and RSS.
run_posted() {
  local name=$1 n=$2 batch=$3 id log limit before after
  new_database "cmdb_bench_$name" || die "migrate of cmdb_bench_$name failed"
  register_nodes "$n" || die "registering $n nodes failed"
  log=$WORK/$name-cmdb.log
  stack_cmdb "$log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
    RELEASE_MAX_INFLIGHT="$INFLIGHT" RELEASE_POLL_INTERVAL_MS="$POLL_MIN_MS" \
    RELEASE_POLL_MAX_MS="$POLL_MAX_MS" || die "cmdb did not start"
  before=$(agent_requests)
  api POST /api/v1/releases "{\"version\":$VERSION,\"batch_size\":$batch}"
  [ "$HTTP_STATUS" = 201 ] || die "POST /api/v1/releases answered $HTTP_STATUS: $BODY"
  id=$(jq -r .id <<<"$BODY")
  limit=$(awk -v n="$n" -v b="$batch" 'BEGIN { print int((n / b + 1) * 10 + 60) }')
  wait_until "$limit" grep -q "release $id finished: " "$log" ||
    { tail -20 "$log" >&2; die "release $id did not finish within $limit s"; }
  after=$(agent_requests)
  proc_figures "$CMDB_PID" || die "cannot read /proc/$CMDB_PID"
  P_CPU_S=$CPU_S P_RSS_MIB=$RSS_MIB
  stop_pid "$CMDB_PID"
  P_STATUS=$(sql "SELECT status FROM release_tasks WHERE id=$id")
  P_CLAIM_MS=$(sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, created_at, started_at) / 1000)
                    FROM release_tasks WHERE id=$id")
  P_WALL_MS=$(sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, created_at, finished_at) / 1000)
                   FROM release_tasks WHERE id=$id")
  if [ "$after" -gt 0 ]; then
    P_REQ_PER_NODE=$(calc "($after - $before) / $n")
  else
    P_REQ_PER_NODE=null
  fi
}

# run_floor NODES BATCH: the same requests without a database. Sets F_WALL_MS, F_REQUESTS,
# F_CPU_S and F_RSS_MIB (the agent client's own cost, to set beside the controller's).
run_floor() {
  local out
  out=$("$FLOOR" --certs "$CERT_DIR" --nodes "$1" --batch "$2" --inflight "$INFLIGHT" \
    --port "$PORT" --version $((VERSION + 1000000)) --poll-min-ms "$POLL_MIN_MS" \
    --poll-max-ms "$POLL_MAX_MS") || die "floor failed: $out"
  F_WALL_MS=$(sed -n 's/.*wall_ms=\([0-9]*\).*/\1/p' <<<"$out")
  F_REQUESTS=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
  F_CPU_S=$(calc "$(sed -n 's/.*cpu_ms=\([0-9]*\).*/\1/p' <<<"$out") / 1000")
  F_RSS_MIB=$(calc "$(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' <<<"$out") / 1024")
}

# to_ms VALUE: wrk's "12.34ms" / "850.00us" / "1.20s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n
  }'
}

WRK_HEADER=()
# run_wrk PATH: wrk against $API PATH (with the headers in WRK_HEADER). Sets W_STATUS (one curl's answer), W_RPS, W_P99_MS,
# W_NON2XX (answers that were not 2xx or 3xx).
run_wrk() {
  local out
  W_STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$API$1")
  out=$(wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" --latency \
    "${WRK_HEADER[@]}" "$API$1") ||
    die "wrk failed: $out"
  echo "$out" >>"$WORK/wrk.log"
  W_RPS=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  W_P99_MS=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  W_NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  W_NON2XX=${W_NON2XX:-0}
}

# verdict VALUE OP LIMIT: "ok" or "miss" ("n/a" when VALUE is missing).
verdict() {
  if [ -z "$1" ] || [ "$1" = null ]; then
    echo n/a
    return
  fi
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = (op == "<=") ? v <= l : (op == "<") ? v < l : (op == ">=") ? v >= l : 0
    print ok ? "ok" : "miss"
  }'
}

# run_hostile NAME PER NGINX: one such run on a fresh controller, behind
# deploy/nginx/cmdb-stream.conf when NGINX is 1, without hostile clients when PER is 0.
# Sets H_* figures (H_LIVE and H_GET: the probe's lines).
run_hostile() {
  local name=$1 per=$2 target id hpid=""
  H_HOSTILE=""
  if [ "$3" = 1 ]; then
    stack_proxied "$WORK/$name-cmdb.log" "127.0.0.1:$(free_port)" RELEASE_EXECUTOR_ENABLED=1 \
      RELEASE_EXECUTOR_INTERVAL=1 || die "cmdb did not start"
    stack_nginx "$WORK/$name-nginx" "$CMDB_PORT" || die "nginx did not start"
    target=127.0.0.1:$NGINX_PORT
  else
    stack_cmdb "$WORK/$name-cmdb.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 ||
      die "cmdb did not start"
    target=${API#http://}
  fi
  API=http://$target
  if [ "$per" -gt 0 ]; then
    "$SLOWCLIENT" hostile --to "$target" --from 127.0.8.1 --addresses "$HOSTILE_ADDRS" \
      --per-address "$per" --seconds "$HOSTILE_SECONDS" >"$WORK/$name-hostile.out" &
    hpid=$!
    sleep 2
  fi
  VERSION=$((VERSION + 1))
  api POST /api/v1/releases "{\"version\":$VERSION,\"batch_size\":$HOSTILE_BATCH}"
  [ "$HTTP_STATUS" = 201 ] || die "POST /api/v1/releases answered $HTTP_STATUS: $BODY"
  id=$(jq -r .id <<<"$BODY")
  "$SLOWCLIENT" probe --to "$target" --from 127.0.9.1 --count "$HOSTILE_PROBES" \
    --interval-ms "$HOSTILE_PROBE_MS" --timeout-s 10 --path /health/live \
    --path "/api/v1/releases/$id" >"$WORK/$name-probe.out"
  finished() { [ "$(sql "SELECT finished_at IS NOT NULL FROM release_tasks WHERE id=$id")" = 1 ]; }
  wait_until 600 finished || die "release $id did not finish"
  proc_figures "$CMDB_PID" || die "cannot read /proc/$CMDB_PID"
  if [ -n "$hpid" ]; then
    wait "$hpid"
    H_HOSTILE=$(cat "$WORK/$name-hostile.out")
  fi
  [ "$3" = 1 ] && stop_pid "$NGINX_PID" && NGINX_PID=
  stop_pid "$CMDB_PID"
  H_STATUS=$(sql "SELECT status FROM release_tasks WHERE id=$id")
  H_WALL=$(sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, created_at, finished_at) / 1000)
                FROM release_tasks WHERE id=$id")
  H_CPU=$CPU_S H_RSS=$RSS_MIB
  H_LIVE=$(grep '^probe /health/live ' "$WORK/$name-probe.out")
  H_GET=$(grep '^probe /api/v1/releases/' "$WORK/$name-probe.out")
}

# hfield NAME LINE: NAME=value of a line of slowclient's, as JSON (null when absent).
hfield() { local v; v=$(sed -n "s/.*[ ]$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"); echo "${v:-null}"; }

# hostile_json: the figures of the last run_hostile as a JSON object.
hostile_json() {
  jq -n --arg status "$H_STATUS" --argjson wall "$H_WALL" --argjson cpu "$H_CPU" \
    --argjson rss "$H_RSS" --argjson lok "$(hfield ok "$H_LIVE")" \
    --argjson lp50 "$(hfield p50_ms "$H_LIVE")" --argjson lp99 "$(hfield p99_ms "$H_LIVE")" \
    --argjson gok "$(hfield ok "$H_GET")" --argjson gp50 "$(hfield p50_ms "$H_GET")" \
    --argjson gp99 "$(hfield p99_ms "$H_GET")" \
    --argjson hopen "$(hfield opened "${H_HOSTILE:-}")" \
    --argjson hclosed "$(hfield closed_by_server "${H_HOSTILE:-}")" \
    '{ status: $status, wall_ms: $wall, controller_cpu_s: $cpu, controller_peak_rss_mib: $rss,
       live: { ok: $lok, p50_ms: $lp50, p99_ms: $lp99 },
       get_release: { ok: $gok, p50_ms: $gp50, p99_ms: $gp99 },
       hostile_connections_opened: $hopen, hostile_closed_by_server: $hclosed }'
}

# An unused version per run keeps agent Idempotency-Keys fresh (agentsim is new anyway).
VERSION=$(date +%s)

echo "== set-up: MariaDB"
stack_db "$WORK/db" >/dev/null || die "MariaDB did not start"

# Figures of a section that does not run stay null (shown as n/a).
for v in BIG_ID BIG_STATUS BIG_WALL BIG_WALL_SOURCE BIG_SQL BIG_SQL_PER_NODE BIG_CPU BIG_RSS \
  BIG_FLOOR BIG_FLOOR_REQ BIG_FLOOR_CPU BIG_FLOOR_RSS BIG_IDEAL BIG_RATIO BIG_SIM_THREADS \
  SMALL_STATUS SMALL_WALL SMALL_WALL_SOURCE SMALL_SQL SMALL_SQL_PER_NODE SMALL_CPU SMALL_RSS \
  SMALL_FLOOR SMALL_FLOOR_REQ SMALL_FLOOR_CPU SMALL_FLOOR_RSS SMALL_RATIO SMALL_SIM_THREADS \
  FULL_STATUS FULL_RPS FULL_P99 FULL_NON2XX FULL_BYTES SUM_STATUS SUM_RPS SUM_P99 SUM_NON2XX \
  SUM_BYTES WRK_THREADS C_ALONE_MS C_TOGETHER_MS C_RATIO C_STATUSES C_CPU C_RSS C_INFLIGHT \
  POST_STATUS POST_CLAIM POST_WALL POST_REQ SMALL_LIMIT SLOW_STATUS SLOW_WALL SLOW_REQ SLOW_FLOOR \
  SLOW_FLOOR_REQ SLOW_RATIO HUGE_ID HUGE_STATUS HUGE_WALL HUGE_CPU HUGE_RSS HUGE_SQL_PER_NODE \
  HUGE_FLOOR HUGE_FLOOR_CPU HUGE_RATIO HUGE_GET_STATUS HUGE_GET_RPS HUGE_GET_P99 HUGE_GET_NON2XX \
  HUGE_GET_BYTES HUGE_GET_GZ_BYTES LB_IMPORT LB_IMPORT_WORST LB_DRY LB_DRY_WORST LB_P99 \
  LB_P99_WORST LB_CPU LB_CPU_WORST LB_RATIO LB_RATIO_WORST LB_REQUESTS LB_PICKED LB_GROUPS \
  LB_GET_STATUS LB_REL_BATCHES LB_DBCPU LB_DBCPU_WORST LB_PLAIN LB_PLAIN_WORST; do
  printf -v "$v" null
done

if section big; then
  echo "== release of $NODES nodes, batch $BATCH, agent delay ${DELAY} s, then the floor"
  # agentsim mints each node's certificate from the dev CA itself; gen.sh's multi-address
  # agent.pem is not used here, so a handful of addresses is enough for it.
  stack_certs "$WORK/certs-big" 4
  start_sim "$NODES" "$DELAY" "$BATCH" big
  BIG_SIM_THREADS=$SIM_THREADS
  run_release big "$NODES" "$BATCH"
  BIG_ID=$R_ID BIG_STATUS=$R_STATUS BIG_WALL=$R_WALL_MS BIG_WALL_SOURCE=$R_WALL_SOURCE
  BIG_SQL=$R_SQL BIG_SQL_PER_NODE=$R_SQL_PER_NODE BIG_CPU=$R_CPU_S BIG_RSS=$R_RSS_MIB
  run_floor "$NODES" "$BATCH"
  BIG_FLOOR=$F_WALL_MS BIG_FLOOR_REQ=$F_REQUESTS BIG_FLOOR_CPU=$F_CPU_S BIG_FLOOR_RSS=$F_RSS_MIB
  BIG_IDEAL=$(awk -v n="$NODES" -v b="$BATCH" -v d="$DELAY" \
    'BEGIN { printf "%d", int((n + b - 1) / b) * d * 1000 }')
  BIG_RATIO=$(calc "$BIG_WALL / $BIG_FLOOR")
  stop_pid "$SIM_PID"

fi

if section small; then
  echo "== release of $SMALL_NODES nodes, batch $SMALL_BATCH, agent delay ${SMALL_DELAY} s"
  stack_certs "$WORK/certs-small" 4
  start_sim "$SMALL_NODES" "$SMALL_DELAY" "$SMALL_BATCH" small
  SMALL_SIM_THREADS=$SIM_THREADS
  VERSION=$((VERSION + 1))
  run_release small "$SMALL_NODES" "$SMALL_BATCH"
  SMALL_STATUS=$R_STATUS SMALL_WALL=$R_WALL_MS SMALL_WALL_SOURCE=$R_WALL_SOURCE
  SMALL_SQL=$R_SQL SMALL_SQL_PER_NODE=$R_SQL_PER_NODE SMALL_CPU=$R_CPU_S SMALL_RSS=$R_RSS_MIB
  run_floor "$SMALL_NODES" "$SMALL_BATCH"
  SMALL_FLOOR=$F_WALL_MS SMALL_FLOOR_REQ=$F_REQUESTS SMALL_FLOOR_CPU=$F_CPU_S
  SMALL_FLOOR_RSS=$F_RSS_MIB
  SMALL_RATIO=$(calc "$SMALL_WALL / $SMALL_FLOOR")
  # The same release POSTed to a running controller, as an operator would: start latency,
  # POST to terminal, agent requests per node.
  VERSION=$((VERSION + 5))
  run_posted small-posted "$SMALL_NODES" "$SMALL_BATCH"
  POST_STATUS=$P_STATUS POST_CLAIM=$P_CLAIM_MS POST_WALL=$P_WALL_MS POST_REQ=$P_REQ_PER_NODE
  SMALL_LIMIT=$(awk -v n="$SMALL_NODES" -v b="$SMALL_BATCH" -v d="$SMALL_DELAY" \
    'BEGIN { printf "%d", int((n + b - 1) / b) * d * 1000 }')
  stop_pid "$SIM_PID"

fi

if section api; then
  echo "== API: wrk, $WRK_CONNECTIONS connections, ${WRK_SECONDS} s, release $BIG_ID ($NODES nodes)"
  export CMDB_DB_NAME=cmdb_bench_big
  stack_cmdb "$WORK/api-cmdb.log" RELEASE_EXECUTOR_ENABLED=0 CMDB_API_THREADS="$API_THREADS" ||
    die "cmdb did not start"
  WRK_THREADS=$(nproc)
  [ "$WRK_THREADS" -le "$WRK_CONNECTIONS" ] || WRK_THREADS=$WRK_CONNECTIONS
  run_wrk "/api/v1/releases/$BIG_ID"
  FULL_STATUS=$W_STATUS FULL_RPS=$W_RPS FULL_P99=$W_P99_MS FULL_NON2XX=$W_NON2XX
  FULL_BYTES=$(curl -s "$API/api/v1/releases/$BIG_ID" | wc -c)
  run_wrk "/api/v1/releases/$BIG_ID?view=summary"
  SUM_STATUS=$W_STATUS SUM_RPS=$W_RPS SUM_P99=$W_P99_MS SUM_NON2XX=$W_NON2XX
  SUM_BYTES=$(curl -s "$API/api/v1/releases/$BIG_ID?view=summary" | wc -c)
  stop_pid "$CMDB_PID"

fi

if section slow; then
  echo "== release of $SMALL_NODES nodes, batch $SMALL_BATCH, delay ${SMALL_DELAY} s, agents spending ${SLOW_CPU_MS} ms of CPU a request"
  stack_certs "$WORK/certs-slow" 4
  start_sim "$SMALL_NODES" "$SMALL_DELAY" "$SMALL_BATCH" slow --request-cpu-ms "$SLOW_CPU_MS"
  VERSION=$((VERSION + 3))
  run_posted slow "$SMALL_NODES" "$SMALL_BATCH"
  SLOW_STATUS=$P_STATUS SLOW_WALL=$P_WALL_MS SLOW_REQ=$P_REQ_PER_NODE
  run_floor "$SMALL_NODES" "$SMALL_BATCH"
  SLOW_FLOOR=$F_WALL_MS SLOW_FLOOR_REQ=$(calc "$F_REQUESTS / $SMALL_NODES")
  SLOW_RATIO=$(calc "$SLOW_WALL / $SLOW_FLOOR")
  stop_pid "$SIM_PID"
fi

if section huge; then
  echo "== release of $HUGE_NODES nodes, batch $HUGE_BATCH, agent delay ${HUGE_DELAY} s, then the floor and the API"
  stack_certs "$WORK/certs-huge" 4
  start_sim "$HUGE_NODES" "$HUGE_DELAY" "$HUGE_BATCH" huge
  VERSION=$((VERSION + 4))
  # RELEASE_MAX_INFLIGHT as configured (256 by default), not the batch: at this size each
  # connection in flight costs some 150 KB, and more of them do not make it faster.
  run_release huge "$HUGE_NODES" "$HUGE_BATCH"
  HUGE_ID=$R_ID HUGE_STATUS=$R_STATUS HUGE_WALL=$R_WALL_MS HUGE_CPU=$R_CPU_S HUGE_RSS=$R_RSS_MIB
  HUGE_SQL_PER_NODE=$R_SQL_PER_NODE
  run_floor "$HUGE_NODES" "$HUGE_BATCH"
  HUGE_FLOOR=$F_WALL_MS HUGE_FLOOR_CPU=$F_CPU_S
  HUGE_RATIO=$(calc "$HUGE_WALL / $HUGE_FLOOR")
  stop_pid "$SIM_PID"
  export CMDB_DB_NAME=cmdb_bench_huge
  stack_cmdb "$WORK/huge-api.log" RELEASE_EXECUTOR_ENABLED=0 CMDB_API_THREADS="$API_THREADS" ||
    die "cmdb did not start"
  WRK_THREADS=$(nproc)
  [ "$WRK_THREADS" -le "$WRK_CONNECTIONS" ] || WRK_THREADS=$WRK_CONNECTIONS
  WRK_HEADER=(-H "Accept-Encoding: gzip")
  run_wrk "/api/v1/releases/$HUGE_ID"
  WRK_HEADER=()
  HUGE_GET_STATUS=$W_STATUS HUGE_GET_RPS=$W_RPS HUGE_GET_P99=$W_P99_MS HUGE_GET_NON2XX=$W_NON2XX
  HUGE_GET_BYTES=$(curl -s "$API/api/v1/releases/$HUGE_ID" | wc -c)
  HUGE_GET_GZ_BYTES=$(curl -s -H 'Accept-Encoding: gzip' "$API/api/v1/releases/$HUGE_ID" | wc -c)
  stop_pid "$CMDB_PID"
fi

# run_concurrent: one release of CONC_NODES nodes alone, then CONC_RELEASES releases of
# as many disjoint nodes created together, each time timed in the database from the
# first started_at to the last finished_at.
run_concurrent() {
  local total=$((CONC_RELEASES * CONC_NODES)) k list log ids=()
  C_INFLIGHT=$((CONC_RELEASES * CONC_BATCH > 256 ? CONC_RELEASES * CONC_BATCH : 256))
  stack_certs "$WORK/certs-conc" 4
  start_sim "$total" "$CONC_DELAY" "$((CONC_RELEASES * CONC_BATCH))" conc
  new_database cmdb_bench_conc || die "migrate of cmdb_bench_conc failed"
  register_nodes "$total" || die "registering $total nodes failed"
  # ids k*N+1 .. (k+1)*N for release k; node ids follow registration order.
  list_of() { seq -s, $(($1 * CONC_NODES + 1)) $((($1 + 1) * CONC_NODES)); }
  conc_cmdb() { # conc_cmdb LOG: an executor sized for the whole set
    stack_cmdb "$1" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 \
      RELEASE_MAX_ACTIVE="$CONC_RELEASES" RELEASE_MAX_INFLIGHT="$C_INFLIGHT" \
      RELEASE_POLL_INTERVAL_MS="$POLL_MIN_MS" RELEASE_POLL_MAX_MS="$POLL_MAX_MS" ||
      die "cmdb did not start"
  }
  all_finished() { [ "$(sql "SELECT COUNT(*) FROM release_tasks WHERE finished_at IS NULL")" = 0 ]; }
  span_ms() { sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, MIN(started_at), MAX(finished_at)) / 1000)
                   FROM release_tasks WHERE id $1"; }

  stack_cmdb "$WORK/conc-create.log" RELEASE_EXECUTOR_ENABLED=0 || die "cmdb did not start"
  api POST /api/v1/releases "{\"version\":$VERSION,\"batch_size\":$CONC_BATCH,\"node_ids\":[$(list_of 0)]}"
  [ "$HTTP_STATUS" = 201 ] || die "POST /api/v1/releases answered $HTTP_STATUS: $BODY"
  stop_pid "$CMDB_PID"
  conc_cmdb "$WORK/conc-alone.log"
  wait_until 600 all_finished || die "the lone release did not finish"
  stop_pid "$CMDB_PID"
  C_ALONE_MS=$(span_ms "= 1")

  stack_cmdb "$WORK/conc-create.log" RELEASE_EXECUTOR_ENABLED=0 || die "cmdb did not start"
  for ((k = 0; k < CONC_RELEASES; k++)); do
    api POST /api/v1/releases "{\"version\":$((VERSION + 1)),\"batch_size\":$CONC_BATCH,\"node_ids\":[$(list_of "$k")]}"
    [ "$HTTP_STATUS" = 201 ] || die "POST /api/v1/releases answered $HTTP_STATUS: $BODY"
  done
  stop_pid "$CMDB_PID"
  conc_cmdb "$WORK/conc-together.log"
  wait_until 600 all_finished || die "the $CONC_RELEASES releases did not finish"
  proc_figures "$CMDB_PID" || die "cannot read /proc/$CMDB_PID"
  C_CPU=$CPU_S C_RSS=$RSS_MIB
  stop_pid "$CMDB_PID"
  C_TOGETHER_MS=$(span_ms "> 1")
  C_STATUSES=$(sql "SELECT GROUP_CONCAT(DISTINCT status) FROM release_tasks")
  C_RATIO=$(calc "$C_TOGETHER_MS / $C_ALONE_MS")
  stop_pid "$SIM_PID"
}

if section labels; then
  echo "== labels: $LABELS_NODES nodes imported, a selector's dry run and pages, $LABELS_RELEASE nodes by selector zone by zone"
  run_labels
fi

if section concurrent; then
  echo "== $CONC_RELEASES releases of $CONC_NODES nodes (batch $CONC_BATCH, delay ${CONC_DELAY} s): one alone, then all together"
  VERSION=$((VERSION + 2))
  run_concurrent
fi

H_QUIET=null H_DIRECT=null H_NGINX=null
if section hostile; then
  echo "== slow clients: a release of $HOSTILE_NODES nodes (batch $HOSTILE_BATCH, delay ${HOSTILE_DELAY} s) alone, under $((HOSTILE_ADDRS * HOSTILE_PER)) hostile connections, and under $((HOSTILE_ADDRS * HOSTILE_NGINX_PER)) through nginx (${HOSTILE_SECONDS} s each)"
  stack_certs "$WORK/certs-hostile" 4
  start_sim "$HOSTILE_NODES" "$HOSTILE_DELAY" "$HOSTILE_BATCH" hostile
  new_database cmdb_bench_hostile || die "migrate of cmdb_bench_hostile failed"
  register_nodes "$HOSTILE_NODES" || die "registering $HOSTILE_NODES nodes failed"
  VERSION=$((VERSION + 10))
  run_hostile hostile-quiet 0 0
  H_QUIET=$(hostile_json)
  run_hostile hostile-direct "$HOSTILE_PER" 0
  H_DIRECT=$(hostile_json)
  run_hostile hostile-nginx "$HOSTILE_NGINX_PER" 1
  H_NGINX=$(hostile_json)
  stop_pid "$SIM_PID"
fi

V_RATIO=$(verdict "$BIG_RATIO" "<=" 1.15)
V_SMALL=$(verdict "$SMALL_WALL" "<" 1000)
V_SQL=$(verdict "$BIG_SQL_PER_NODE" "<=" 4)
V_RSS=$(verdict "$BIG_RSS" "<" 64)
V_FULL_RPS=$(verdict "$FULL_RPS" ">=" 500)
V_FULL_P99=$(verdict "$FULL_P99" "<" 50)
V_SUM_RPS=$(verdict "$SUM_RPS" ">=" 5000)
V_SUM_P99=$(verdict "$SUM_P99" "<" 50)
V_CONC=$(verdict "$C_RATIO" "<=" 1.5)
V_CLAIM=$(verdict "$POST_CLAIM" "<=" 50)
V_POST=$(verdict "$POST_WALL" "<=" 1000)
V_REQ=$(verdict "$POST_REQ" "<=" 4)
V_SLOW=$(verdict "$SLOW_RATIO" "<=" 1.1)
V_HUGE=$(verdict "$HUGE_WALL" "<=" 40000)
V_HUGE_RSS=$(verdict "$HUGE_RSS" "<=" 96)
V_HUGE_RPS=$(verdict "$HUGE_GET_RPS" ">=" 300)
V_HUGE_P99=$(verdict "$HUGE_GET_P99" "<" 250)
if section huge && { [ "$HUGE_GET_STATUS" != 200 ] || [ "$HUGE_GET_NON2XX" != 0 ]; }; then
  V_HUGE_RPS="miss (HTTP $HUGE_GET_STATUS)" V_HUGE_P99="miss (HTTP $HUGE_GET_STATUS)"
fi
# Answers that are not 200 are no throughput: such a figure is flagged, not passed.
if section api && { [ "$FULL_STATUS" != 200 ] || [ "$FULL_NON2XX" != 0 ]; }; then
  V_FULL_RPS="miss (HTTP $FULL_STATUS)" V_FULL_P99="miss (HTTP $FULL_STATUS)"
fi
if section api && { [ "$SUM_STATUS" != 200 ] || [ "$SUM_NON2XX" != 0 ]; }; then
  V_SUM_RPS="miss (HTTP $SUM_STATUS)" V_SUM_P99="miss (HTTP $SUM_STATUS)"
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS/$STAMP.json
nul() { [ -n "$1" ] && echo "$1" || echo null; }
jq -n \
  --arg stamp "$STAMP" --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" \
  --arg dirty "$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo yes)" \
  --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
  --argjson nproc "$(nproc)" \
  --argjson memkb "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
  --arg kernel "$(uname -r)" \
  --argjson nodes "$NODES" --argjson batch "$BATCH" --argjson delay "$DELAY" \
  --argjson snodes "$SMALL_NODES" --argjson sbatch "$SMALL_BATCH" --argjson sdelay "$SMALL_DELAY" \
  --argjson inflight "$INFLIGHT" --argjson pmin "$POLL_MIN_MS" --argjson pmax "$POLL_MAX_MS" \
  --argjson wsec "$WRK_SECONDS" --argjson wconn "$WRK_CONNECTIONS" \
  --argjson wthr "$WRK_THREADS" --argjson athr "$API_THREADS" \
  --argjson bsim "$BIG_SIM_THREADS" --argjson ssim "$SMALL_SIM_THREADS" \
  --arg bstatus "$BIG_STATUS" --argjson bwall "$(nul "$BIG_WALL")" --arg bsrc "$BIG_WALL_SOURCE" \
  --argjson bcpu "$BIG_CPU" --argjson brss "$BIG_RSS" --argjson bsql "$BIG_SQL" \
  --argjson bsqlpn "$BIG_SQL_PER_NODE" --argjson bfloor "$BIG_FLOOR" \
  --argjson bfreq "$BIG_FLOOR_REQ" --argjson bfcpu "$BIG_FLOOR_CPU" \
  --argjson bfrss "$BIG_FLOOR_RSS" --argjson bideal "$BIG_IDEAL" --argjson bratio "$BIG_RATIO" \
  --arg sstatus "$SMALL_STATUS" --argjson swall "$(nul "$SMALL_WALL")" \
  --arg ssrc "$SMALL_WALL_SOURCE" --argjson scpu "$SMALL_CPU" --argjson srss "$SMALL_RSS" \
  --argjson ssql "$SMALL_SQL" --argjson ssqlpn "$SMALL_SQL_PER_NODE" \
  --argjson sfloor "$SMALL_FLOOR" --argjson sfreq "$SMALL_FLOOR_REQ" \
  --argjson sfcpu "$SMALL_FLOOR_CPU" --argjson sfrss "$SMALL_FLOOR_RSS" \
  --argjson sratio "$SMALL_RATIO" \
  --argjson fstatus "$FULL_STATUS" --argjson frps "$(nul "$FULL_RPS")" \
  --argjson fp99 "$(nul "$FULL_P99")" --argjson fnon "$FULL_NON2XX" --argjson fbytes "$FULL_BYTES" \
  --argjson ustatus "$SUM_STATUS" --argjson urps "$(nul "$SUM_RPS")" \
  --argjson up99 "$(nul "$SUM_P99")" --argjson unon "$SUM_NON2XX" --argjson ubytes "$SUM_BYTES" \
  --arg vratio "$V_RATIO" --arg vsmall "$V_SMALL" --arg vsql "$V_SQL" --arg vrss "$V_RSS" \
  --arg vfrps "$V_FULL_RPS" --arg vfp99 "$V_FULL_P99" --arg vurps "$V_SUM_RPS" \
  --arg vup99 "$V_SUM_P99" \
  --argjson creleases "$CONC_RELEASES" --argjson cnodes "$CONC_NODES" \
  --argjson cbatch "$CONC_BATCH" --argjson cdelay "$CONC_DELAY" --argjson cinflight "$C_INFLIGHT" \
  --argjson calone "$C_ALONE_MS" --argjson ctogether "$C_TOGETHER_MS" \
  --argjson cratio "$C_RATIO" --arg cstatuses "$C_STATUSES" --argjson ccpu "$C_CPU" \
  --argjson crss "$C_RSS" --arg vconc "$V_CONC" --arg sections "$SECTIONS" \
  '{
    timestamp: $stamp, commit: $commit, uncommitted_changes: ($dirty == "yes"),
    machine: { nproc: $nproc, cpu_model: $cpu, mem_total_kib: $memkb, kernel: $kernel },
    sections: $sections,
    params: { inflight: $inflight, poll_min_ms: $pmin, poll_max_ms: $pmax,
              wrk_seconds: $wsec, wrk_connections: $wconn, wrk_threads: $wthr,
              api_threads: $athr },
    release: { nodes: $nodes, batch: $batch, agent_delay_s: $delay, status: $bstatus,
               wall_ms: $bwall, wall_source: $bsrc, controller_cpu_s: $bcpu,
               controller_peak_rss_mib: $brss, sql_statements: $bsql,
               sql_statements_per_node: $bsqlpn, agentsim_threads: $bsim },
    floor: { wall_ms: $bfloor, requests: $bfreq, cpu_s: $bfcpu, peak_rss_mib: $bfrss,
             ideal_wall_ms: $bideal },
    release_over_floor: $bratio,
    small_release: { nodes: $snodes, batch: $sbatch, agent_delay_s: $sdelay, status: $sstatus,
                     wall_ms: $swall, wall_source: $ssrc, controller_cpu_s: $scpu,
                     controller_peak_rss_mib: $srss, sql_statements: $ssql,
                     sql_statements_per_node: $ssqlpn, floor_wall_ms: $sfloor,
                     floor_requests: $sfreq, floor_cpu_s: $sfcpu, floor_peak_rss_mib: $sfrss,
                     release_over_floor: $sratio,
                     agentsim_threads: $ssim, ansible_reference_s: 97.8 },
    api: {
      full: { http_status: $fstatus, requests_per_s: $frps, p99_ms: $fp99,
              non_2xx: $fnon, body_bytes: $fbytes },
      summary: { http_status: $ustatus, requests_per_s: $urps, p99_ms: $up99,
                 non_2xx: $unon, body_bytes: $ubytes }
    },
    concurrent: { releases: $creleases, nodes_each: $cnodes, batch: $cbatch,
                  agent_delay_s: $cdelay, inflight: $cinflight, max_active: $creleases,
                  alone_wall_ms: $calone, together_wall_ms: $ctogether,
                  together_over_alone: $cratio, statuses: $cstatuses,
                  controller_cpu_s: $ccpu, controller_peak_rss_mib: $crss },
    targets: {
      concurrent_together_over_alone_max: 1.5,
      release_over_floor_max: 1.15, small_release_wall_ms_below: 1000,
      sql_statements_per_node_max: 4, peak_rss_mib_below: 64,
      full_get_rps_min: 500, summary_get_rps_min: 5000, p99_ms_below: 50
    },
    verdicts: { release_over_floor: $vratio, small_release_wall: $vsmall,
                sql_statements_per_node: $vsql, peak_rss: $vrss,
                full_get_rps: $vfrps, full_get_p99: $vfp99,
                summary_get_rps: $vurps, summary_get_p99: $vup99,
                concurrent: $vconc }
  }' >"$OUT" || die "could not write $OUT"
# The figures of issue 11 (start, POST to terminal, agent load, slow agents, a large fleet).
jq --argjson pclaim "$(nul "$POST_CLAIM")" --argjson pwall "$(nul "$POST_WALL")" \
  --argjson preq "$(nul "$POST_REQ")" --arg pstatus "$POST_STATUS" \
  --argjson plimit "$(nul "$SMALL_LIMIT")" \
  --argjson scpu "$SLOW_CPU_MS" --arg sstatus "$SLOW_STATUS" --argjson swall "$(nul "$SLOW_WALL")" \
  --argjson sreq "$(nul "$SLOW_REQ")" --argjson sfloor "$(nul "$SLOW_FLOOR")" \
  --argjson sfreq "$(nul "$SLOW_FLOOR_REQ")" --argjson sratio "$(nul "$SLOW_RATIO")" \
  --argjson hnodes "$HUGE_NODES" --argjson hbatch "$HUGE_BATCH" --argjson hdelay "$HUGE_DELAY" \
  --arg hstatus "$HUGE_STATUS" --argjson hwall "$(nul "$HUGE_WALL")" \
  --argjson hcpu "$(nul "$HUGE_CPU")" --argjson hrss "$(nul "$HUGE_RSS")" \
  --argjson hsql "$(nul "$HUGE_SQL_PER_NODE")" --argjson hfloor "$(nul "$HUGE_FLOOR")" \
  --argjson hfcpu "$(nul "$HUGE_FLOOR_CPU")" --argjson hratio "$(nul "$HUGE_RATIO")" \
  --argjson hgrps "$(nul "$HUGE_GET_RPS")" --argjson hgp99 "$(nul "$HUGE_GET_P99")" \
  --argjson hgbytes "$(nul "$HUGE_GET_BYTES")" --argjson hggz "$(nul "$HUGE_GET_GZ_BYTES")" \
  --arg vclaim "$V_CLAIM" --arg vpost "$V_POST" --arg vreq "$V_REQ" --arg vslow "$V_SLOW" \
  --arg vhuge "$V_HUGE" --arg vhrss "$V_HUGE_RSS" --arg vhrps "$V_HUGE_RPS" --arg vhp99 "$V_HUGE_P99" \
  '. + {
    posted_small_release: { status: $pstatus, post_to_claim_ms: $pclaim,
                            post_to_terminal_ms: $pwall, limit_ms: $plimit,
                            agent_requests_per_node: $preq },
    slow_agents: { request_cpu_ms: $scpu, status: $sstatus, post_to_terminal_ms: $swall,
                   agent_requests_per_node: $sreq, floor_wall_ms: $sfloor,
                   floor_requests_per_node: $sfreq, release_over_floor: $sratio },
    huge_release: { nodes: $hnodes, batch: $hbatch, agent_delay_s: $hdelay, status: $hstatus,
                    wall_ms: $hwall, controller_cpu_s: $hcpu, controller_peak_rss_mib: $hrss,
                    sql_statements_per_node: $hsql, floor_wall_ms: $hfloor,
                    floor_cpu_s: $hfcpu, release_over_floor: $hratio,
                    full_get_gzip: { requests_per_s: $hgrps, p99_ms: $hgp99,
                                     body_bytes: $hgbytes, gzip_bytes: $hggz } }
  } | .targets += { post_to_claim_ms_max: 50, posted_small_release_ms_max: 1000,
                    agent_requests_per_node_max: 4, slow_over_floor_max: 1.1,
                    huge_wall_ms_max: 40000, huge_rss_mib_max: 96,
                    huge_get_rps_min: 300, huge_get_p99_ms_below: 250 }
    | .verdicts += { post_to_claim: $vclaim, posted_small_release: $vpost,
                     agent_requests_per_node: $vreq, slow_agents: $vslow, huge_wall: $vhuge,
                     huge_rss: $vhrss, huge_get_rps: $vhrps, huge_get_p99: $vhp99 }' \
  "$OUT" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT" || die "could not write $OUT"
# The figures of issue 30 (slow clients), against the quiet run's.
jq --argjson quiet "$H_QUIET" --argjson direct "$H_DIRECT" --argjson nginx "$H_NGINX" \
  --argjson secs "$HOSTILE_SECONDS" --argjson addrs "$HOSTILE_ADDRS" \
  --argjson per "$HOSTILE_PER" --argjson nper "$HOSTILE_NGINX_PER" \
  --argjson nodes "$HOSTILE_NODES" --argjson batch "$HOSTILE_BATCH" \
  --argjson delay "$HOSTILE_DELAY" --argjson probes "$HOSTILE_PROBES" '
  def judged($r): if $r == null or $quiet == null then null else $r + {
      verdict_p99: (if $r.live.ok == $probes and $r.get_release.ok == $probes
                       and $r.live.p99_ms < 1000 and $r.get_release.p99_ms < 1000
                    then "ok" else "miss" end),
      wall_over_quiet: ($r.wall_ms / $quiet.wall_ms),
      rss_over_quiet_mib: ($r.controller_peak_rss_mib - $quiet.controller_peak_rss_mib),
      verdict_release: (if $r.status == "success" and $r.wall_ms <= 1.1 * $quiet.wall_ms
                        then "ok" else "miss" end),
      verdict_rss: (if $r.controller_peak_rss_mib - $quiet.controller_peak_rss_mib <= 32
                    then "ok" else "miss" end) } end;
  . + { slow_clients: { hostile_seconds: $secs, addresses: $addrs,
                        connections: ($addrs * $per), connections_via_nginx: ($addrs * $nper),
                        nodes: $nodes, batch: $batch, agent_delay_s: $delay, probes: $probes,
                        quiet: $quiet, direct: judged($direct), nginx: judged($nginx) } }
  | .targets += { slow_clients_p99_ms_below: 1000, slow_clients_wall_over_quiet_max: 1.1,
                  slow_clients_rss_over_quiet_mib_max: 32 }' \
  "$OUT" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT" || die "could not write $OUT"
# The figures of issue 22 (labels, selectors, zone by zone, imports).
V_LB_IMPORT=$(verdict "$LB_IMPORT_WORST" "<=" 30000)
V_LB_DRY=$(verdict "$LB_DRY_WORST" "<=" 300)
V_LB_P99=$(verdict "$LB_P99_WORST" "<=" 50)
# Within today's release / floor: the same release not grouped, same machine, same time.
V_LB_RATIO=$(verdict "$LB_RATIO" "<=" "$(nul "$LB_PLAIN_WORST")")
if section labels && [ "$LB_GET_STATUS" != 200 ]; then V_LB_P99="miss (HTTP $LB_GET_STATUS)"; fi
jq --argjson n "$LABELS_NODES" --argjson req "$(nul "$LB_REQUESTS")" \
  --argjson imp "$(nul "$LB_IMPORT")" --argjson impw "$(nul "$LB_IMPORT_WORST")" \
  --argjson picked "$(nul "$LB_PICKED")" --argjson groups "$(nul "$LB_GROUPS")" \
  --argjson dry "$(nul "$LB_DRY")" --argjson dryw "$(nul "$LB_DRY_WORST")" \
  --argjson p99 "$(nul "$LB_P99")" --argjson p99w "$(nul "$LB_P99_WORST")" \
  --argjson cpu "$(nul "$LB_CPU")" --argjson cpuw "$(nul "$LB_CPU_WORST")" \
  --argjson dbcpu "$(nul "$LB_DBCPU")" --argjson dbcpuw "$(nul "$LB_DBCPU_WORST")" \
  --argjson plain "$(nul "$LB_PLAIN")" --argjson plainw "$(nul "$LB_PLAIN_WORST")" \
  --argjson rn "$LABELS_RELEASE" --argjson rb "$LABELS_BATCH" --argjson rbat "$(nul "$LB_REL_BATCHES")" \
  --argjson ratio "$(nul "$LB_RATIO")" --argjson ratiow "$(nul "$LB_RATIO_WORST")" \
  --arg runs "${LB_RUNS:-}" --arg sel "$LABELS_SELECTOR" \
  --arg vi "$V_LB_IMPORT" --arg vd "$V_LB_DRY" --arg vp "$V_LB_P99" --arg vr "$V_LB_RATIO" \
  '. + {
    labels: { nodes: $n, labels_per_node: 5, import_requests: $req,
              import_ms: { median: $imp, worst: $impw },
              selector: $sel, selected: $picked, groups: $groups,
              dry_run_ms: { median: $dry, worst: $dryw },
              get_page_1000: { connections: 1, p99_ms: { median: $p99, worst: $p99w },
                               controller_cpu_ms_per_request: { median: $cpu, worst: $cpuw },
                               mariadb_cpu_ms_per_request: { median: $dbcpu, worst: $dbcpuw } },
              grouped_release: { nodes: $rn, batch: $rb, batches: $rbat,
                                 release_over_floor: { median: $ratio, worst: $ratiow },
                                 not_grouped_over_floor: { median: $plain, worst: $plainw } },
              runs: $runs }
  } | .targets += { labels_import_ms_max: 30000, labels_dry_run_ms_max: 300,
                    labels_get_p99_ms_max: 50,
                    grouped_release_over_floor: "median <= the worst not grouped" }
    | .verdicts += { labels_import: $vi, labels_dry_run: $vd, labels_get_p99: $vp,
                     grouped_release_over_floor: $vr }' \
  "$OUT" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT" || die "could not write $OUT"
cp "$OUT" "$RESULTS/latest.json"

row() { printf '%-42s %20s %10s  %s\n' "$@"; }
show() { [ -n "$1" ] && [ "$1" != null ] && echo "$1" || echo n/a; }
echo
echo "cmdb-release benchmark $STAMP on $(nproc) CPUs: $(jq -r .machine.cpu_model "$OUT")"
row "figure" "value" "target" "verdict"
row "release $NODES/$BATCH @${DELAY}s: status" "$BIG_STATUS" "success" ""
row "  wall, claim to terminal (ms, $BIG_WALL_SOURCE)" "$(show "$BIG_WALL")" "" ""
row "  floor wall (ms; ideal $BIG_IDEAL)" "$BIG_FLOOR" "" ""
row "  floor requests; CPU (s); peak RSS (MiB)" \
  "$BIG_FLOOR_REQ; $BIG_FLOOR_CPU; $BIG_FLOOR_RSS" "" ""
row "  wall(release) / wall(floor)" "$BIG_RATIO" "<= 1.15" "$V_RATIO"
row "  controller CPU (s)" "$BIG_CPU" "" ""
row "  controller peak RSS (MiB)" "$BIG_RSS" "< 64" "$V_RSS"
row "  SQL statements (per node)" "$(show "$BIG_SQL") ($(show "$BIG_SQL_PER_NODE"))" "<= 4" "$V_SQL"
row "release $SMALL_NODES/$SMALL_BATCH @${SMALL_DELAY}s: status" "$SMALL_STATUS" "success" ""
row "  wall (ms, $SMALL_WALL_SOURCE; Ansible 97800)" "$(show "$SMALL_WALL")" "< 1000" "$V_SMALL"
row "  floor wall (ms); ratio" "$SMALL_FLOOR; $SMALL_RATIO" "" ""
row "  floor CPU (s); peak RSS (MiB)" "$SMALL_FLOOR_CPU; $SMALL_FLOOR_RSS" "" ""
row "  controller CPU (s); peak RSS (MiB)" "$SMALL_CPU; $SMALL_RSS" "" ""
row "  SQL statements (per node)" "$(show "$SMALL_SQL") ($(show "$SMALL_SQL_PER_NODE"))" "" ""
row "  POSTed to a running controller: status" "$(show "$POST_STATUS")" "success" ""
row "  POST to claim (ms)" "$(show "$POST_CLAIM")" "<= 50" "$V_CLAIM"
row "  POST to terminal (ms; limit $(show "$SMALL_LIMIT"))" "$(show "$POST_WALL")" "<= 1000" "$V_POST"
row "  agent requests per node" "$(show "$POST_REQ")" "<= 4" "$V_REQ"
row "slow agents (${SLOW_CPU_MS} ms CPU/request): status" "$(show "$SLOW_STATUS")" "success" ""
row "  POST to terminal (ms); floor (ms)" "$(show "$SLOW_WALL"); $(show "$SLOW_FLOOR")" "" ""
row "  requests per node; floor's" "$(show "$SLOW_REQ"); $(show "$SLOW_FLOOR_REQ")" "" ""
row "  release / floor" "$(show "$SLOW_RATIO")" "<= 1.1" "$V_SLOW"
row "release $HUGE_NODES/$HUGE_BATCH @${HUGE_DELAY}s: status" "$(show "$HUGE_STATUS")" "success" ""
row "  wall, claim to terminal (ms)" "$(show "$HUGE_WALL")" "<= 40000" "$V_HUGE"
row "  floor wall (ms); ratio" "$(show "$HUGE_FLOOR"); $(show "$HUGE_RATIO")" "" ""
row "  controller CPU (s); floor CPU (s)" "$(show "$HUGE_CPU"); $(show "$HUGE_FLOOR_CPU")" "" ""
row "  controller peak RSS (MiB)" "$(show "$HUGE_RSS")" "<= 96" "$V_HUGE_RSS"
row "  GET release, gzip ($(show "$HUGE_GET_BYTES") B -> $(show "$HUGE_GET_GZ_BYTES") B) req/s" "$(show "$HUGE_GET_RPS")" ">= 300" "$V_HUGE_RPS"
row "  p99 (ms)" "$(show "$HUGE_GET_P99")" "< 250" "$V_HUGE_P99"
row "GET release ($FULL_BYTES B, HTTP $FULL_STATUS) req/s" "$(show "$FULL_RPS")" ">= 500" \
  "$V_FULL_RPS"
row "  p99 (ms)" "$(show "$FULL_P99")" "< 50" "$V_FULL_P99"
row "GET ?view=summary ($SUM_BYTES B, HTTP $SUM_STATUS) req/s" "$(show "$SUM_RPS")" \
  ">= 5000" "$V_SUM_RPS"
row "  p99 (ms)" "$(show "$SUM_P99")" "< 50" "$V_SUM_P99"
row "$CONC_RELEASES x $CONC_NODES nodes /$CONC_BATCH @${CONC_DELAY}s: statuses" "$(show "$C_STATUSES")" "success" ""
row "  one alone, first start to last end (ms)" "$(show "$C_ALONE_MS")" "" ""
row "  all together (ms)" "$(show "$C_TOGETHER_MS")" "" ""
row "  together / alone" "$(show "$C_RATIO")" "<= 1.5" "$V_CONC"
row "  controller CPU (s); peak RSS (MiB)" "$(show "$C_CPU"); $(show "$C_RSS")" "" ""
# hrow WHICH TITLE: the rows of one slow-clients run, from the JSON just written.
hrow() {
  local j
  j=$(jq -c ".slow_clients.$1" "$OUT")
  [ "$j" = null ] && { row "$2" n/a "" ""; return; }
  row "$2: status; wall (ms)" "$(jq -r '"\(.status); \(.wall_ms)"' <<<"$j")" \
    "$([ "$1" = quiet ] || echo '<= 1.1 x')" "$(jq -r '.verdict_release // ""' <<<"$j")"
  row "  p99 ms: /health/live; GET release" \
    "$(jq -r '"\(.live.p99_ms); \(.get_release.p99_ms)"' <<<"$j")" \
    "$([ "$1" = quiet ] || echo '< 1000')" "$(jq -r '.verdict_p99 // ""' <<<"$j")"
  row "  controller CPU (s); peak RSS (MiB)" \
    "$(jq -r '"\(.controller_cpu_s); \(.controller_peak_rss_mib)"' <<<"$j")" \
    "$([ "$1" = quiet ] || echo '+32 MiB')" "$(jq -r '.verdict_rss // ""' <<<"$j")"
}
hrow quiet "release $HOSTILE_NODES/$HOSTILE_BATCH @${HOSTILE_DELAY}s, no hostile clients"
hrow direct "  with $((HOSTILE_ADDRS * HOSTILE_PER)) hostile connections"
hrow nginx "  with $((HOSTILE_ADDRS * HOSTILE_NGINX_PER)) through nginx"
row "labels: $LABELS_NODES nodes, 5 labels, import (ms, median; worst)" "$(show "$LB_IMPORT"); $(show "$LB_IMPORT_WORST")" "<= 30000" "$V_LB_IMPORT"
row "  in requests of 10,000" "$(show "$LB_REQUESTS")" "10" ""
row "  dry run, $(show "$LB_PICKED") picked, $(show "$LB_GROUPS") groups (ms)" "$(show "$LB_DRY"); $(show "$LB_DRY_WORST")" "<= 300" "$V_LB_DRY"
row "  GET ?selector=&limit=1000, 1 conn: p99 (ms)" "$(show "$LB_P99"); $(show "$LB_P99_WORST")" "<= 50" "$V_LB_P99"
row "  CPU per GET: controller; MariaDB (ms)" "$(show "$LB_CPU"); $(show "$LB_DBCPU")" "" ""
row "  $LABELS_RELEASE by selector, not grouped: release/floor" "$(show "$LB_PLAIN"); $(show "$LB_PLAIN_WORST")" "" ""
row "  ...in 4 zones: release/floor" "$(show "$LB_RATIO"); $(show "$LB_RATIO_WORST")" "<= $(show "$LB_PLAIN_WORST")" "$V_LB_RATIO"
echo "written to ${OUT#"$ROOT"/} and bench/results/latest.json; logs in var/bench"
