"""The device half's source files (``device/``), read as package data, never imported."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path


@cache
def device_file(name: str) -> bytes:
    """The bytes of ``device/<name>``: from the installed wheel, else from a source checkout."""
    packaged = resources.files("belay").joinpath("_device", name)
    if packaged.is_file():
        return packaged.read_bytes()
    checkout = Path(__file__).resolve().parents[2] / "device" / name
    if checkout.is_file():
        return checkout.read_bytes()
    raise FileNotFoundError(f"device file {name!r} is missing from this installation")


def minify(source: bytes) -> bytes:
    """Drop comment and blank lines and shrink indentation: fewer bytes on a slow line."""
    lines = []
    for line in source.decode("utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            depth = (len(line) - len(line.lstrip(" "))) // 4
            lines.append(" " * depth + stripped)
    return ("\n".join(lines) + "\n").encode("utf-8")


@cache
def minified_device_file(name: str) -> bytes:
    """``device/<name>`` without its comments, for sending."""
    return minify(device_file(name))
