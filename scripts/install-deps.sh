#!/usr/bin/env bash
# Installs the Debian 12 packages cmdb-release needs, only those that are missing.
# Does nothing when all are present; needs root (or sudo) otherwise.
set -euo pipefail

packages=(
  build-essential pkg-config
  libcurl4-openssl-dev default-libmysqlclient-dev libcivetweb-dev libcjson-dev libssl-dev
  libcmocka-dev
  # make fuzz: clang, and libFuzzer with the sanitizer runtimes (clang does not pull them in)
  clang libclang-rt-14-dev
  mariadb-server mariadb-client openssl curl jq valgrind
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and not root; install them as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# The MariaDB packages must not start a system service: we run a private server.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
