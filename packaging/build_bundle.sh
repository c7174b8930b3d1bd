#!/usr/bin/env bash
# Build the one-folder desktop bundle (dist/planner/) with PyInstaller, for the OS this runs
# on, from the Python environment that runs it (the planner installed in it, e.g.
# `pip install -e . pyinstaller`). Prints the bundle's size. Windows and macOS use the same
# spec: `pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/planner.spec`.
#
#   bash packaging/build_bundle.sh                 # with python3 on PATH
#   PYTHON=.venv/bin/python bash packaging/build_bundle.sh
#   PLANNER_WHEEL=dist/llm_inference_planner-0.1.0-py3-none-any.whl bash packaging/build_bundle.sh
#                                                  # from a planner wheel built already
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
dist="${DIST:-$repo/dist}"
work="${WORK:-$repo/build/pyinstaller}"
if ! "$python" -c "import PyInstaller, planner, setuptools, wheel" 2>/dev/null; then
    echo "error: $python lacks PyInstaller, setuptools, wheel or the planner;" \
        "run: $python -m pip install -e '$repo[test,bundle]'" >&2
    exit 2
fi
# The bundle is built from the planner's wheel, unpacked: its layout (planner.plugins,
# planner.rules, planner.catalogs inside planner/) is what the frozen app imports, whatever
# way (editable or not) the planner is installed in the building environment.
staging="$work/staging"
rm -rf "$work/wheel" "$staging"
planner_wheel="${PLANNER_WHEEL:-}"
if [ -z "$planner_wheel" ]; then
    "$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w "$work/wheel" "$repo"
    planner_wheel="$(echo "$work"/wheel/llm_inference_planner-*.whl)"
fi
"$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-index --target "$staging" "$planner_wheel"
PLANNER_BUNDLE_STAGING="$staging" "$python" -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" \
    --workpath "$work" "$repo/packaging/planner.spec"
echo "$dist/planner: $(du -sh "$dist/planner" | cut -f1)"
