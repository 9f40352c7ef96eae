# scripts/bench_labels.sh: the labels section of `make bench` (issue 22), sourced by
# scripts/bench.sh, whose helpers it uses. Three runs of each figure, shown as the median
# and the worst: an inventory of LABELS_NODES nodes with 5 labels each sent by
# `cmdb import` (requests of 10,000) into a fresh database; on it, a dry run of a release
# whose selector picks a tenth of it, grouped by zone, and GET /api/v1/nodes by that
# selector a page of 1,000 at a time under wrk (one connection: each request's own
# latency, and its CPU in the controller and in MariaDB); then a release of
# LABELS_RELEASE nodes by selector, four zones, against the floor of the same batches,
# beside the same release not grouped (today's release / floor, on the same machine at the
# same time).

LABELS_NODES=100000 LABELS_RELEASE=2000 LABELS_BATCH=250 LABELS_RUNS=3
# rack r0..r49: the selector of five racks picks a tenth of the inventory.
LABELS_SELECTOR='rack in (r0,r1,r2,r3,r4)'

# median_worst V1 V2 V3...: "median worst" of figures where lower is better.
median_worst() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'
}

# labels_inventory N FILE: our import JSON of N nodes, 5 labels each, offline addresses.
labels_inventory() {
  jq -cn --argjson n "$1" '{mode: "create", nodes: [range($n) | {
    hostname: "inv-\(.)",
    ip: "10.\(100 + (. / 62500 | floor)).\((. / 250 | floor) % 250).\(. % 250 + 1)",
    labels: {zone: "z\(. % 4)", env: (["prod", "staging", "dev"][. % 3]), rack: "r\(. % 50)",
             role: (["web", "api", "db", "cache", "batch"][. % 5]), pool: "inventory"}}]}' >"$2"
}

# labels_zones: the release's nodes (registered by register_nodes) in four zones of
# consecutive addresses. (Zones by id % 4, every fourth address, make a release 60% slower
# against agentsim, grouped or not: a release by node_ids in that order is as slow;
# docs/performance.md.)
labels_zones() {
  sql "INSERT INTO node_labels (node_id, k, v)
         SELECT id, 'zone', CONCAT('z', (id - 1) DIV $((LABELS_RELEASE / 4))) FROM nodes;
       INSERT INTO node_labels (node_id, k, v) SELECT id, 'pool', 'bench' FROM nodes"
}

# wait_idle PID: until PID used under 5% of a CPU for two seconds in a row (60 s at most):
# MariaDB purges and flushes for a while after an import, and that is no request's cost.
wait_idle() {
  local quiet=0 a b
  for _ in $(seq 1 60); do
    a=$(cpu_ticks "$1") || return 1
    sleep 1
    b=$(cpu_ticks "$1") || return 1
    if [ $((b - a)) -lt $((CLK_TCK / 20 + 1)) ]; then
      quiet=$((quiet + 1))
      [ "$quiet" -lt 2 ] || return 0
    else
      quiet=0
    fi
  done
}

# cpu_ticks PID: user and system ticks of PID so far (proc_figures reads them so too).
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || return 1
  awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

run_labels() {
  local k t0 out db_pid before_c before_m requests grouped
  local -a imp=() dry=() p99=() cpu=() dbcpu=() ratio=() plain=()
  # The release first: on a server that is not flushing the imports' pages yet.
  stack_certs "$WORK/certs-labels" 4
  start_sim "$LABELS_RELEASE" "$DELAY" "$LABELS_BATCH" labels
  for ((k = 1; k <= LABELS_RUNS; k++)); do
    VERSION=$((VERSION + 10))
    REGISTER_MORE=labels_zones run_release "labels-rel$k" "$LABELS_RELEASE" "$LABELS_BATCH" \
      "{\"version\":$VERSION,\"batch_size\":$LABELS_BATCH,\"selector\":\"pool=bench\",\"group_by\":\"zone\"}"
    [ "$R_STATUS" = success ] || die "the grouped release ended $R_STATUS"
    grouped=$R_WALL_MS
    LB_REL_BATCHES=$(sql "SELECT batch_count FROM release_tasks WHERE id = $R_ID")
    run_floor "$LABELS_RELEASE" "$LABELS_BATCH"
    VERSION=$((VERSION + 1))
    REGISTER_MORE=labels_zones run_release "labels-plain$k" "$LABELS_RELEASE" "$LABELS_BATCH" \
      "{\"version\":$VERSION,\"batch_size\":$LABELS_BATCH,\"selector\":\"pool=bench\"}"
    [ "$R_STATUS" = success ] || die "the release not grouped ended $R_STATUS"
    ratio+=("$(calc "$grouped / $F_WALL_MS")")
    plain+=("$(calc "$R_WALL_MS / $F_WALL_MS")")
  done
  stop_pid "$SIM_PID"
  read -r LB_RATIO LB_RATIO_WORST <<<"$(median_worst "${ratio[@]}")"
  read -r LB_PLAIN LB_PLAIN_WORST <<<"$(median_worst "${plain[@]}")"
  labels_inventory "$LABELS_NODES" "$WORK/labels-inventory.json"
  db_pid=$(cat "$WORK/db/mysqld.pid")
  for ((k = 1; k <= LABELS_RUNS; k++)); do
    new_database "cmdb_bench_labels$k" || die "migrate of cmdb_bench_labels$k failed"
    stack_cmdb "$WORK/labels-api$k.log" RELEASE_EXECUTOR_ENABLED=0 CMDB_API_THREADS=4 ||
      die "cmdb did not start"
    t0=$(date +%s%3N)
    CMDB_URL=$API "$ROOT/bin/cmdb" import "$WORK/labels-inventory.json" >"$WORK/labels-import$k.out" 2>&1 ||
      { tail -5 "$WORK/labels-import$k.out" >&2; die "cmdb import failed"; }
    imp+=($(($(date +%s%3N) - t0)))
    LB_REQUESTS=$(sed -n 's/.* in \([0-9]*\) of [0-9]* requests.*/\1/p' "$WORK/labels-import$k.out")
    wait_idle "$db_pid"
    api POST '/api/v1/releases?dry_run=1' \
      "{\"version\":1,\"batch_size\":500,\"selector\":\"$LABELS_SELECTOR\",\"group_by\":\"zone\"}"
    LB_PICKED=$(jq -r .total_nodes <<<"$BODY") LB_GROUPS=$(jq -r '.groups | length' <<<"$BODY")
    dry+=("$(curl -s -o /dev/null -w '%{time_total}' -X POST -H 'Content-Type: application/json' \
      --data-binary "{\"version\":1,\"batch_size\":500,\"selector\":\"$LABELS_SELECTOR\",\"group_by\":\"zone\"}" \
      "$API/api/v1/releases?dry_run=1" | awk '{ printf "%.1f", $1 * 1000 }')")
    before_c=$(cpu_ticks "$CMDB_PID") before_m=$(cpu_ticks "$db_pid")
    out=$(wrk -t 1 -c 1 -d "${WRK_SECONDS}s" --latency \
      "$API/api/v1/nodes?selector=$(jq -rn --arg s "$LABELS_SELECTOR" '$s | @uri')&limit=1000") ||
      die "wrk failed: $out"
    echo "$out" >>"$WORK/wrk.log"
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    p99+=("$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")")
    cpu+=("$(calc "($(cpu_ticks "$CMDB_PID") - before_c) * 1000 / $CLK_TCK / $requests")")
    dbcpu+=("$(calc "($(cpu_ticks "$db_pid") - before_m) * 1000 / $CLK_TCK / $requests")")
    LB_GET_STATUS=$(curl -s -o /dev/null -w '%{http_code}' \
      "$API/api/v1/nodes?selector=$(jq -rn --arg s "$LABELS_SELECTOR" '$s | @uri')&limit=1000")
    stop_pid "$CMDB_PID"
    # Each run on a server holding its inventory alone (a 128 MiB buffer pool).
    mariadb --no-defaults --socket="$DB_ROOT_SOCKET" -uroot -e "DROP DATABASE cmdb_bench_labels$k"
  done
  read -r LB_IMPORT LB_IMPORT_WORST <<<"$(median_worst "${imp[@]}")"
  read -r LB_DRY LB_DRY_WORST <<<"$(median_worst "${dry[@]}")"
  read -r LB_P99 LB_P99_WORST <<<"$(median_worst "${p99[@]}")"
  read -r LB_CPU LB_CPU_WORST <<<"$(median_worst "${cpu[@]}")"
  read -r LB_DBCPU LB_DBCPU_WORST <<<"$(median_worst "${dbcpu[@]}")"
  LB_RUNS="grouped release / floor ${ratio[*]}; not grouped ${plain[*]}; import ms ${imp[*]};"
  LB_RUNS+=" dry run ms ${dry[*]}; GET p99 ms ${p99[*]}; controller CPU ms per GET ${cpu[*]};"
  LB_RUNS+=" MariaDB CPU ms per GET ${dbcpu[*]}"
}
