#!/usr/bin/env bash
# Create the project's virtual environment with a Python >= 3.12 and install the package
# editable with its test and wheel (embedded DOLFINx) extras. Idempotent: `make setup`
# only calls it when pyproject.toml changed or the venv is missing.
set -euo pipefail
venv="${1:-.venv}"

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
    if [ -n "${PYTHON:-}" ]; then
        ok "$PYTHON" && { echo "$PYTHON"; return; }
        echo "PYTHON=$PYTHON is not a Python >= 3.12" >&2; exit 1
    fi
    for cand in python3.13 python3.12; do
        if command -v "$cand" >/dev/null 2>&1 && ok "$cand"; then command -v "$cand"; return; fi
    done
    if command -v pyenv >/dev/null 2>&1 || [ -d "${PYENV_ROOT:-$HOME/.pyenv}" ]; then
        root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
        for cand in $(ls -d "$root"/versions/3.1[3-9]* "$root"/versions/3.12* 2>/dev/null | sort -rV); do
            for exe in "$cand"/bin/python3.1[2-9]; do
                [ -x "$exe" ] && ok "$exe" && { echo "$exe"; return; }
            done
        done
    fi
    cat >&2 <<MSG
No Python >= 3.12 found (tried \$PYTHON, python3.13, python3.12, pyenv versions).
Install one, e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv',
or point PYTHON=/path/to/python3.12 at it.
MSG
    exit 1
}

if [ ! -x "$venv/bin/python" ] || ! ok "$venv/bin/python"; then
    py="$(find_python)"
    echo "creating $venv with $py ($("$py" --version))"
    rm -rf "$venv"
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[test,wheel,tetgen]"
echo "environment ready: $venv"
