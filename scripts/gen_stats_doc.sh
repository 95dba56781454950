#!/usr/bin/env bash
# Writes docs/stats.md on stdout: the union of `vmxsim stats list --markdown`
# over every shipped run config (scripts/run_configs.sh).
#   scripts/gen_stats_doc.sh build/vmxsim > docs/stats.md
# The CTest test stats.doc_up_to_date (scripts/check_stats_doc.sh) fails when
# docs/stats.md differs from this output.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 VMXSIM_BIN > docs/stats.md" >&2; exit 2; }
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"  # configs are named relative to the root, so the output does not depend on the caller's folder

mapfile -t configs < <(scripts/run_configs.sh)
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for cfg in "${configs[@]}"; do
  "$bin" stats list "$cfg" --markdown | tail -n +3 >>"$rows" ||
    { echo "$0: vmxsim stats list $cfg failed" >&2; exit 1; }
done

cat <<'HEAD'
# Stats

Every stat a run can write with `vmxsim run CONFIG --stats FILE`: one flat
JSON object, its keys sorted. This file is generated — do not edit it:

    scripts/gen_stats_doc.sh build/vmxsim > docs/stats.md

It is the union of `vmxsim stats list CONFIG --markdown` over the shipped run
configs listed at the end; `vmxsim stats list CONFIG` shows the stats of any
other config (a stat exists only when its component does: PML stats with
`hv.dirty_log.mode` `pml`, `mem.llc.*` with a shared LLC, and so on). The
CTest test `stats.doc_up_to_date` fails when this file is stale, or when a
stat has no unit (`?`: registered without a description; `vmxsim stats list
--undescribed` lists them).

- **kind**: `counter` (an integer a component counts), `value` (computed
  when the stats are read: ratios, totals, host timings) or `histogram`.
- A histogram `X` is written as `X.count` (samples), `X.sum`, `X.max` and one
  `X.<bucket>` per non-empty bucket, labelled `24` or `39+` (linear) or
  `64-127` (log2); `sum`, `max` and bucket labels are in its unit.
- `vcpu<N>`: one stat per vCPU, `vcpu0` to `vcpu<cpu.vcpus - 1>`.
- `vmm.round.<N>`: one stat per dirty-log collection, from 1, registered
  when the run ends (the number of collections is known only then).
- `sim.host_seconds` and `sim.accesses_per_host_second` measure the host and
  differ from run to run; every other stat is deterministic for a config.

HEAD
echo "| stat | kind | unit | description |"
echo "|---|---|---|---|"
# Identical rows from several configs once; then by stat name (field 2 between backquotes).
LC_ALL=C sort -u "$rows" | LC_ALL=C sort -s -t'`' -k2,2
echo
echo "Generated from:"
echo
for cfg in "${configs[@]}"; do echo "- \`$cfg\`"; done
