#!/usr/bin/env bash
# Make benchmarks/belay030/.venv with the original Belay project, version 0.30 (PyPI `belay`).
#
# Its import name `belay` clashes with ours (`belay-sdk`), so it gets a virtual environment of
# its own; benchmarks/bench_belay030.py runs worker.py with this venv's python. The patches it
# needs for the MicroPython unix port are applied at run time in worker.py, not here.
#
#   bash benchmarks/belay030/setup.sh          # idempotent: reuses a venv that already works
#   PYTHON=python3.12 bash benchmarks/belay030/setup.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
# 0.30.0 and 0.30.1 exist; the newest 0.30.x is taken.
spec="${BELAY030_SPEC:-belay==0.30.*}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c \
    'import importlib.metadata as m, sys; sys.exit(not m.version("belay").startswith("0.30."))' 2>/dev/null; then
    echo "belay030: $venv already has belay $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("belay"))')"
    exit 0
fi

rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
echo "belay030: installed belay $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("belay"))') in $venv"
