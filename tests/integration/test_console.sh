#!/usr/bin/env bash
# Integration test of the web console and `cmdb watch` (issue 13), against the real
# bin/cmdb, a private MariaDB and mutual-TLS agents. First the console's files as HTTP
# serves them (types, caching, compression, the Content-Security-Policy); then Debian's
# chromium, headless, drives the console (tests/browser/console.test.js): nodes and
# releases created through it, a release followed to success, a failing one with its
# failed node's error and skipped batch, a canary paused and resumed, a cancel, an
# approval, what is offered to whom, a token asked for where reads need one, the 401 and
# 403 messages, a narrow window, no console errors; then
# Debian's firefox-esr reads the same releases and makes a dry run
# (tests/browser/firefox.test.js). Last,
# `cmdb watch` follows releases on a pseudo-terminal and through a pipe and exits with
# the code of each ending. Screenshots of a failed browser check go to var/test/console/;
# the documentation's two screenshots are written there too (see docs/console.md).
# Prints "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

begin_test "${TEST_DIR:-$ROOT/var/test}/console"
PORT=${CONSOLE_AGENT_PORT:-10343}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
BROWSER_DIR=$ROOT/tests/browser
for b in "$CHROMIUM" "$FIREFOX"; do
  [ -x "$b" ] || { echo "no browser at $b: run scripts/install-deps.sh" >&2; exit 1; }
done
[ -d "$BROWSER_DIR/node_modules/puppeteer-core" ] ||
  { echo "tests/browser has no node_modules: run scripts/install-deps.sh" >&2; exit 1; }

echo "== set-up: MariaDB, certificates, agents, tokens, a controller"
fresh_db cmdb_console
stack_certs "$WORK/certs" 16
# Agents: four good ones (slow enough that a running release can be seen), one whose
# apply fails, three slow ones for the canary and the cancel, a spare.
agents=()
: >"$WORK/nodes.txt"
add_agent() { # add_agent N ROLE OPTIONS
  printf '127.0.1.%d:%d %s\n' "$1" "$PORT" "$3" >>"$WORK/nodes.txt"
  agents+=("{\"hostname\":\"$2-$1\",\"ip\":\"127.0.1.$1\",\"port\":$PORT,\"role\":\"$2\"}")
}
for i in 1 2 3 4; do add_agent "$i" good delay=2; done
add_agent 5 bad 'fail delay=0.5'
for i in 6 7 8; do add_agent "$i" slow delay=3; done
add_agent 9 spare delay=0.2
AGENTS="[$(IFS=,; echo "${agents[*]}")]"
stack_agentsim "$WORK/nodes.txt" "$WORK/agentsim.log" "$WORK/applies.log" || exit 1

token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ALICE=$(token) BOB=$(token) READER=$(token)
tokens_line() { echo "$1:$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)${3:+:$3}"; }
{ tokens_line alice "$ALICE"; tokens_line bob "$BOB"; tokens_line reader "$READER" reader; } >"$WORK/tokens"
chmod 600 "$WORK/tokens"
export CMDB_API_TOKENS_FILE=$WORK/tokens
# A second controller on the same database whose reads need a token: the console asks.
stack_cmdb "$WORK/cmdb-reads.log" CMDB_READS_REQUIRE_AUTH=1 || exit 1
READS_URL=$API
stack_cmdb "$WORK/cmdb.log" RELEASE_EXECUTOR_ENABLED=1 RELEASE_EXECUTOR_INTERVAL=1 || exit 1

echo "== the console's files over HTTP"
head_of() { curl -s -o /dev/null -D - "$@" | tr -d '\r'; }
header() { grep -i "^$1:" | head -n 1 | cut -d' ' -f2-; }
H=$(head_of "$API/")
check_eq "GET / is 200" 200 "$(head -n 1 <<<"$H" | cut -d' ' -f2)"
check_eq "GET / is HTML" "text/html; charset=utf-8" "$(header Content-Type <<<"$H")"
check_eq "GET / has a Content-Security-Policy: this origin only, no inline script or style" \
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" \
  "$(header Content-Security-Policy <<<"$H")"
check_eq "GET / is revalidated on every load (no-cache)" no-cache "$(header Cache-Control <<<"$H")"
check_eq "GET / forbids sniffing" nosniff "$(header X-Content-Type-Options <<<"$H")"
check_eq "GET / may not be framed" DENY "$(header X-Frame-Options <<<"$H")"
check_eq "GET /ui/app.js is JavaScript" "text/javascript; charset=utf-8" \
  "$(head_of "$API/ui/app.js" | header Content-Type)"
check_eq "GET /ui/app.css is CSS" "text/css; charset=utf-8" "$(head_of "$API/ui/app.css" | header Content-Type)"
check_eq "GET /ui/favicon.svg is SVG" "image/svg+xml" "$(head_of "$API/ui/favicon.svg" | header Content-Type)"
check "the files served are the files of web/, byte for byte" bash -c \
  "for f in app.js app.css favicon.svg; do curl -sf '$API/ui/'\$f | cmp -s - '$ROOT/web/'\$f || exit 1; done; curl -sf '$API/' | cmp -s - '$ROOT/web/index.html'"
check_eq "GET /ui/states.js (the state table's statuses, built) is JavaScript" \
  "text/javascript; charset=utf-8" "$(head_of "$API/ui/states.js" | header Content-Type)"
check_eq "states.js names the release statuses the API knows, in the table's order" \
  "$(curl -s "$API/api/v1/releases?status=x" | jq -r .error | sed 's/^status must be one of //')" \
  "$(curl -sf "$API/ui/states.js" | sed -n "s/.*{name: '\([a-z_]*\)'.*/\1/p" | paste -sd, | sed 's/,/, /g')"
ETAG=$(head_of "$API/ui/app.js" | header ETag)
check "an ETag names app.js" test -n "$ETAG"
check_eq "a client that has it gets 304" 304 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$API/ui/app.js")"
check_eq "app.js is gzipped for a client that takes gzip" gzip \
  "$(head_of -H 'Accept-Encoding: gzip' "$API/ui/app.js" | header Content-Encoding)"
check "the gzipped app.js unpacks to app.js" bash -c \
  "curl -sf -H 'Accept-Encoding: gzip' '$API/ui/app.js' | gunzip | cmp -s - '$ROOT/web/app.js'"
check_eq "an unknown file is a JSON 404" "404 application/json" \
  "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$API/ui/nothing.js" | cut -d';' -f1)"
check_eq "a path that climbs out is a 404" 404 \
  "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$API/ui/../../etc/passwd")"
check_eq "index.html has one address, /" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$API/ui/index.html")"
check_eq "POST / is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/")"
check "web/ has no inline script or style, and no other origin" bash -c \
  "! grep -Eqi '<script>|<script [^>]*>[^<]|style=|[[:space:]]on[a-z]+=\"|https?://' '$ROOT/web/index.html'"

# browser SCRIPT: runs a script of tests/browser and adds its "N passed, N failed".
browser() {
  local out=$WORK/$1.out bp
  (cd "$BROWSER_DIR" && CONSOLE_URL=$API READS_URL=$READS_URL ALICE=$ALICE BOB=$BOB READER=$READER AGENTS=$AGENTS \
    WORK=$WORK SHOTS=$WORK/shots CHROMIUM=$CHROMIUM FIREFOX=$FIREFOX HOME=$WORK/home \
    timeout 600 node "$1") | tee "$out"
  bp=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
  if [ -z "$bp" ]; then
    echo "FAIL $1 printed no summary"
    bp="0 passed, 1 failed"
  fi
  PASSED=$((PASSED + ${bp%% passed*}))
  FAILED=$((FAILED + $(cut -d' ' -f3 <<<"$bp")))
}
mkdir -p "$WORK/shots" "$WORK/home"
echo "== the console in chromium"
browser console.test.js
echo "== the console in firefox"
browser firefox.test.js
check "the two screenshots for docs/console.md were made" test -s "$WORK/shots/console-running.png" -a -s "$WORK/shots/console-failed.png"
check "the agents saw no apply of a node the browser test left skipped" bash -c \
  "[ \$(grep -c . '$WORK/applies.log') -eq \$(mariadb --no-defaults --socket='$DB_ROOT_SOCKET' -uroot -N -B '$CMDB_DB_NAME' -e \"SELECT COUNT(*) FROM release_task_nodes WHERE status IN ('success','failed')\") ]"

echo "== cmdb watch"
watch() { env CMDB_URL="$API" CMDB_TOKEN="${WATCH_TOKEN:-}" "$ROOT/bin/cmdb" watch "$@"; }
create() { # create BODY: a release as alice; prints its id
  curl -s -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
    --data-binary "$1" "$API/api/v1/releases" | jq -r .id
}
ids() { sql "SELECT id FROM nodes WHERE hostname LIKE '$1-%' ORDER BY id" | paste -sd, -; }
GOOD=$(ids good) BAD=$(ids bad) SLOW=$(ids slow)

R=$(create "{\"version\":20,\"batch_size\":2,\"node_ids\":[$GOOD]}")
watch "$R" >"$WORK/watch-ok.out" 2>&1
check_eq "watch (a pipe): a release that succeeds exits 0" 0 $?
check "watch (a pipe): plain lines, no escape sequences" bash -c "! grep -q \$'\\033' '$WORK/watch-ok.out'"
check "watch (a pipe): each batch ends on its own line" bash -c \
  "grep -q '^batch 1 of 2 success: 2 success of 2' '$WORK/watch-ok.out' && grep -q '^batch 2 of 2 success: 2 success of 2' '$WORK/watch-ok.out'"
check_eq "watch (a pipe): the last line is the ending" "release $R success" "$(tail -n 1 "$WORK/watch-ok.out")"
check "watch (a pipe): no line says the release succeeded before the last batch's line" bash -c \
  "awk '/^batch /{b=NR} /^release $R success/ && !s{s=NR} END{exit !(b && s > b)}' '$WORK/watch-ok.out'"

R=$(create "{\"version\":21,\"batch_size\":2,\"node_ids\":[$(cut -d, -f1 <<<"$GOOD"),$BAD,$(cut -d, -f2,3 <<<"$GOOD")]}")
watch "$R" >"$WORK/watch-bad.out" 2>&1
check_eq "watch (a pipe): a release that fails exits 1" 1 $?
check "watch (a pipe): it names the first error, with its node" bash -c \
  "grep -q '^first error: batch 1 node $BAD bad-5 127.0.1.5:$PORT: .*simulated apply failure' '$WORK/watch-bad.out'"
check "watch (a pipe): the skipped batch" grep -q '^batch 2 of 2 skipped: 2 skipped of 2' "$WORK/watch-bad.out"

# On a terminal (script(1) gives it a pseudo-terminal): bars redrawn in place.
R=$(create "{\"version\":22,\"batch_size\":1,\"node_ids\":[$(cut -d, -f1,2 <<<"$GOOD")]}")
script -qefc "env CMDB_URL=$API TERM=xterm COLUMNS=100 $ROOT/bin/cmdb watch $R" "$WORK/watch-tty.out" >/dev/null 2>&1 </dev/null
check_eq "watch (a terminal): exits 0 on success" 0 $?
check "watch (a terminal): it redraws in place (cursor up, clear)" grep -q $'\033\\[[0-9]*A' "$WORK/watch-tty.out"
check "watch (a terminal): coloured bars of # for success" grep -q $'\033\\[32m#' "$WORK/watch-tty.out"
check "watch (a terminal): a bar per batch" bash -c \
  "grep -aq 'batch 1 .*\\[.*\\] 1 success of 1' '$WORK/watch-tty.out' && grep -aq 'batch 2 .*\\[.*\\] 1 success of 1' '$WORK/watch-tty.out'"
NO_COLOR=1 script -qefc "env CMDB_URL=$API TERM=xterm $ROOT/bin/cmdb watch $R" "$WORK/watch-nocolor.out" >/dev/null 2>&1 </dev/null
check "watch (a terminal, NO_COLOR): no colours" bash -c "! grep -q $'\\033\\[3[0-9]m' '$WORK/watch-nocolor.out'"

R=$(create "{\"version\":23,\"batch_size\":1,\"pause_after\":[1],\"node_ids\":[$(cut -d, -f1,2 <<<"$SLOW")]}")
watch "$R" >"$WORK/watch-cancel.out" 2>&1 &
WPID=$!
wait_until 30 bash -c "[ \"\$(curl -s '$API/api/v1/releases/$R' | jq -r .status)\" = paused ]"
check "watch (a pipe): a paused release says why" wait_until 10 grep -q "release $R paused: .*paused after batch 1" "$WORK/watch-cancel.out"
curl -s -o /dev/null -X POST -H "Authorization: Bearer $ALICE" "$API/api/v1/releases/$R/cancel"
wait "$WPID"
check_eq "watch: a cancelled release exits 4" 4 $?

watch 999999 >"$WORK/watch-404.out" 2>&1
check_eq "watch: an unknown release exits 6" 6 $?
check "watch: and says it is not found" grep -q 'release 999999: HTTP 404' "$WORK/watch-404.out"
watch abc >/dev/null 2>&1
check_eq "watch: a bad id is a usage error (2)" 2 $?
CMDB_URL=http://127.0.0.1:1 timeout 5 "$ROOT/bin/cmdb" watch 1 >/dev/null 2>"$WORK/watch-down.out"
check_eq "watch: an API that does not answer keeps it trying (no early exit)" 124 $?
check "watch: and it says why once" grep -q 'trying again' "$WORK/watch-down.out"
WATCH_TOKEN=wrong watch 1 >/dev/null 2>"$WORK/watch-401.out"
check_eq "watch: an unknown token exits 6 at once" 6 $?
check "watch: and says it was refused" grep -q 'HTTP 401' "$WORK/watch-401.out"
check "watch: the token is never printed" bash -c "! grep -rq '$ALICE' '$WORK'/watch-*.out"

echo "== the controller"
check "no controller error was logged" bash -c "! grep -q ' error ' '$WORK/cmdb.log'"
check "cmdb still running" kill -0 "$CMDB_PID"
end_checks
