#!/usr/bin/env bash
# Set up everything the suite needs, then run it: lint, types, tests on both virtual boards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
scripts/setup.sh virtual,test
export PATH="$PWD/.venv/bin:$PATH"

ruff check belay tests benchmarks examples scripts
ruff format --check belay tests benchmarks examples scripts
mypy belay
pytest -q -p no:cacheprovider -n 2 "$@"
