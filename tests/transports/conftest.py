"""Fixtures for the network ports: the served unix board behind socat or the RFC 2217 bridge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from network_ports import network_port


@pytest.fixture(params=["socket", "rfc2217"])
def network_url(request: pytest.FixtureRequest, served_board: str) -> Iterator[str]:
    """A ``socket://`` or ``rfc2217://`` URL to a served unix board."""
    with network_port(str(request.param), served_board) as url:
        yield url


@pytest.fixture(params=["pty", "socket", "rfc2217"])
def any_port(request: pytest.FixtureRequest, served_board: str) -> Iterator[str]:
    """The served unix board's pty, or a network port in front of it."""
    with network_port(str(request.param), served_board) as url:
        yield url
