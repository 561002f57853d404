#!/usr/bin/env bash
# `step.sh "Python packages (2/4)" command...`: one line before a step and one after it with the
# elapsed time, and a "still running" line every 30 seconds between, so a first run that takes
# minutes (mypy's first pass, go vet compiling Kubernetes) says what it is doing. The command's
# own output is kept for failures only.
set -uo pipefail
label="$1"; shift
every=${STEP_HEARTBEAT_SECONDS:-30}
start=$EPOCHREALTIME
printf '%s...\n' "$label"
log=$(mktemp)
(
  # The sleep runs in the background so that the TERM below interrupts `wait` at once and the
  # trap ends the sleep too: a leftover sleep would hold the output pipe open for 30 s.
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  waited=0
  while :; do
    sleep "$every" & sleeper=$!
    wait "$sleeper"
    waited=$((waited + every))
    printf '%s: still running (%d s)\n' "$label" "$waited"
  done
) &
beat=$!
"$@" >"$log" 2>&1
status=$?
kill "$beat" 2>/dev/null
wait "$beat" 2>/dev/null
if [ "$status" -eq 0 ]; then
  awk -v label="$label" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s: done in %.1f s\n", label, b - a }'
  rm -f "$log"
else
  cat "$log" >&2
  rm -f "$log"
  printf '%s: FAILED (exit %d)\n' "$label" "$status" >&2
  exit "$status"
fi
