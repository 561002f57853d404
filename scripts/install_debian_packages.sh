#!/usr/bin/env bash
# Install the Debian packages the tests need (Prometheus and promtool for the estimate and
# monitoring tests) when they are missing. Needs root or passwordless sudo; without either it
# says so and the tests that need the packages skip with the same reason.
set -euo pipefail
missing=()
for command_and_package in "prometheus:prometheus" "promtool:prometheus"; do
  command="${command_and_package%%:*}" package="${command_and_package##*:}"
  command -v "$command" >/dev/null || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" -eq 0 ]; then
  run=()
elif sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "note: Debian packages missing ($packages) and no root or sudo: the Prometheus tests will skip" >&2
  exit 0
fi
echo "Debian packages: $packages..."
"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
# The package enables a system Prometheus on :9090; the tests start their own on free ports.
"${run[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
