#!/usr/bin/env bash
# Rewrites the settings table of README.md from `bin/cmdb settings` (the table in
# internal/config/config.c), or with --check says whether the README is up to date.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
readme=$ROOT/README.md
begin='<!-- begin settings'
end='<!-- end settings -->'
TABLE=$("$ROOT/bin/cmdb" settings)
export TABLE
# The table goes through ENVIRON: awk -v would interpret its backslashes.
new=$(awk -v b="$begin" -v e="$end" '
  index($0, b) == 1 { print; print ENVIRON["TABLE"]; skip = 1; next }
  index($0, e) == 1 { skip = 0 }
  !skip' "$readme")
if [ "${1:-}" = --check ]; then
  if [ "$new" = "$(cat "$readme")" ]; then
    echo "README settings table matches bin/cmdb settings"
    exit 0
  fi
  echo "README settings table differs from bin/cmdb settings; run scripts/readme-settings.sh" >&2
  diff <(cat "$readme") <(printf '%s\n' "$new") >&2 || true
  exit 1
fi
printf '%s\n' "$new" >"$readme"
