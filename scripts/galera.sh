#!/usr/bin/env bash
# A private three-node MariaDB Galera cluster on loopback, kept in one directory, for
# tests, chaos runs and trying a Galera deployment: no system service, like scripts/db.sh
# for one server. Node N (1..3) keeps its files in DIR/nN and listens on
#   SQL      127.0.0.1:BASE+N        (BASE is GALERA_BASE_PORT, default 3510)
#   gcomm    127.0.0.1:BASE+100+N    group communication
#   IST      127.0.0.1:BASE+200+N    incremental state transfer
#   SST      127.0.0.1:BASE+300+N    full state transfer (rsync)
#
#   scripts/galera.sh start DIR        start every node that is down; the first one up
#                                      bootstraps the cluster; creates database and user
#                                      "cmdb" and writes DIR/db.env (mode 600)
#   scripts/galera.sh start N DIR      start node N alone: it joins the cluster
#   scripts/galera.sh stop DIR         stop every node (gracefully); stop N DIR: one
#   scripts/galera.sh kill N DIR       kill -9 node N
#   scripts/galera.sh isolate N DIR    cut node N off from the others
#                                      (gmcast.isolate=1): it stays up, out of the
#                                      primary component, refusing queries
#   scripts/galera.sh rejoin N DIR     undo isolate, or start node N when it is down;
#                                      returns when it is Synced again
#   scripts/galera.sh wait N DIR       wait until node N is Synced in the primary component
#   scripts/galera.sh status DIR       one line per node: up/down, state, cluster size
#
# As root the servers run as the mysql user, as the packaged server does (the rsync
# daemon of a state transfer, run by root, could not write a root-owned datadir), so DIR
# must be reachable by that user. The group timeouts are shorter than Galera's defaults
# (evs.suspect_timeout 5 s, inactive 15 s) so that a lost node is evicted in about 3 s;
# GALERA_DEFAULT_TIMEOUTS=1 keeps Galera's own. docs/reliability.md says what each costs
# and how to choose them in production.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
  echo "usage: $0 start|stop|status DIR | start|stop|kill|isolate|rejoin|wait N DIR" >&2
  exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
node=""
if [[ ${2:-} =~ ^[123]$ ]]; then
  node=$2
  dir=${3:-}
else
  dir=${2:-}
fi
[ -n "$dir" ] || usage
case "$cmd" in
  kill | isolate | rejoin | wait) [ -n "$node" ] || usage ;;
esac
base=${GALERA_BASE_PORT:-3510}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
user=$(id -un)
[ "$(id -u)" = 0 ] && user=mysql
provider=/usr/lib/galera/libgalera_smm.so
for prog in mariadbd mariadb mariadb-install-db rsync; do
  command -v "$prog" >/dev/null || { echo "galera.sh: $prog not installed (make deps)" >&2; exit 1; }
done
[ -f "$provider" ] || { echo "galera.sh: $provider missing: install galera-4 (make deps)" >&2; exit 1; }

nd() { echo "$dir/n$1"; }
sock() { echo "$(nd "$1")/mysqld.sock"; }
pidof_node() { cat "$(nd "$1")/mysqld.pid" 2>/dev/null || true; }

alive() {
  local pid
  pid=$(pidof_node "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

sql() { # node, statement: runs it as root over the node's socket
  mariadb --no-defaults --socket="$(sock "$1")" -uroot -N -B -e "$2"
}

# "Synced Primary 3" when node N is usable, or whatever it is instead.
state() {
  alive "$1" || { echo "down"; return; }
  sql "$1" "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment',
    'wsrep_cluster_status', 'wsrep_cluster_size')" 2>/dev/null |
    awk '{v[$1] = $2} END {
      if (!("wsrep_local_state_comment" in v)) { print "starting"; exit }
      print v["wsrep_local_state_comment"], v["wsrep_cluster_status"], v["wsrep_cluster_size"] }'
}

synced() { [[ $(state "$1") == "Synced Primary"* ]]; }

wait_synced() {
  for _ in $(seq 1 1200); do
    synced "$1" && return 0
    alive "$1" || break
    sleep 0.1
  done
  echo "galera.sh: node $1 is not Synced ($(state "$1")); see $(nd "$1")/mariadb.err" >&2
  return 1
}

write_cnf() {
  local n=$1 d evs="evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.inactive_check_period=PT0.5S;evs.install_timeout=PT3S;evs.keepalive_period=PT0.5S;"
  d=$(nd "$n")
  [ "${GALERA_DEFAULT_TIMEOUTS:-0}" = 1 ] && evs=""
  cat >"$d/my.cnf" <<CNF
[mariadbd]
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/mariadb.err
port=$((base + n))
bind-address=127.0.0.1
user=$user
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_bin
innodb-buffer-pool-size=64M
innodb-log-file-size=32M
max-connections=500
# What Galera requires: row events, InnoDB, interleaved AUTO_INCREMENT locks.
binlog_format=ROW
default-storage-engine=InnoDB
innodb-autoinc-lock-mode=2
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=cmdb-galera
wsrep_cluster_address=gcomm://127.0.0.1:$((base + 101)),127.0.0.1:$((base + 102)),127.0.0.1:$((base + 103))
wsrep_node_name=n$n
wsrep_node_address=127.0.0.1:$((base + 100 + n))
wsrep_node_incoming_address=127.0.0.1:$((base + n))
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((base + 300 + n))
wsrep_slave_threads=2
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((base + 100 + n));ist.recv_addr=127.0.0.1:$((base + 200 + n));gcache.size=64M;${evs}pc.wait_prim_timeout=PT30S"
CNF
}

prepare() {
  local n=$1 d
  d=$(nd "$n")
  mkdir -p "$d"
  write_cnf "$n"
  if [ ! -d "$d/data/mysql" ]; then
    mariadb-install-db --defaults-file="$d/my.cnf" --user="$user" --skip-test-db \
      --auth-root-authentication-method=normal >"$d/install.log" 2>&1 ||
      { echo "galera.sh: mariadb-install-db failed; see $d/install.log" >&2; exit 1; }
  fi
  if [ "$user" != "$(id -un)" ]; then
    chown -R "$user": "$d"
    runuser -u "$user" -- test -w "$d" || {
      echo "galera.sh: $d is not reachable by the $user user (a parent directory is not" \
        "searchable); pick a DIR under /tmp" >&2
      exit 1
    }
  fi
}

# Starts node N; bootstrap=1 makes it a new primary component of its own.
launch() {
  local n=$1 bootstrap=$2 d pos extra=()
  d=$(nd "$n")
  prepare "$n"
  if [ "$bootstrap" = 1 ]; then
    extra+=(--wsrep-new-cluster)
    [ -f "$d/data/grastate.dat" ] &&
      sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$d/data/grastate.dat"
  elif [ -f "$d/data/grastate.dat" ] && grep -q '^seqno: *-1' "$d/data/grastate.dat"; then
    # Killed: recover its position from InnoDB, so it can catch up by IST, not a full SST.
    (cd "$d" && mariadbd --defaults-file="$d/my.cnf" --wsrep-recover \
      --log-error="$d/recover.err" </dev/null >/dev/null 2>&1) || true
    pos=$(sed -n 's/.*WSREP: Recovered position: *//p' "$d/recover.err" 2>/dev/null | tail -n 1)
    [ -n "$pos" ] && extra+=(--wsrep-start-position="$pos")
  fi
  rm -f "$d/mysqld.pid"
  (cd "$d" && exec mariadbd --defaults-file="$d/my.cnf" "${extra[@]}" \
    </dev/null >>"$d/stdout.log" 2>&1 &)
  for _ in $(seq 1 300); do
    alive "$n" && break
    sleep 0.1
  done
}

create_user() {
  local pw
  [ -f "$dir/db.env" ] && return 0
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  sql "$1" "CREATE DATABASE IF NOT EXISTS cmdb CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
    CREATE USER IF NOT EXISTS 'cmdb'@'127.0.0.1' IDENTIFIED BY '$pw';
    CREATE USER IF NOT EXISTS 'cmdb'@'localhost' IDENTIFIED BY '$pw';
    GRANT ALL PRIVILEGES ON \`cmdb%\`.* TO 'cmdb'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON \`cmdb%\`.* TO 'cmdb'@'localhost';"
  (
    umask 077
    cat >"$dir/db.env" <<ENV
CMDB_DB_HOST=127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))
CMDB_DB_USER=cmdb
CMDB_DB_PASSWORD=$pw
CMDB_DB_NAME=cmdb
CMDB_DB_SOCKET_ROOT=$(sock 1)
ENV
  )
}

start_all() {
  local n up=""
  for n in 1 2 3; do
    alive "$n" && up=$n && break
  done
  if [ -z "$up" ]; then
    launch 1 1
    wait_synced 1
    up=1
  fi
  create_user "$up"
  for n in 1 2 3; do
    alive "$n" || launch "$n" 0
  done
  for n in 1 2 3; do
    wait_synced "$n"
  done
}

stop_node() {
  alive "$1" || return 0
  stop_pid "$(pidof_node "$1")" 60
}

case "$cmd" in
  start)
    if [ -n "$node" ]; then
      alive "$node" || launch "$node" 0
      wait_synced "$node"
    else
      start_all
    fi
    ;;
  stop)
    if [ -n "$node" ]; then
      stop_node "$node"
    else
      for n in 3 2 1; do stop_node "$n"; done
    fi
    ;;
  kill)
    pid=$(pidof_node "$node")
    if alive "$node"; then
      kill -9 "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    ;;
  isolate)
    alive "$node" || { echo "galera.sh: node $node is down" >&2; exit 1; }
    sql "$node" "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'"
    ;;
  rejoin)
    if alive "$node"; then
      sql "$node" "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'"
    else
      launch "$node" 0
    fi
    wait_synced "$node"
    ;;
  wait) wait_synced "$node" ;;
  status)
    for n in 1 2 3; do
      echo "node $n 127.0.0.1:$((base + n)) $(state "$n")"
    done
    ;;
  *) usage ;;
esac
