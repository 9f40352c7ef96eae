#!/usr/bin/env bash
# doc-table.sh FILE NAME [--check] -- CMD...: rewrites the table of FILE between the lines
# "<!-- begin NAME" and "<!-- end NAME -->" with the output of CMD, or with --check says
# whether FILE is up to date (exit 1 and a diff when not). The tables the docs show from
# the code (the settings, the release state machine) are made this way, never by hand.
set -euo pipefail
file=$1 name=$2
shift 2
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
[ "${1:-}" = -- ] && shift
begin="<!-- begin $name"
end="<!-- end $name -->"
grep -qF -- "$begin" "$file" && grep -qF -- "$end" "$file" || {
  echo "doc-table: $file has no $name markers" >&2
  exit 1
}
TABLE=$("$@")
export TABLE
# The table goes through ENVIRON: awk -v would interpret its backslashes.
new=$(awk -v b="$begin" -v e="$end" '
  index($0, b) == 1 { print; print ENVIRON["TABLE"]; skip = 1; next }
  index($0, e) == 1 { skip = 0 }
  !skip' "$file")
if [ "$check" = 1 ]; then
  if [ "$new" = "$(cat "$file")" ]; then
    echo "$file: the $name table matches $*"
    exit 0
  fi
  echo "$file: the $name table differs from $*; run scripts/doc-tables.sh" >&2
  diff <(cat "$file") <(printf '%s\n' "$new") >&2 || true
  exit 1
fi
printf '%s\n' "$new" >"$file"
