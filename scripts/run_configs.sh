#!/usr/bin/env bash
# Prints the shipped run configs, one path a line relative to the repository
# root, sorted: every configs/**/*.json that is not a sweep spec, then the
# integration tests' configs (tests/integration/data/*.json). A sweep spec is
# recognised as sim/app/sweep/spec.cpp reads one: a top-level "base", "grid"
# or "zip" key. Usage: scripts/run_configs.sh [ROOT]
# (used by gen_stats_doc.sh and compare_stats.sh)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# Exit 0 when FILE (JSON with // and /* */ comments) has a top-level base,
# grid or zip key. A scanner, not a grep: nested keys such as
# workload.generator.base must not count.
is_sweep_spec() {
  awk '
    { text = text $0 "\n" }
    END {
      n = length(text); depth = 0; instr = 0; pending = 0; found = 0
      for (i = 1; i <= n; i++) {
        c = substr(text, i, 1)
        if (instr) {
          if (c == "\\") { i++; continue }
          if (c == "\"") { instr = 0; pending = (depth == 1); continue }
          cur = cur c; continue
        }
        d = substr(text, i, 2)
        if (d == "//") { while (i <= n && substr(text, i, 1) != "\n") i++; continue }
        if (d == "/*") { j = index(substr(text, i + 2), "*/"); i = j ? i + j + 2 : n; continue }
        if (c ~ /[ \t\r\n]/) continue
        if (c == ":" && pending && (cur == "base" || cur == "grid" || cur == "zip")) found = 1
        pending = 0
        if (c == "\"") { instr = 1; cur = "" }
        else if (c == "{" || c == "[") depth++
        else if (c == "}" || c == "]") depth--
      }
      exit found ? 0 : 1
    }' "$1"
}

find configs -name '*.json' | LC_ALL=C sort | while IFS= read -r f; do
  is_sweep_spec "$f" || echo "$f"
done
find tests/integration/data -maxdepth 1 -name '*.json' | LC_ALL=C sort
