"""``belay install``: a package and its dependency from a local index the test builds and
serves on 127.0.0.1, onto the unix board, through mpremote's ``mip``."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import anyio
import pytest

from belay import DeviceCapabilityError, DeviceSession, DeviceSessionManager, SessionOptions
from belay.cli import main
from belay.cli.common import CliError
from belay.cli.install import default_target, install

pytestmark = pytest.mark.anyio

GREET = "import tiny\nVARIANT = {variant!r}\ndef hello():\n    return 'hi from greet %d' % tiny.VALUE\n"
TINY = "VALUE = 42\n"
TARGET = "belay_test_lib"


def _publish(root: Path, variant: str, name: str, files: dict[str, str], deps: list[list[str]],
             versions: tuple[str, ...] = ("latest", "1.0")) -> None:  # fmt: skip
    """``name``'s package.json under ``package/<variant>/`` and its files by hash, as mip wants."""
    hashes = []
    for path, text in files.items():
        data = text.encode()
        digest = hashlib.sha256(data).hexdigest()[:8]
        (root / "file" / digest[:2]).mkdir(parents=True, exist_ok=True)
        (root / "file" / digest[:2] / digest).write_bytes(data)
        hashes.append([path, digest])
    folder = root / "package" / variant / name
    folder.mkdir(parents=True, exist_ok=True)
    for version in versions:
        (folder / f"{version}.json").write_text(
            json.dumps({"hashes": hashes, "deps": deps, "version": "1.0"})
        )


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A package index on 127.0.0.1: ``greet`` (needs ``tiny``) for .py and for .mpy version 6."""
    root = tmp_path_factory.mktemp("index")
    for variant in ("py", "6"):
        _publish(
            root, variant, "greet", {"greet/__init__.py": GREET.format(variant=variant)}, [["tiny", "latest"]]
        )
        _publish(root, variant, "tiny", {"tiny.py": TINY}, [])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
async def session() -> AsyncIterator[DeviceSession]:
    async with (
        DeviceSessionManager(SessionOptions(call_timeout=20)) as manager,
        manager.session("unix") as opened,
    ):
        yield opened


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _import(session: DeviceSession, expression: str) -> object:
    await session.exec(f"import sys\nif {TARGET!r} not in sys.path: sys.path.insert(0, {TARGET!r})")
    return await session.eval(expression)


async def test_install_puts_the_package_and_its_dependency_where_they_import(
    session: DeviceSession, index: str
) -> None:
    assert await session.eval("getattr(__import__('sys').implementation, '_mpy', 0) & 0xFF") == 6
    with anyio.fail_after(60):
        written = await install(session, "greet", index=index, target=TARGET)
        assert written == [f"{TARGET}/greet/__init__.py", f"{TARGET}/tiny.py"]
        assert await _import(session, "__import__('greet').hello()") == "hi from greet 42"
        assert await session.eval("__import__('greet').VARIANT") == "6"  # the build for the board
        assert await install(session, "greet", index=index, target=TARGET) == []  # all there: by hash


@pytest.mark.microbit
async def test_install_on_the_microbit_goes_to_its_one_folder(index: str) -> None:
    """No sys.path, one flat folder: the default target is that folder, and it imports; a
    second install finds it there by its hash."""
    async with (
        DeviceSessionManager(SessionOptions(call_timeout=30)) as manager,
        manager.session("microbit") as session,
    ):
        with anyio.fail_after(60):
            assert await install(session, "tiny", index=index) == ["tiny.py"]
            await session.exec("import tiny")
            assert await session.eval("tiny.VALUE") == 42
            # No hashlib there: the host hashes the file read back, so nothing is written again.
            assert await install(session, "tiny", index=index) == []


class _Paths:
    """A session whose only answer is its board's ``sys.path``."""

    def __init__(self, paths: object) -> None:
        self.paths = paths

    async def eval(self, expression: str) -> object:
        return self.paths


@pytest.mark.parametrize(
    ("paths", "target"),
    [
        (["", "/rom/lib", "/flash/lib", "/lib"], "/flash/lib"),
        (None, "."),
        (["", "~/.micropython/lib"], "~/.micropython/lib"),
    ],
)
async def test_the_default_target_is_mips_lib_folder(paths: object, target: str) -> None:
    assert await default_target(_Paths(paths)) == target  # type: ignore[arg-type]


async def test_a_board_without_a_lib_folder_needs_a_target() -> None:
    with pytest.raises(CliError, match="--target"):
        await default_target(_Paths(["", ".frozen"]))  # type: ignore[arg-type]


@pytest.mark.microbit
async def test_a_package_with_folders_on_a_flat_board_is_a_clear_error(index: str) -> None:
    async with (
        DeviceSessionManager(SessionOptions(call_timeout=30)) as manager,
        manager.session("microbit") as session,
    ):
        with anyio.fail_after(60), pytest.raises(DeviceCapabilityError, match="flat filesystem"):
            await install(session, "greet", index=index)


async def test_install_a_version_as_sources(session: DeviceSession, index: str) -> None:
    with anyio.fail_after(60):
        await install(session, "greet@1.0", index=index, target=TARGET + "_py", mpy=False)
        assert await session.eval(f"open('{TARGET}_py/greet/__init__.py').read()") == GREET.format(
            variant="py"
        )


async def test_an_index_that_cannot_be_reached_is_a_clear_error(session: DeviceSession) -> None:
    index = f"http://127.0.0.1:{_closed_port()}"
    with anyio.fail_after(30), pytest.raises(CliError, match=f"cannot reach the package index {index}"):
        await install(session, "greet", index=index, target=TARGET)


async def test_a_package_not_in_the_index_is_a_clear_error(session: DeviceSession, index: str) -> None:
    with anyio.fail_after(30), pytest.raises(CliError, match="Package not found"):
        await install(session, "nothing-of-the-kind", index=index, target=TARGET)


def test_the_command_installs_and_reports_in_one_line(index: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install", "greet", "--port", "unix", "--index", index, "--target", TARGET]) == 0
    out = capsys.readouterr().out
    assert f"Installing: {TARGET}/tiny.py" in out and "Done" in out
    closed = f"http://127.0.0.1:{_closed_port()}"
    assert main(["install", "greet", "--port", "unix", "--index", closed, "--target", TARGET]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"belay: error: cannot reach the package index {closed}")
