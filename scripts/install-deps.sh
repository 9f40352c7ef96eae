#!/usr/bin/env bash
# Installs what cmdb-release needs on Debian 12, only what is missing: Debian packages
# (needs root or sudo) and the npm packages of the tests (tests/openapi and
# tests/browser, from their lock files). Does nothing when everything is present.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential pkg-config
  libcurl4-openssl-dev default-libmysqlclient-dev libcivetweb-dev libcjson-dev libssl-dev
  zlib1g-dev
  # time zones of windows and schedules (internal/tz): ICU's C API and its zone data
  libicu-dev
  libcmocka-dev
  # make fuzz: clang, and libFuzzer with the sanitizer runtimes (clang does not pull them in)
  clang libclang-rt-14-dev
  mariadb-server mariadb-client openssl curl jq valgrind
  # scripts/galera.sh: the Galera provider, rsync for state transfers, and ss (iproute2),
  # which the rsync transfer script uses to see its daemon listening
  galera-4 rsync iproute2
  # make test: promtool checks the alert rules, a real Prometheus scrapes a controller,
  # systemd-analyze verifies the unit file
  prometheus systemd
  # make test: the console's browser tests drive Debian's chromium and firefox-esr (no
  # browser download); a font, for screenshots that can be read
  chromium firefox-esr fonts-dejavu-core
  # make test: `cmdb import` reads what Debian's ansible-inventory makes of an INI inventory
  # (tests/fixtures/inventory/ansible.ini)
  ansible-core
  # make test and make bench: the reverse proxy of deploy/nginx in front of a controller
  # (its stream module passes TLS through)
  nginx libnginx-mod-stream
)

install_debian() {
  local missing=() p status sudo policy own_policy rc
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  # The OpenAPI validator runs on Node.js: the machine's own when it has one, else Debian's.
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0

  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them as root" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # MariaDB and Prometheus must not start system services: the tests run private servers.
  # policy-rc.d answering 101 tells every package's scripts not to start anything.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  rc=0
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ "$own_policy" -eq 1 ] && "${sudo[@]}" rm -f "$policy"
  return "$rc"
}

# npm packages exactly as a lock file has them (tests/openapi: the OpenAPI validator;
# tests/browser: puppeteer-core), installed again when the lock changes.
install_npm() {
  local dir=$ROOT/$1 stamp=$ROOT/$1/node_modules/.lock-installed
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
    return 0
  fi
  echo "install-deps: npm ci in $1"
  # puppeteer-core never downloads a browser; the variable makes sure of it.
  (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$dir/package-lock.json" "$stamp"
}

install_debian
install_npm tests/openapi
install_npm tests/browser
