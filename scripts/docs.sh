#!/usr/bin/env bash
# Build the documentation site into site/ from a clean clone, as CI builds it (strict: a broken
# link or reference fails). `scripts/docs.sh serve` serves it at http://127.0.0.1:8000 instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh virtual,docs
export NO_MKDOCS_2_WARNING=1
if [ "${1:-build}" = "serve" ]; then
  exec .venv/bin/mkdocs serve
fi
.venv/bin/mkdocs build --strict --site-dir site
echo "docs: open site/index.html"
