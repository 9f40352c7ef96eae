#!/bin/sh
# scripts/embed-web.sh OUT FILE...: writes the C source that holds each FILE byte for
# byte (struct console_file, api/v1/console.h), so that bin/cmdb serves the console of
# its own build: the files of web/, and build/web/states.js (the state table's statuses,
# from cmd/webstates). The Makefile runs it; the output goes to build/, never git.
set -eu
out=$1
shift
tmp=$out.tmp
{
  echo '/* Written by scripts/embed-web.sh from web/ and states.js: not to be edited. */'
  echo '#include "api/v1/console.h"'
  i=0
  for f in "$@"; do
    [ -s "$f" ] || { echo "embed-web.sh: $f is empty or missing" >&2; exit 1; }
    echo "static const unsigned char file$i[] = {"
    od -An -v -tx1 "$f" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
    echo "};"
    i=$((i + 1))
  done
  echo "const struct console_file console_files[] = {"
  i=0
  for f in "$@"; do
    echo "    {\"/$(basename "$f")\", file$i, sizeof(file$i)},"
    i=$((i + 1))
  done
  echo "};"
  echo "const size_t console_nfiles = $i;"
} >"$tmp"
mv "$tmp" "$out"
