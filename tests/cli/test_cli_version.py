"""``belay --version`` reads the version without importing :mod:`importlib.metadata`."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path


def test_the_version_is_the_distributions_and_importlib_metadata_is_not_imported(tmp_path: Path) -> None:
    probe = "import sys\nimport belay\nprint(belay.__version__)\nprint('importlib.metadata' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=True)  # fmt: skip
    assert done.stdout.split() == [version("belay-sdk"), "False"]
