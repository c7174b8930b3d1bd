#!/usr/bin/env bash
# Build a wheelhouse (the planner wheel plus its dependencies) for offline installs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/wheelhouse
rm -rf "$out" && mkdir -p "$out"
python3 -m pip wheel --wheel-dir "$out" .
ls -1 "$out"
