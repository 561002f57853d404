#!/usr/bin/env bash
# Wall time of `cdk8s synth` for the default config (gpu-sharing.yaml), against a baseline
# cdk8s run of an empty Python app in the same session, median of N runs each.
#   scripts/measure_cdk8s_synth.sh [N]        (run after `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH" CDK8S_CHECK_UPGRADE=false
runs=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'language: python\napp: python3 -c "import cdk8s; cdk8s.App().synth()"\noutput: %s/empty\n' "$tmp" > "$tmp/cdk8s.yaml"

median() { python3 -c 'import statistics, sys; print(f"{statistics.median(float(x) for x in sys.stdin):.2f}")'; }
measure() {  # $1: folder holding cdk8s.yaml; prints seconds per run
  for _ in $(seq "$runs"); do
    python3 -c 'import subprocess, sys, time; t = time.perf_counter(); subprocess.run(["cdk8s", "synth"], cwd=sys.argv[1], check=True, capture_output=True); print(time.perf_counter() - t)' "$1"
  done
}
cp -r manifests "$tmp/manifests.before"
ours=$(measure . | median)
base=$(measure "$tmp" | median)
# cdk8s synth rewrites manifests/; it must come out identical to the committed copy.
diff -r "$tmp/manifests.before" manifests >/dev/null || { echo "manifests/ changed" >&2; exit 1; }
echo "cdk8s synth (default config): ${ours}s median of ${runs}; empty cdk8s app: ${base}s"
python3 -c "import sys; print(f'ratio: {float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$ours" "$base"
