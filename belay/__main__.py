"""``python -m belay`` is the ``belay`` command."""

import sys

from belay.cli import main

sys.exit(main())
