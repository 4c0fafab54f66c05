#!/usr/bin/env bash
# Install everything (scripts/setup.sh) and run every test suite.
#
#   bash scripts/test.sh                 # JS unit tests, then all pytest suites
#   bash scripts/test.sh --full          # the same with long soak/chaos/benchmark sizes
#   bash scripts/test.sh -k signing -x   # other arguments go to pytest unchanged
#
# Exits non-zero when any suite fails, and when pytest collects no test at all (its exit
# code 5): a run that tested nothing must not pass.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

full=0
pytest_args=()
for arg in "$@"; do
    if [ "$arg" = "--full" ]; then full=1; else pytest_args+=("$arg"); fi
done

bash scripts/setup.sh

if [ "$full" -eq 1 ]; then
    export TASKSCOPE_FULL=1  # read by the soak, chaos and benchmark tests to pick long sizes
fi

js_status=0
if [ -d js/test ]; then
    echo "== JS unit tests (node --test) =="
    if grep -q '"test"[[:space:]]*:' js/package.json 2>/dev/null; then
        (cd js && npm test --silent) || js_status=$?   # js/package.json's own test script
    else
        (cd js && node --test test/) || js_status=$?
    fi
fi
if [ -d js/lab/test ]; then
    echo "== JS unit tests of the JupyterLab extension (node --test) =="
    (cd js/lab && node --test test/) || js_status=$?
fi

echo "== Python tests (pytest) =="
# No path given: pytest uses `testpaths = ["tests"]` from pyproject.toml, i.e. every suite
# (unit, integration, kernel, browser); a path in the arguments narrows the run.
py_status=0
.venv/bin/python -m pytest "${pytest_args[@]}" || py_status=$?
if [ "$py_status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; failing, since a run that tests nothing proves nothing." >&2
fi

if [ "$js_status" -ne 0 ]; then
    echo "test.sh: JS unit tests failed (exit $js_status)" >&2
fi
if [ "$py_status" -ne 0 ]; then
    exit "$py_status"
fi
exit "$js_status"
