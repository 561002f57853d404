#!/usr/bin/env bash
# `step.sh "Python packages (2/4)" command...`: one line before a setup step and one after it
# with the elapsed time, so a first run that takes a minute says what it is doing. The
# command's own output is kept for failures only.
set -uo pipefail
label="$1"; shift
start=$EPOCHREALTIME
printf '%s...\n' "$label"
log=$(mktemp)
if "$@" >"$log" 2>&1; then
  awk -v label="$label" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s: done in %.1f s\n", label, b - a }'
  rm -f "$log"
else
  status=$?
  cat "$log" >&2
  rm -f "$log"
  printf '%s: FAILED (exit %d)\n' "$label" "$status" >&2
  exit "$status"
fi
