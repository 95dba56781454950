#!/usr/bin/env bash
# Formats every tracked .cpp/.hpp with the repository's .clang-format.
# Usage: scripts/format.sh          rewrite the files in place
#        scripts/format.sh --check  list the files that differ (and by how many
#                                   lines); exit 1 if any do, change nothing
# CLANG_FORMAT overrides the binary (default: clang-format; the style was
# checked with version 14, Debian 12's).
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "format.sh: $cf not found (apt-get install clang-format)" >&2; exit 2; }
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
[ "${#files[@]}" -gt 0 ] || { echo "format.sh: no tracked .cpp/.hpp files (not a git checkout?)" >&2; exit 2; }
if [ "$check" = 0 ]; then
  "$cf" -i --style=file "${files[@]}"
  exit 0
fi
nfiles=0 nlines=0
for f in "${files[@]}"; do
  # Changed lines, counted as diff's removed + added lines.
  n=$("$cf" --style=file "$f" | diff "$f" - | grep -c '^[<>]' || true)
  if [ "$n" -gt 0 ]; then
    echo "$f: $n lines"
    nfiles=$((nfiles + 1)) nlines=$((nlines + n))
  fi
done
echo "$nfiles of ${#files[@]} files differ ($nlines changed lines, removed + added)" >&2
[ "$nfiles" = 0 ]
