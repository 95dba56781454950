#!/usr/bin/env bash
# Fails when a source file includes a folder above its own layer
# (docs/architecture.md, "Layers"). Usage: scripts/check_layers.sh [ROOT]
#   sim/ (not sim/app/)  foundation: types, errors, config, stats, registry,
#                        the simulated-thread and timeline interfaces
#   models/ traces/      hardware models and trace readers
#   pml/                 PML engines (over models/)
#   ept/                 the 2D walker (over models/, pml/)
#   hv/                  the hypervisor model
#   cpu/                 the cores (over everything below, hv/ included)
#   sim/app/             assembly, CLI, sweeps, progress: may include anything
# tests/, bench/ and examples/ may include anything.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
allowed_for() {
  case "$1" in
    sim/app/*) echo "sim models traces pml ept hv cpu" ;;
    sim/*)     echo "sim" ;;
    models/*)  echo "sim models" ;;
    traces/*)  echo "sim traces" ;;
    pml/*)     echo "sim models pml" ;;
    ept/*)     echo "sim models pml ept" ;;
    hv/*)      echo "sim models pml ept hv" ;;
    cpu/*)     echo "sim models traces pml ept hv cpu" ;;
    *)         echo "*" ;;
  esac
}
bad=0
cd "$root"
while IFS= read -r f; do
  allowed=$(allowed_for "$f")
  [ "$allowed" = "*" ] && continue
  while IFS=: read -r line inc; do
    target=${inc%%/*}
    # sim/app/ is the top layer: only sim/app/ itself may include it.
    if [[ "$inc" == sim/app/* && "$f" != sim/app/* ]]; then
      echo "$f:$line: includes \"$inc\", which is above its layer (sim/app/ is the top)"; bad=1; continue
    fi
    ok=0
    for a in $allowed; do [ "$a" = "$target" ] && ok=1; done
    if [ $ok -eq 0 ]; then
      echo "$f:$line: includes \"$inc\", which is above its layer (${f%%/*}/ may include: $allowed)"; bad=1
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' "$f" | sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1:\2/')
done < <(find sim models traces pml ept hv cpu -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) 2>/dev/null | sort)
if [ $bad -ne 0 ]; then echo "check_layers: upward includes found" >&2; exit 1; fi
echo "check_layers: no upward include"
