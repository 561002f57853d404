#!/usr/bin/env bash
# Measure a newcomer's first `make synth`: cold (fresh clone, empty package caches), warm (fresh
# clone, caches filled by the cold run) and a re-run (nothing to install), plus, as the baseline
# in the same session, what the same runtime packages take with plain pip from an empty cache.
#
#   scripts/measure_first_run.sh            # uses a clone of HEAD in a temporary folder
#
# Needs the network to the package registries. Prints a table; nothing is left behind.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export UV_CACHE_DIR="$work/uv-cache" npm_config_cache="$work/npm-cache" PIP_CACHE_DIR="$work/pip-cache"
export XDG_CACHE_HOME="$work/xdg-cache"  # where scripts/uv.sh keeps uv itself
export PIP_DISABLE_PIP_VERSION_CHECK=1

seconds() { local start=$EPOCHREALTIME; "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

git clone --quiet "$repo" "$work/cold"
cold=$(seconds make -C "$work/cold" synth)
cp "$work/last.log" "$work/cold.log"
git clone --quiet "$repo" "$work/warm"
warm=$(seconds make -C "$work/warm" synth)
rerun=$(seconds make -C "$work/warm" synth)
python3 -m venv "$work/pip-venv"
pip_cold=$(seconds "$work/pip-venv/bin/python" -m pip install --quiet -r "$repo/requirements.txt")
uv_cold=$(seconds sh -c "rm -rf '$UV_CACHE_DIR' && '$repo/scripts/uv.sh' venv --quiet --python python3 '$work/uv-venv' && '$repo/scripts/uv.sh' pip install --quiet --python '$work/uv-venv/bin/python' -r '$repo/requirements.txt'")

echo "First run, measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores:"
printf '  %-58s %8s s\n' \
  "make synth, fresh clone, empty caches (cold)" "$cold" \
  "make synth, fresh clone, caches filled (warm)" "$warm" \
  "make synth again in that clone (nothing to install)" "$rerun" \
  "runtime packages with pip, empty cache (baseline)" "$pip_cold" \
  "runtime packages with uv, empty cache" "$uv_cold"
awk -v p="$pip_cold" -v u="$uv_cold" 'BEGIN { printf "  uv installs the runtime packages %.1fx as fast as pip\n", p / u }'
echo "Cold run's output:"
sed 's/^/  | /' "$work/cold.log"
