#!/usr/bin/env bash
# Set up everything the suite needs, then run it: lint, types, the documentation site (mkdocs
# build --strict), tests on both virtual boards (every example of the README and docs/ among them),
# then the hardware-in-the-loop suite through the pytest plugin on each board and on both at once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
scripts/setup.sh virtual,test,docs
scripts/setup-labgrid.sh
export PATH="$PWD/.venv/bin:$PATH"

ruff check belay tests hil_tests benchmarks examples scripts
ruff format --check belay tests hil_tests benchmarks examples scripts
mypy belay
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$(mktemp -d)"  # the site: no broken link or reference
pytest -q -p no:cacheprovider -n 2 "$@"
pytest -q -p no:cacheprovider hil_tests --belay-port unix
pytest -q -p no:cacheprovider hil_tests --belay-port microbit
pytest -q -p no:cacheprovider hil_tests -n 2 --belay-port unix --belay-port microbit
