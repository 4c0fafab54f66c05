#!/usr/bin/env bash
# Idempotent set-up of a taskscope checkout on a fresh Debian 12 machine (or a warm one).
#
#   bash scripts/setup.sh
#
# What it makes sure of, each step skipped when already done (a warm run takes seconds):
#   1. system packages: Debian's chromium (the browser tests drive it; Playwright's own browser
#      download cannot work here) and libpython3.11-testsuite;
#   2. a virtual environment in .venv/ made with `python3` (override with PYTHON=...);
#   3. the front end: `npm ci` in js/ (`npm install` without a lockfile), then `npm run build`,
#      which writes kernel_ext/static/;
#   4. the JupyterLab sidebar extension: `npm ci` in js/lab/, then `npm run build` (webpack via
#      @jupyterlab/builder), which writes kernel_ext/labextension/;
#   5. taskscope itself, editable, with the test and benchmark extras: `pip install -e ".[test,bench]"`;
#   6. the sidebar made visible to JupyterLab in .venv: a symlink
#      .venv/share/jupyter/labextensions/taskscope-labextension -> kernel_ext/labextension/
#      (an editable wheel carries no shared data for it: see hatch_build.py).
# The front ends are built before the pip step so that the wheel build's hooks find them
# fresh and skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PYTHON=${PYTHON:-python3}
VENV="$ROOT/.venv"
# Stamp files: a hash of the inputs of the last successful step, to skip it when unchanged.
PIP_STAMP="$VENV/.taskscope-pip-stamp"
NPM_STAMP="$ROOT/js/node_modules/.taskscope-npm-stamp"
STATIC_TARGETS=(kernel_ext/static/widget.js kernel_ext/static/widget.css kernel_ext/static/progress-widget.js kernel_ext/static/progress-widget.css kernel_ext/static/page.js kernel_ext/static/carrier.js kernel_ext/static/loader.js)
LAB_NPM_STAMP="$ROOT/js/lab/node_modules/.taskscope-npm-stamp"
LABEXT_NAME=taskscope-labextension

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

say() { printf 'setup: %s\n' "$*" >&2; }

# sha256 over the given files (missing files hash as empty), plus any extra words.
stamp_of() {
    local f
    {
        for f in "$@"; do
            if [ -f "$f" ]; then cat "$f"; else printf '<missing %s>' "$f"; fi
        done
    } | sha256sum | cut -d' ' -f1
}

# pip, minus the harmless "Location '...' is ignored: it is neither a file nor a directory"
# warnings this machine's pip configuration prints for every package; keeps pip's exit status.
pip_quiet() {
    local rc=0
    # `|| rc=...` keeps errexit from firing; grep finding nothing to print is not an error.
    "$VENV/bin/python" -m pip "$@" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; } \
        || rc=${PIPESTATUS[0]}
    return "$rc"
}

# ---------------------------------------------------------------------------------------------
# 1. system packages
# ---------------------------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! dpkg-query -W -f='${Status}' libpython3.11-testsuite 2>/dev/null | grep -q "install ok installed"; then
    missing+=(libpython3.11-testsuite)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "not root: skipping 'apt-get install ${missing[*]}'; install them yourself" \
            "(the browser tests need /usr/bin/chromium)."
    elif ! command -v apt-get >/dev/null 2>&1; then
        say "no apt-get on this machine: skipping ${missing[*]}; the browser tests need chromium."
    else
        say "installing system packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# ---------------------------------------------------------------------------------------------
# 2. virtual environment
# ---------------------------------------------------------------------------------------------
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "" >/dev/null 2>&1; then
    say "$VENV is broken (its interpreter does not start); making it anew"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

# ---------------------------------------------------------------------------------------------
# 3. front end (js/ is written in parallel with the Python side; tolerate its absence here,
#    the version test and the wheel build will say what is missing)
# ---------------------------------------------------------------------------------------------
if [ -f js/package.json ]; then
    if ! command -v npm >/dev/null 2>&1; then
        say "npm not found: install Node.js 20 and npm, then run this again."
        exit 1
    fi
    want=$(stamp_of js/package.json js/package-lock.json)
    if [ ! -d js/node_modules ] || [ "$(cat "$NPM_STAMP" 2>/dev/null)" != "$want" ]; then
        if [ -f js/package-lock.json ]; then
            say "npm ci in js/"
            (cd js && npm ci --loglevel=error)
        else
            say "npm install in js/ (no package-lock.json)"
            (cd js && npm install --loglevel=error)
        fi
        echo "$want" > "$NPM_STAMP"
    fi

    # Build when a target is missing or any build input is newer than the oldest target.
    stale=0
    for t in "${STATIC_TARGETS[@]}"; do [ -f "$t" ] || stale=1; done
    if [ "$stale" -eq 0 ]; then
        oldest=$(ls -tr "${STATIC_TARGETS[@]}" | head -n1)
        if [ -n "$(find js -path js/node_modules -prune -o -path js/test -prune -o -path js/dev -prune \
                       -o -type f -newer "$oldest" -print -quit)" ]; then
            stale=1
        fi
    fi
    if [ "$stale" -eq 1 ]; then
        say "building the front end (npm run build)"
        (cd js && npm run build --silent)
    fi
else
    say "js/package.json not found: skipping the front-end build (kernel_ext/static/ stays as it is)."
fi

# ---------------------------------------------------------------------------------------------
# 4. the JupyterLab sidebar extension (js/lab/ -> kernel_ext/labextension/)
# ---------------------------------------------------------------------------------------------
if [ -f js/lab/package.json ]; then
    want=$(stamp_of js/lab/package.json js/lab/package-lock.json)
    if [ ! -d js/lab/node_modules ] || [ "$(cat "$LAB_NPM_STAMP" 2>/dev/null)" != "$want" ]; then
        say "npm ci in js/lab/ (JupyterLab extension build tools; ~20 s cold)"
        (cd js/lab && npm ci --loglevel=error)
        echo "$want" > "$LAB_NPM_STAMP"
    fi
    # The same staleness rule as the wheel build (hatch_build.py: labextension_is_stale).
    if [ ! -f kernel_ext/labextension/package.json ] || [ ! -f kernel_ext/labextension/install.json ] \
        || [ -n "$(find js/lab/src js/lab/style js/lab/package.json js/lab/package-lock.json \
                        js/lab/build.mjs js/lab/install.json \
                        -type f -newer kernel_ext/labextension/package.json -print -quit)" ]; then
        say "building the JupyterLab extension (npm run build in js/lab/, ~10 s)"
        (cd js/lab && npm run build --silent)
    fi
fi

# ---------------------------------------------------------------------------------------------
# 5. taskscope, editable, with its test and benchmark extras
# ---------------------------------------------------------------------------------------------
want=$(stamp_of pyproject.toml hatch_build.py; "$VENV/bin/python" -VV)
installed_ok() {
    # from / so that nothing in the checkout can stand in for the installed package
    (cd / && "$VENV/bin/python" -c "import taskscope, taskscope.pool") >/dev/null 2>&1
}
if [ "$(cat "$PIP_STAMP" 2>/dev/null)" != "$want" ] || ! installed_ok; then
    say "pip install -e '.[test,bench]' (quiet; a cold install takes about a minute)"
    pip_quiet install -q -e ".[test,bench]"
    installed_ok || { say "taskscope does not import after installing it"; exit 1; }
    echo "$want" > "$PIP_STAMP"
fi

# ---------------------------------------------------------------------------------------------
# 6. the sidebar in .venv's JupyterLab: link, as `jupyter labextension develop` would. An
#    editable wheel installs no copy (a copy would be frozen at install time and owned by pip).
# ---------------------------------------------------------------------------------------------
if [ -d kernel_ext/labextension ]; then
    labext_dir="$VENV/share/jupyter/labextensions"
    link="$labext_dir/$LABEXT_NAME"
    target="../../../../kernel_ext/labextension"  # relative: survives moving the checkout
    if [ "$(readlink "$link" 2>/dev/null)" != "$target" ]; then
        mkdir -p "$labext_dir"
        # a copy left by an earlier non-editable install (pip owned it) is replaced by the link
        rm -rf "$link"
        ln -s "$target" "$link"
        say "linked $link -> kernel_ext/labextension"
    fi
fi

say "ready: $("$VENV/bin/python" -c 'import taskscope; print("taskscope", taskscope.__version__)')," \
    "$(chromium --version 2>/dev/null | head -n1 || echo 'no chromium')"
