#!/usr/bin/env bash
# labgrid in an environment of its own, .venv-labgrid: its package installs a fork of pyserial
# into the same serial/ package as pyserial (labgrid issue 1245), so it must never share belay's
# environment. belay runs its labgrid-client as a command (put .venv-labgrid/bin on PATH, or set
# BELAY_LABGRID_CLIENT); the lab tests find it here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-labgrid/bin/labgrid-client ]; then
  .venv/bin/python -m venv .venv-labgrid
  .venv-labgrid/bin/python -m pip install --quiet --disable-pip-version-check "labgrid>=26,<27"
fi
