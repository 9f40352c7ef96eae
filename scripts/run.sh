#!/usr/bin/env bash
# make run: the whole stack on this machine, in the foreground.
#   private MariaDB in ./var/db (127.0.0.1, port $RUN_DB_PORT or 3407), dev certificates
#   in ./var/certs, the agent simulator with a handful of nodes, and `cmdb serve` with
#   the executor on at $CMDB_LISTEN (default 127.0.0.1:8080). Ctrl-C stops all of it.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

VAR=$ROOT/var
mkdir -p "$VAR"
trap 'echo; echo "stopping..."; stop_all; echo "stopped"' EXIT
trap 'exit 0' INT TERM

export CMDB_LISTEN=${CMDB_LISTEN:-127.0.0.1:8080}
if (exec 3<>"/dev/tcp/${CMDB_LISTEN%:*}/${CMDB_LISTEN##*:}") 2>/dev/null; then
  echo "run: $CMDB_LISTEN is already in use; set CMDB_LISTEN=127.0.0.1:<port>" >&2
  exit 1
fi

echo "== MariaDB (var/db)"
stack_db "$VAR/db" "${RUN_DB_PORT:-3407}" || exit 1
"$ROOT/bin/cmdb" migrate || exit 1

echo "== certificates (var/certs)"
stack_certs "$VAR/certs" 256

echo "== agent simulator"
# web-03 is an agent whose apply fails: use it to watch a release stop.
cat >"$VAR/agentsim.nodes" <<'NODES'
127.0.1.1:9443 delay=1
127.0.1.2:9443 delay=1
127.0.1.3:9443 fail delay=1
127.0.1.4:9443 delay=1
127.0.1.5:9443 delay=1
127.0.1.6:9443 delay=1
NODES
stack_agentsim "$VAR/agentsim.nodes" "$VAR/agentsim.log" "$VAR/agent-applies.log" || exit 1

echo "== cmdb serve (log: var/cmdb.log)"
API=http://$CMDB_LISTEN
start_bg "$VAR/cmdb.log" env RELEASE_EXECUTOR_ENABLED=1 "$ROOT/bin/cmdb" serve
wait_until 20 curl -sf "$API/healthz" || { cat "$VAR/cmdb.log" >&2; exit 1; }

for i in 1 2 3 4 5 6; do
  api POST /api/v1/nodes "{\"hostname\":\"web-0$i\",\"ip\":\"127.0.1.$i\",\"agent_port\":9443}"
  case "$HTTP_STATUS" in
    201) ;;
    409) ;; # registered by an earlier `make run`
    *) echo "run: registering web-0$i answered HTTP $HTTP_STATUS" >&2 ;;
  esac
done
ids=$(jget /api/v1/nodes | jq -r '[.nodes[] | select(.hostname != "web-03") | .id] | join(",")')
all=$(jget /api/v1/nodes | jq -r '[.nodes[].id] | join(",")')

cat <<TXT

cmdb-release is running: API $API, executor on, 6 agents (web-03's apply fails).

The web console: open $API/ in a browser (docs/console.md).

A release that succeeds (5 nodes, batches of 2):
  curl -s -X POST $API/api/v1/releases -H 'Content-Type: application/json' \\
       -d '{"version": 2, "batch_size": 2, "node_ids": [$ids]}'
A release that fails in batch 2 at web-03; batch 3 is skipped:
  curl -s -X POST $API/api/v1/releases -H 'Content-Type: application/json' \\
       -d '{"version": 3, "batch_size": 2, "node_ids": [$all]}'
Roll it back (each node it touched gets its previous version), or let it roll
itself back with "auto_rollback": true in the release:
  curl -s -X POST $API/api/v1/releases/2/rollback
Which nodes do not run version 2:
  curl -s '$API/api/v1/nodes?config_version_not=2'
A canary: web-01 alone, then a pause until you resume it:
  curl -s -X POST $API/api/v1/releases -H 'Content-Type: application/json' \\
       -d '{"version": 4, "batches": [1, 2], "node_ids": [$ids], "pause_after": [1]}'
  curl -s -X POST $API/api/v1/releases/1/resume      # or .../pause, .../cancel
Preview without creating:  add ?dry_run=1 to the POST
Watch one until it ends (progress bars; exit code 0 on success):
  CMDB_URL=$API bin/cmdb watch 1
  curl -s $API/api/v1/releases/1 | jq
List, newest first:   curl -s '$API/api/v1/releases?limit=10'
Nodes:                curl -s $API/api/v1/nodes
Take a node out:      curl -s -X PATCH $API/api/v1/nodes/6 -H 'Content-Type: application/json' -d '{"status":"offline"}'

Press Ctrl-C to stop everything.
TXT
wait "$BG_PID"
