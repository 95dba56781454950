#!/usr/bin/env bash
# The layer check must fail on an upward include and name the file and line,
# and pass on the same tree without it.
set -u
check=$1
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir -p "$d/sim/app" "$d/models" "$d/hv"
printf '#include "sim/types.hpp"\n' > "$d/models/ok.hpp"
printf '#include "models/ok.hpp"\n#include "sim/config.hpp"\n' > "$d/hv/ok.hpp"
printf '#include "hv/ok.hpp"\n' > "$d/sim/app/top.cpp"
bash "$check" "$d" >/dev/null || { echo "FAIL: a clean tree was rejected"; exit 1; }
printf '// planted\n#include "hv/ok.hpp"\n' > "$d/models/bad.hpp"
out=$(bash "$check" "$d" 2>&1) && { echo "FAIL: an upward include models/ -> hv/ passed"; exit 1; }
grep -q 'models/bad.hpp:2: includes "hv/ok.hpp"' <<<"$out" || { echo "FAIL: message does not name file:line: $out"; exit 1; }
rm "$d/models/bad.hpp"
printf '#include "sim/app/simulation.hpp"\n' > "$d/sim/foundation.hpp"
out=$(bash "$check" "$d" 2>&1) && { echo "FAIL: sim/ -> sim/app/ passed"; exit 1; }
grep -q 'sim/foundation.hpp:1' <<<"$out" || { echo "FAIL: $out"; exit 1; }
echo "planted violations were caught"
