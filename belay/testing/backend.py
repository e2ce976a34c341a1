"""The default ``anyio_backend`` for belay's fixtures: registered by the plugin after every
entry-point plugin, so it wins over anyio's own (module-scoped) default; a conftest's
``anyio_backend`` wins over both."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The session-scoped ``belay_manager`` needs a session-scoped backend: asyncio."""
    return "asyncio"
