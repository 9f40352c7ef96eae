#!/usr/bin/env bash
# A private MariaDB server for development and tests, kept entirely in one directory:
# no system service, no root password, listening on 127.0.0.1 and a socket in DIR.
#
#   scripts/db.sh start DIR [PORT]   initialise if needed, start, create database "cmdb"
#                                    and user "cmdb"; writes DIR/db.env (mode 600)
#   scripts/db.sh stop DIR           stop the server started from DIR
#   scripts/db.sh status DIR         exit 0 when it answers
#
# DIR/db.env holds CMDB_DB_* lines for `source`; the password is random per DIR.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|status DIR [PORT]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="$dir/mysqld.sock"
pidf="$dir/mysqld.pid"
user=$(id -un)

alive() {
  [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

ping_db() {
  mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1
}

start() {
  local port=${1:-3407}
  if alive && ping_db; then
    return 0
  fi
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
      { echo "db.sh: mariadb-install-db failed; see $dir/install.log" >&2; exit 1; }
  fi
  # Run from DIR so that a relative path in the server's messages stays inside it.
  (cd "$dir" && exec mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" \
      --port="$port" --bind-address=127.0.0.1 --pid-file="$pidf" --user="$user" \
      --log-error="$dir/mariadb.err" --skip-name-resolve --character-set-server=utf8mb4 \
      --collation-server=utf8mb4_bin --innodb-buffer-pool-size=128M \
      --max-connections=500 </dev/null >/dev/null 2>&1 &)
  for _ in $(seq 1 300); do
    ping_db && break
    sleep 0.1
  done
  ping_db || { echo "db.sh: server did not start; see $dir/mariadb.err" >&2; exit 1; }

  if [ ! -f "$dir/db.env" ]; then
    local pw
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    mariadb --no-defaults --socket="$sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS cmdb CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'cmdb'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'cmdb'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`cmdb%\`.* TO 'cmdb'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`cmdb%\`.* TO 'cmdb'@'localhost';
SQL
    umask 077
    cat >"$dir/db.env" <<ENV
CMDB_DB_HOST=127.0.0.1
CMDB_DB_PORT=$port
CMDB_DB_USER=cmdb
CMDB_DB_PASSWORD=$pw
CMDB_DB_NAME=cmdb
CMDB_DB_SOCKET_ROOT=$sock
ENV
  else
    sed -i "s/^CMDB_DB_PORT=.*/CMDB_DB_PORT=$port/" "$dir/db.env"
  fi
}

stop() {
  alive || return 0
  stop_pid "$(cat "$pidf")" 30
}

case "$cmd" in
  start) start "${3:-}" ;;
  stop) stop ;;
  status) alive && ping_db ;;
  *) echo "usage: $0 start|stop|status DIR [PORT]" >&2; exit 2 ;;
esac
