#!/usr/bin/env bash
# Do two vmxsim binaries compute the same stats? Runs every shipped run config
# (scripts/run_configs.sh), or the CONFIGs given, with both binaries
# (`run CONFIG --quiet --stats FILE`, from the repository root) and prints per
# config `identical` or each differing key with both values. Keys only one
# side writes are listed separately (they alone do not fail the comparison).
# sim.host_seconds and sim.accesses_per_host_second (host timings) are ignored.
#   scripts/compare_stats.sh OLD_BIN NEW_BIN [CONFIG...]
# Exit status: 0 when no value differs and every run succeeded, 1 otherwise,
# 2 on a usage error. See docs/performance.md, "Refactoring: same stats".
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OLD_BIN NEW_BIN [CONFIG...]" >&2
  exit 2
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
old=$(abs "$1")
new=$(abs "$2")
shift 2
for b in "$old" "$new"; do [ -x "$b" ] || { echo "$0: $b: not an executable" >&2; exit 2; }; done
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ $# -gt 0 ]; then configs=("$@"); else mapfile -t configs < <(scripts/run_configs.sh); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One run: writes $work/<side>.json; prints nothing, returns the exit status.
run() {
  local bin=$1 side=$2 cfg=$3
  rm -f "$work/$side.json"
  "$bin" run "$cfg" --quiet --no-progress --stats "$work/$side.json" >"$work/$side.out" 2>"$work/$side.err"
}

# Compares two flat JSON objects as `vmxsim run --stats` writes them (dump(2):
# one `"key": value` a line) and prints the differences, indented.
compare() {
  awk '
    function pair(line) {  # sets k and v from `  "key": value,`
      if (!match(line, /^  "[^"]*": /)) return 0
      k = substr(line, 4, RLENGTH - 6); v = substr(line, RLENGTH + 1); sub(/,$/, "", v)
      return !(k == "sim.host_seconds" || k == "sim.accesses_per_host_second")
    }
    FNR == NR { if (pair($0)) { a[k] = v; ka[++na] = k }; next }
    { if (pair($0)) { b[k] = v; kb[++nb] = k } }
    END {
      for (i = 1; i <= na; i++) { k = ka[i]; if (k in b) { if (a[k] != b[k]) printf "    %s: %s -> %s\n", k, a[k], b[k] } }
      for (i = 1; i <= na; i++) if (!(ka[i] in b)) printf "    only in OLD: %s = %s\n", ka[i], a[ka[i]]
      for (i = 1; i <= nb; i++) if (!(kb[i] in a)) printf "    only in NEW: %s = %s\n", kb[i], b[kb[i]]
    }' "$1" "$2"
}

failed=0
for cfg in "${configs[@]}"; do
  rc_old=0 rc_new=0
  run "$old" old "$cfg" || rc_old=$?
  run "$new" new "$cfg" || rc_new=$?
  if [ $rc_old -ne 0 ] || [ $rc_new -ne 0 ]; then
    echo "$cfg: run failed (OLD exit $rc_old, NEW exit $rc_new)"
    [ $rc_old -eq 0 ] || echo "    OLD: $(tail -n 1 "$work/old.err")"
    [ $rc_new -eq 0 ] || echo "    NEW: $(tail -n 1 "$work/new.err")"
    failed=1
    continue
  fi
  diffs=$(compare "$work/old.json" "$work/new.json")
  values=$(grep -v '^    only in ' <<<"$diffs" || true)
  if [ -z "$diffs" ]; then
    echo "$cfg: identical"
  elif [ -z "$values" ]; then
    echo "$cfg: identical values; keys on one side only:"
    echo "$diffs"
  else
    echo "$cfg: $(wc -l <<<"$values") value(s) differ (OLD -> NEW):"
    echo "$diffs"
    failed=1
  fi
done
exit $failed
