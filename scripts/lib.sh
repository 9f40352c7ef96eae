# scripts/lib.sh: shell helpers shared by run.sh, the test scripts and the benchmark.
# Source it; it defines functions only. Everything started through start_bg is
# stopped by stop_all (install it with `trap stop_all EXIT`).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BG_PIDS=()

# A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's
# ephemeral range so that no outgoing connection can hold it when we bind.
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "free_port: none found" >&2
  return 1
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_until() {
  local limit=$1 start=$SECONDS
  shift
  while ! "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      return 1
    fi
    sleep 0.1
  done
}

# start_bg LOGFILE CMD...: runs CMD in the background; its pid is in $BG_PID.
start_bg() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# stop_pid PID [SECONDS]: SIGTERM, wait up to SECONDS (default 10), then SIGKILL. The
# process need not be a child of this shell (db.sh and galera.sh stop their servers so).
stop_pid() {
  local pid=$1 tenths=$((${2:-10} * 10))
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tenths"); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${BG_PIDS[$i]}"
  done
  BG_PIDS=()
  if [ -n "${STACK_DB_DIR:-}" ]; then
    bash "$ROOT/scripts/db.sh" stop "$STACK_DB_DIR" || true
  fi
  if [ -n "${GALERA_DIR:-}" ]; then
    bash "$ROOT/scripts/galera.sh" stop "$GALERA_DIR" || true
    [ -n "${GALERA_TMP:-}" ] && rm -rf "$GALERA_TMP"
  fi
}

# begin_test DIR: a fresh, empty work directory $WORK for a test script; everything the
# script starts through these helpers is stopped when it exits.
begin_test() {
  WORK=$1
  rm -rf "$WORK"
  mkdir -p "$WORK"
  trap stop_all EXIT
}

# fresh_db NAME [PORT]: the private MariaDB in $WORK/db and an empty, migrated database
# NAME; exits the script when either fails.
fresh_db() {
  stack_db "$WORK/db" "${2:-}" >/dev/null || { echo "MariaDB did not start" >&2; exit 1; }
  new_database "$1" || { echo "migrate failed" >&2; exit 1; }
}

# end_checks: the summary line of check/check_eq; non-zero when any check failed.
end_checks() {
  echo
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# stack_db DIR [PORT]: starts the private MariaDB and exports CMDB_DB_*.
stack_db() {
  local dir=$1 port=${2:-}
  [ -n "$port" ] || port=$(free_port)
  STACK_DB_DIR=$dir
  bash "$ROOT/scripts/db.sh" start "$dir" "$port"
  set -a
  # shellcheck disable=SC1091
  . "$dir/db.env"
  set +a
  DB_ROOT_SOCKET=$CMDB_DB_SOCKET_ROOT
  unset CMDB_DB_SOCKET_ROOT
  export DB_ROOT_SOCKET
}

# stack_galera DIR: starts the private three-node Galera cluster (scripts/galera.sh) and
# exports its CMDB_DB_* (CMDB_DB_HOST lists the three nodes) and DB_ROOT_SOCKET (node 1).
# As root the nodes run as the mysql user: when DIR is out of its reach (a clone under
# /root), the cluster lives in a fresh directory under /tmp instead, removed at exit.
# Sets GALERA_DIR and GALERA_PORTS (the three SQL ports).
stack_galera() {
  GALERA_DIR=$1
  GALERA_TMP=""
  mkdir -p "$GALERA_DIR"
  if [ "$(id -u)" = 0 ] && ! runuser -u mysql -- test -x "$GALERA_DIR" 2>/dev/null; then
    GALERA_TMP=$(mktemp -d /tmp/cmdb-galera.XXXXXX)
    chmod 755 "$GALERA_TMP"
    GALERA_DIR=$GALERA_TMP
  fi
  bash "$ROOT/scripts/galera.sh" start "$GALERA_DIR" || return 1
  set -a
  # shellcheck disable=SC1091
  . "$GALERA_DIR/db.env"
  set +a
  DB_ROOT_SOCKET=$CMDB_DB_SOCKET_ROOT
  unset CMDB_DB_SOCKET_ROOT
  export DB_ROOT_SOCKET
  GALERA_PORTS=$(tr ',' '\n' <<<"$CMDB_DB_HOST" | sed 's/.*://' | paste -sd' ')
}

# galera_hosts K: CMDB_DB_HOST of the cluster with node K (1..3) first, then the others in
# order: each controller of a test starts on a different node.
galera_hosts() {
  local k=$1 list="" i n
  for i in 0 1 2; do
    n=$(((k - 1 + i) % 3 + 1))
    list+="${list:+,}127.0.0.1:$(cut -d' ' -f"$n" <<<"$GALERA_PORTS")"
  done
  echo "$list"
}

# galera_root_socket: the root socket of a node that is Synced now (for sql during faults).
galera_root_socket() {
  local n
  for n in 1 2 3; do
    if bash "$ROOT/scripts/galera.sh" status "$GALERA_DIR" | grep -q "^node $n .*Synced Primary"; then
      echo "$GALERA_DIR/n$n/mysqld.sock"
      return 0
    fi
  done
  return 1
}

# new_database NAME: an empty database NAME (must start with cmdb), migrated, and
# exported as CMDB_DB_NAME.
new_database() {
  mariadb --no-defaults --socket="$DB_ROOT_SOCKET" -uroot \
    -e "DROP DATABASE IF EXISTS \`$1\`; CREATE DATABASE \`$1\`"
  export CMDB_DB_NAME=$1
  "$ROOT/bin/cmdb" migrate >/dev/null 2>&1
}

# sql QUERY: runs QUERY against $CMDB_DB_NAME as the server's root, tab-separated.
sql() {
  mariadb --no-defaults --socket="$DB_ROOT_SOCKET" -uroot -N -B "$CMDB_DB_NAME" -e "$1"
}

# stack_certs DIR [NODES]: dev CA, agent and client certificates; exports AGENT_*.
stack_certs() {
  bash "$ROOT/certs/gen.sh" "$1" "${2:-256}" >/dev/null
  export AGENT_CA_FILE=$1/ca.pem AGENT_CERT_FILE=$1/client.crt AGENT_KEY_FILE=$1/client.key
  CERT_DIR=$1
}

# stack_agentsim NODESFILE LOG APPLYLOG: starts the agent simulator; $AGENTSIM_PID.
stack_agentsim() {
  start_bg "$2" "$ROOT/bin/agentsim" --certs "$CERT_DIR" --nodes "$1" --log "$3"
  AGENTSIM_PID=$BG_PID
  wait_until 20 grep -q 'agentsim ready' "$2" || {
    echo "agentsim did not start:" >&2
    cat "$2" >&2
    return 1
  }
}

# stack_cmdb LOG [VAR=VALUE...]: starts `cmdb serve` on a free port; sets $API and
# $CMDB_PID and waits until /healthz answers.
stack_cmdb() {
  local log=$1 port try
  shift
  for try in 1 2 3; do
    port=$(free_port)
    API=http://127.0.0.1:$port
    start_bg "$log" env CMDB_LISTEN="127.0.0.1:$port" "$@" "$ROOT/bin/cmdb" serve
    CMDB_PID=$BG_PID
    wait_until 20 bash -c "curl -sf $API/healthz || ! kill -0 $CMDB_PID" 2>/dev/null
    curl -sf "$API/healthz" >/dev/null && return 0
    # Another process may have taken the port between the check and the bind.
    grep -q 'cannot listen' "$log" && [ "$try" -lt 3 ] && continue
    break
  done
  echo "cmdb serve did not start:" >&2
  cat "$log" >&2
  return 1
}

# stack_proxied LOG HEALTH_ADDR [VAR=VALUE...]: `cmdb serve` on a free loopback port behind
# a proxy (CMDB_API_PROXY_PROTOCOL=1: no request without a PROXY line reaches it), its
# probes on HEALTH_ADDR (CMDB_HEALTH_LISTEN, ip:port); waits until they answer. Sets
# $CMDB_PORT and $CMDB_PID.
stack_proxied() {
  local log=$1 health=$2
  shift 2
  CMDB_PORT=$(free_port)
  start_bg "$log" env CMDB_LISTEN="127.0.0.1:$CMDB_PORT" CMDB_API_PROXY_PROTOCOL=1 \
    CMDB_HEALTH_LISTEN="$health" "$@" "$ROOT/bin/cmdb" serve
  CMDB_PID=$BG_PID
  wait_until 20 curl -sf "http://$health/health/live" && return 0
  echo "cmdb serve did not start:" >&2
  cat "$log" >&2
  return 1
}

# stack_nginx DIR UPSTREAM_PORT: Debian's nginx running deploy/nginx/cmdb-stream.conf as
# it is but for its two addresses (it listens on a free loopback port, $NGINX_PORT, and
# passes to 127.0.0.1:UPSTREAM_PORT), with room for thousands of connections. A running
# one is stopped first. Sets $NGINX_PID.
stack_nginx() {
  local dir=$1
  [ -n "${NGINX_PID:-}" ] && stop_pid "$NGINX_PID"
  rm -rf "$dir" && mkdir -p "$dir"
  NGINX_PORT=$(free_port)
  sed -e "s/^\\( *\\)listen 443 /\\1listen 127.0.0.1:$NGINX_PORT /" \
    -e "s/server 127\\.0\\.0\\.1:8443 /server 127.0.0.1:$2 /" \
    "$ROOT/deploy/nginx/cmdb-stream.conf" >"$dir/cmdb-stream.conf"
  cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
include $dir/cmdb-stream.conf;
EOF
  start_bg "$dir/out.log" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
    -g 'daemon off;'
  NGINX_PID=$BG_PID
  wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NGINX_PORT" && return 0
  echo "nginx did not start:" >&2
  cat "$dir/error.log" "$dir/out.log" >&2
  return 1
}

# api METHOD PATH [BODY [CONTENT-TYPE]]: one request to $API (a body is sent as
# application/json unless told otherwise); sets $BODY and $HTTP_STATUS. Call it
# directly, not inside $(...), or the variables stay in the subshell.
api() {
  local method=$1 path=$2 data=${3:-} ctype=${4:-application/json} out
  if [ -n "$data" ]; then
    out=$(curl -s -w '\n%{http_code}' -X "$method" -H "Content-Type: $ctype" \
      --data-binary "$data" "$API$path")
  else
    out=$(curl -s -w '\n%{http_code}' -X "$method" "$API$path")
  fi
  HTTP_STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
}

# as TOKEN METHOD PATH [BODY]: like api, with "Authorization: Bearer TOKEN".
as() {
  local tok=$1 method=$2 path=$3 data=${4:-} out
  local args=(-s -w '\n%{http_code}' -X "$method" -H "Authorization: Bearer $tok")
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  out=$(curl "${args[@]}" "$API$path")
  HTTP_STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
}

# jget PATH: prints the body of GET PATH, for pipelines.
jget() { curl -s "$API$1"; }

# Assertions: check NAME CMD... passes when CMD succeeds. Counters in PASSED/FAILED.
PASSED=0
FAILED=0
check() {
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then
    PASSED=$((PASSED + 1))
    printf 'ok   %s\n' "$name"
  else
    FAILED=$((FAILED + 1))
    printf 'FAIL %s\n' "$name"
  fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
  if [ "$2" = "$3" ]; then
    PASSED=$((PASSED + 1))
    printf 'ok   %s\n' "$1"
  else
    FAILED=$((FAILED + 1))
    printf 'FAIL %s: expected [%s], got [%s]\n' "$1" "$2" "$3"
  fi
}

# release_status ID: the release's status via the API.
release_status() {
  jget "/api/v1/releases/$1" | jq -r .status
}

# release_done ID: true once the release is success or failed and finished_at is set.
release_done() {
  local body
  body=$(jget "/api/v1/releases/$1")
  [ "$(jq -r '.finished_at != null' <<<"$body")" = true ]
}
