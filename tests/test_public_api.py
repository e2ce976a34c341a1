"""``belay.__all__`` is the public surface: every name exists, and nothing is exported twice."""

from __future__ import annotations

import belay
import belay.errors


def test_every_exported_name_exists() -> None:
    missing = [name for name in belay.__all__ if not hasattr(belay, name)]
    assert missing == []
    assert len(set(belay.__all__)) == len(belay.__all__)


def test_every_error_is_a_belay_error_and_exported() -> None:
    for name in belay.errors.__all__:
        error = getattr(belay.errors, name)
        assert issubclass(error, belay.errors.BelayError)
        assert name in belay.__all__


def test_timeout_error_is_also_builtin_timeout() -> None:
    assert issubclass(belay.DeviceTimeoutError, TimeoutError)
