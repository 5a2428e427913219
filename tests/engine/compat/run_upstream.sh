#!/usr/bin/env bash
# Runs executor-engine's own test suite against pylo.engine: the measure of "drop-in".
#
#   tests/engine/compat/run_upstream.sh SOURCE [pytest args...]
#
# SOURCE is a checkout of https://github.com/Nanguage/executor-engine (a directory holding
# tests/) or its bare git directory. Its tests are copied to a temporary directory outside this
# repository, the only change made to them is `executor.engine` -> `pylo.engine` in the imports,
# and they run with this repository's virtualenv (PYTHON overrides it) installed with the bench
# extra (it brings cmd2func and loguru, which their tests import). Their suite also needs the
# pytest-asyncio plugin: it is installed once into .venv/compat-plugins and put on PYTHONPATH for
# this run only, so that our own suite never loads it.
# Prints the pass/fail counts last. Not part of `make test`: it needs code fetched from the net.
set -euo pipefail
src=${1:?usage: $0 SOURCE [pytest args...]}
shift
here=$(cd "$(dirname "$0")/../../.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
work=$(mktemp -d "${TMPDIR:-/tmp}/pylo-engine-compat.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -d "$src/tests" ]; then
    cp -r "$src/tests" "$work/tests"
else  # a git directory
    mkdir -p "$work/tests"
    git --git-dir="$src" archive HEAD tests | tar -x -C "$work"
fi
# Only the imports change.
find "$work/tests" -name '*.py' -print0 | xargs -0 sed -i -E \
    -e 's/^(\s*)from executor\.engine/\1from pylo.engine/' \
    -e 's/^(\s*)import executor\.engine/\1import pylo.engine/'
plugins=$here/.venv/compat-plugins
if [ ! -d "$plugins/pytest_asyncio" ]; then
    "$python" -m pip install --quiet --target "$plugins" --no-deps 'pytest-asyncio>=0.23'
fi
cd "$work"
export PYTHONPATH="$plugins${PYTHONPATH:+:$PYTHONPATH}"
set +e
"$python" -m pytest tests -q -p no:cacheprovider --rootdir "$work" -o addopts= --continue-on-collection-errors \
    -o asyncio_mode=strict -o asyncio_default_fixture_loop_scope=function --timeout "${COMPAT_TIMEOUT:-60}" -rfE "$@" 2>&1 | tee "$work/log"
status=${PIPESTATUS[0]}
set -e
echo "executor-engine suite against pylo.engine: $(tail -n 1 "$work/log")"
exit "$status"
