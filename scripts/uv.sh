#!/usr/bin/env bash
# Run the uv that requirements.txt pins. The first use on a machine installs it into the user's
# cache with the system Python's pip (a few seconds); later virtualenvs, a fresh clone or
# `make clean` included, start without pip at all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^uv==//p' "$root/requirements.txt")
home="${XDG_CACHE_HOME:-$HOME/.cache}/eks-gpu-sharing/uv-$version"
if [ ! -x "$home/bin/uv" ]; then
  mkdir -p "${home%/*}"
  staging=$(mktemp -d "${home%/*}/.uv-install.XXXXXX")
  PIP_ROOT_USER_ACTION=ignore "${PYTHON:-python3}" -m pip install --quiet \
    --disable-pip-version-check --target "$staging" "uv==$version" >&2
  rm -rf "$home"
  mv "$staging" "$home"
fi
exec "$home/bin/uv" "$@"
