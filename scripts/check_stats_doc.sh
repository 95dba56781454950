#!/usr/bin/env bash
# The CTest test stats.doc_up_to_date: fails (with a diff) when docs/stats.md
# is not what scripts/gen_stats_doc.sh VMXSIM_BIN writes, and fails when any
# stat still has the transitional unit "?" (registered without a description),
# listing those stats by prefix.  Usage: scripts/check_stats_doc.sh VMXSIM_BIN [ROOT]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 VMXSIM_BIN [ROOT]" >&2; exit 2; }
bin=$1
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
bash "$root/scripts/gen_stats_doc.sh" "$bin" >"$fresh"
status=0
if ! diff -u "$root/docs/stats.md" "$fresh"; then
  echo "docs/stats.md is stale: regenerate it with scripts/gen_stats_doc.sh build/vmxsim > docs/stats.md" >&2
  status=1
fi
# Rows whose unit cell is "?": | `name` | kind | ? | ...
undescribed=$(grep -E '^\| `[^`]*` \| [a-z]+ \| \? \|' "$fresh" | cut -d'`' -f2 || true)
if [ -n "$undescribed" ]; then
  echo "$(wc -l <<<"$undescribed") stats have no unit or description (unit \"?\"); by prefix:" >&2
  # Group by all but the last dotted component (vcpu<N>.tlb.l1, hv.fault, ...).
  awk '{ p = $0; sub(/\.[^.]*$/, "", p); n[p]++ } END { for (p in n) printf "  %s.* (%d)\n", p, n[p] }' \
    <<<"$undescribed" | LC_ALL=C sort >&2
  echo "describe them where they are registered: Stats::counter/histogram/value(name, ..., unit, description)" >&2
  status=1
fi
exit $status
