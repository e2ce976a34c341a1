"""Fixtures: the network ports (the served unix board behind socat or the RFC 2217 bridge), and
a bare pty a test opens as a serial port."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from network_ports import network_port

from belay.transports.pty_server import open_client_pty


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


@pytest.fixture
def pty_port() -> Iterator[str]:
    """The path of a pty nothing answers on (its other end held open by the test)."""
    master, slave, path = open_client_pty()
    os.close(slave)
    try:
        yield path
    finally:
        os.close(master)
