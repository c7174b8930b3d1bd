#!/usr/bin/env bash
# Build the offline wheelhouse: the planner's wheel and every dependency, for each Python
# given (default: python3.11 and python3.12, the versions the planner supports), on the
# platform this runs on (Linux x86_64 in CI). durable-rules is published as source only, so
# it is compiled here into a wheel per Python (a C compiler is needed on the build machine,
# never on the laptops). With --aic, the optional aiconfigurator performance model goes into
# a second wheelhouse (Linux x86_64 only), so sites that do not want it skip its size.
#
#   bash packaging/build_wheelhouse.sh                      # dist/wheelhouse/
#   bash packaging/build_wheelhouse.sh --aic                # and dist/wheelhouse-aic/
#   PYTHONS=python3.12 bash packaging/build_wheelhouse.sh   # one Python only
#   OUT=/tmp/wh bash packaging/build_wheelhouse.sh          # another folder
#   PLANNER_WHEEL=dist/llm_inference_planner-0.1.0-py3-none-any.whl bash packaging/build_wheelhouse.sh
#                                           # with a planner wheel built already (default: built here)
#
# Windows (PowerShell, with the MSVC build tools) and macOS (with the Xcode command line
# tools) build theirs the same way, one line per Python:
#   py -3.12 -m pip wheel --wheel-dir wheelhouse .
#   python3.12 -m pip wheel --wheel-dir wheelhouse .
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$repo/dist/wheelhouse}"
aic_out="${AIC_OUT:-${out}-aic}"
pythons="${PYTHONS:-python3.11 python3.12}"
planner="${PLANNER_WHEEL:-$repo}"
with_aic=0
for arg in "$@"; do
    case "$arg" in
        --aic) with_aic=1 ;;
        *) echo "usage: $0 [--aic]  (PYTHONS, OUT and AIC_OUT in the environment)" >&2; exit 2 ;;
    esac
done
aic_requirement="$(sed -n 's/^aic = \["\([^;"]*\).*/\1/p' "$repo/pyproject.toml")"

rm -rf "$out" && mkdir -p "$out"
for python in $pythons; do
    if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; then
        echo "error: $python is not a working Python 3.11 or 3.12; install it or set PYTHONS" \
            "(e.g. PYTHONS=\"python3.11 /opt/python3.12/bin/python3\")" >&2
        exit 2
    fi
    echo "== $python: the planner and its dependencies"
    "$python" -m pip wheel --disable-pip-version-check --quiet --wheel-dir "$out" "$planner"
done

if [ "$with_aic" = 1 ]; then
    rm -rf "$aic_out" && mkdir -p "$aic_out"
    for python in $pythons; do
        echo "== $python: $aic_requirement (the aic extra)"
        # The planner's own wheelhouse is offered first, so only what the extra adds is fetched.
        "$python" -m pip wheel --disable-pip-version-check --quiet --find-links "$out" \
            --wheel-dir "$aic_out" "$aic_requirement"
    done
    # Keep in the aic wheelhouse only what the planner's wheelhouse lacks.
    for wheel in "$aic_out"/*.whl; do
        if [ -e "$out/$(basename "$wheel")" ]; then rm "$wheel"; fi
    done
fi

for folder in "$out" $([ "$with_aic" = 1 ] && echo "$aic_out"); do
    (cd "$folder" && sha256sum -- *.whl > SHA256SUMS)
    echo "$folder: $(ls "$folder"/*.whl | wc -l) wheels, $(du -sh "$folder" | cut -f1)"
done
