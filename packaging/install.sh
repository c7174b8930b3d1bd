#!/bin/sh
# Install the planner on a Linux or macOS machine with no network, from a wheelhouse that
# packaging/build_wheelhouse.sh built on a machine of the same platform.
#
#   sh install.sh WHEELHOUSE [ENV_FOLDER]          # default ENV_FOLDER: ~/planner-env
#   AIC_WHEELHOUSE=wheelhouse-aic sh install.sh WHEELHOUSE   # with the aiconfigurator model
#   PYTHON=python3.12 sh install.sh WHEELHOUSE     # another interpreter (3.11 or 3.12)
#
# It checks every wheel against the wheelhouse's SHA256SUMS, creates a virtual environment,
# installs with `pip install --no-index --find-links` (pip never looks for an index) and
# runs `planner demo` once to prove the install works.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: sh install.sh WHEELHOUSE [ENV_FOLDER]" >&2
    exit 2
fi
wheelhouse=$1
env_folder=${2:-$HOME/planner-env}
python=${PYTHON:-python3}

verify() {
    if [ ! -f "$1/SHA256SUMS" ]; then
        echo "error: $1/SHA256SUMS is missing: copy the whole wheelhouse folder" >&2
        exit 2
    fi
    if command -v sha256sum >/dev/null 2>&1; then
        (cd "$1" && sha256sum --quiet -c SHA256SUMS)
    else
        (cd "$1" && shasum -a 256 --quiet -c SHA256SUMS)
    fi || { echo "error: $1: a wheel does not match SHA256SUMS: copy the wheelhouse again" >&2; exit 2; }
}

if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; then
    echo "error: $python is not Python 3.11 or 3.12; set PYTHON to one (e.g. PYTHON=python3.12)" >&2
    exit 2
fi
verify "$wheelhouse"
requirement=llm-inference-planner
links="--find-links $wheelhouse"
if [ -n "${AIC_WHEELHOUSE:-}" ]; then
    verify "$AIC_WHEELHOUSE"
    requirement="llm-inference-planner[aic]"
    links="$links --find-links $AIC_WHEELHOUSE"
fi
"$python" -m venv "$env_folder"
# shellcheck disable=SC2086  # $links is two or four words on purpose
"$env_folder/bin/python" -m pip install --no-index --disable-pip-version-check --quiet $links "$requirement"
"$env_folder/bin/planner" demo >/dev/null
echo "installed: $env_folder/bin/planner and $env_folder/bin/planner-gui"
