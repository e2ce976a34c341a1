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

ESCAPED = "belay_test_escaped_PWNED.py"
"""What the hostile packages try to write one and three folders above their target."""
HOSTILE: list[tuple[str, dict[str, str], list[list[str]]]] = [
    # A good file first: a refusal must come before anything is written.
    ("escape", {"fine.py": "X = 1\n", f"../../{ESCAPED}": "PWNED = 1\n"}, []),
    ("escape-deep", {f"a/../../../{ESCAPED}": "PWNED = 1\n"}, []),
    ("absolute", {"fine.py": "X = 1\n", f"/tmp/{ESCAPED}": "PWNED = 1\n"}, []),
    ("needs-escape", {"nice.py": "X = 1\n"}, [["escape", "latest"]]),
    ("agent", {"belay_agent.py": "def hijacked(): pass\n"}, []),
    ("startup", {"main.py": "print('took over')\n"}, []),
    ("loop-a", {"loop_a.py": "A = 1\n"}, [["loop-b", "latest"], ["tiny", "latest"]]),
    ("loop-b", {"loop_b.py": "B = 1\n"}, [["loop-a", "latest"], ["tiny", "latest"]]),
]
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
        for name, files, deps in HOSTILE:
            _publish(root, variant, name, files, deps)
        _publish(
            root, variant, "sneaky", {"fine.py": "X = 1\n"}, [[str(root / "host" / "package.json"), "latest"]]
        )
    (root / "host").mkdir()
    (root / "host" / "secret.txt").write_text("the host's own\n")
    (root / "host" / "package.json").write_text(json.dumps({"urls": [["stolen.py", "secret.txt"]]}))
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


async def test_an_index_that_never_answers_is_a_clear_error_not_a_hang(
    session: DeviceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mip gives urllib no timeout: a server that takes the connection and says nothing hung it."""
    import belay.cli.install

    monkeypatch.setattr(belay.cli.install, "INDEX_TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # connections complete in the backlog; nothing is ever read or sent
        index = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with anyio.fail_after(30), pytest.raises(CliError) as failed:
            await install(session, "greet", index=index, target=TARGET)
    assert str(failed.value) == (
        f"cannot install greet: the package index {index} (or a URL it named) sent nothing for 0.5 s; "
        "nothing was written to the board at unix"
    )
    assert socket.getdefaulttimeout() is None  # as it was


async def test_dependencies_in_a_cycle_are_planned_once(session: DeviceSession, index: str) -> None:
    """loop-a needs loop-b needs loop-a (and both need tiny): mip alone recursed until Python's
    stack ran out; each package is planned, and each file written, once."""
    with anyio.fail_after(60):
        written = await install(session, "loop-a", index=index, target=f"{TARGET}_loop")
    assert written == [f"{TARGET}_loop/loop_a.py", f"{TARGET}_loop/loop_b.py", f"{TARGET}_loop/tiny.py"]


@pytest.mark.parametrize("package", ["a@1@2", "", "@1.0"])
async def test_a_malformed_package_is_a_clear_error(session: DeviceSession, index: str, package: str) -> None:
    with pytest.raises(CliError, match="is not a package: give NAME, NAME@VERSION"):
        await install(session, package, index=index, target=TARGET)


async def test_a_package_not_in_the_index_is_a_clear_error(session: DeviceSession, index: str) -> None:
    with anyio.fail_after(30), pytest.raises(CliError, match="Package not found"):
        await install(session, "nothing-of-the-kind", index=index, target=TARGET)


def test_the_command_installs_and_reports_in_one_line(index: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install", "greet", "--port", "unix", "--index", index, "--target", TARGET]) == 0
    out = capsys.readouterr().out
    assert f"Installing: {TARGET}/tiny.py" in out and "Done: 2 file(s) written, 0 already there" in out
    closed = f"http://127.0.0.1:{_closed_port()}"
    assert main(["install", "greet", "--port", "unix", "--index", closed, "--target", TARGET]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"belay: error: cannot reach the package index {closed}")
    assert err[0].endswith("nothing was written to the board at unix")
    assert "partially installed" not in captured.out


# --- hostile indexes: nothing outside the target, nothing of belay's, no startup file unasked ----


async def _folder(session: DeviceSession) -> Path:
    """The board's folder on the host (a unix board's filesystem is a host folder)."""
    return Path(str(await session.eval("__import__('os').getcwd()")))


def _escaped(folder: Path) -> list[Path]:
    """Every place a hostile package above tries to reach, that exists."""
    places = [
        folder / ESCAPED,
        folder.parent / ESCAPED,
        folder.parent.parent / ESCAPED,
        Path("/tmp") / ESCAPED,
    ]
    return [place for place in places if place.exists()]


@pytest.mark.parametrize(
    ("package", "refusal"),
    [
        ("escape", f"escape brings '../../{ESCAPED}', a path outside the target folder"),
        ("escape-deep", f"escape-deep brings 'a/../../../{ESCAPED}', a path outside the target folder"),
        ("absolute", f"absolute brings '/tmp/{ESCAPED}', a path outside the target folder"),
        ("needs-escape", "escape brings"),  # the dependency that brings it is named
    ],
)
async def test_a_package_path_outside_its_target_is_refused_before_anything_is_written(
    session: DeviceSession, index: str, package: str, refusal: str
) -> None:
    folder = await _folder(session)
    target = f"{TARGET}_hostile/lib"
    with anyio.fail_after(60), pytest.raises(CliError) as refused:
        await install(session, package, index=index, target=target)
    assert str(refused.value).startswith(f"refused to install {package}: {refusal}")
    assert str(refused.value).endswith("nothing was written to the board at unix")
    assert _escaped(folder) == []
    assert not (folder / f"{TARGET}_hostile").exists()  # not even fine.py, nor lib/


async def test_a_package_may_not_overwrite_belays_agent(session: DeviceSession, index: str) -> None:
    folder = await _folder(session)
    agent = sorted(path.name for path in folder.iterdir() if path.name.startswith("belay_agent"))
    before = {name: (folder / name).read_bytes() for name in agent}
    assert before, "the agent lives in the board's folder"
    with anyio.fail_after(60), pytest.raises(CliError, match=r"overwrite belay's own file belay_agent\.py"):
        await install(session, "agent", index=index, target=".")
    assert {name: (folder / name).read_bytes() for name in agent} == before
    assert await session.eval("1 + 1") == 2  # the agent still answers


async def test_boot_and_main_need_the_users_word(session: DeviceSession, index: str) -> None:
    folder = await _folder(session)
    with (
        anyio.fail_after(60),
        pytest.raises(CliError, match=r"'main\.py', which the board runs at every boot"),
    ):
        await install(session, "startup", index=index, target=".")
    assert not (folder / "main.py").exists()
    with anyio.fail_after(60):
        assert await install(session, "startup", index=index, target=".", allow_boot_files=True) == [
            "main.py"
        ]
    assert (folder / "main.py").read_text() == "print('took over')\n"
    assert await install(session, "startup", index=index, target="lib") == ["lib/main.py"]  # not at the root


def test_a_hostile_index_on_a_served_board_writes_nothing_on_the_host(
    index: str, served_board: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The served board's folder is a host folder: ``../../x`` from its lib once landed beside it."""
    for package in ("escape", "escape-deep"):
        assert main(["install", package, "--port", served_board, "--index", index, "--target", "lib"]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"belay: error: refused to install {package}: ")
        assert "partially installed" not in captured.out
    assert main(["install", "agent", "--port", served_board, "--index", index, "--target", "."]) == 2
    assert "belay's own file" in capsys.readouterr().err
    assert main(["exec", "--port", served_board, "import os\nprint(os.getcwd())"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert _escaped(folder) == []
    assert not (folder / "lib").exists()
    assert main(["exec", "--port", served_board, "print(6 * 7)"]) == 0  # the agent is intact
    assert capsys.readouterr().out.strip() == "42"


# --- what a failure says ------------------------------------------------------------------------


async def test_a_package_url_that_cannot_be_reached_is_not_blamed_on_the_index(
    session: DeviceSession,
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/greet"
    with anyio.fail_after(30), pytest.raises(CliError) as failed:
        await install(session, url, target=TARGET)
    message = str(failed.value)
    assert message.startswith(f"cannot reach {url}/package.json: ") and "micropython.org" not in message
    assert message.endswith("nothing was written to the board at unix")


async def test_the_default_target_on_unix_is_the_boards_own_folder(
    session: DeviceSession, index: str
) -> None:
    """Not the host's ``~/.micropython/lib``: the unix board's HOME is its folder."""
    folder = await _folder(session)
    with anyio.fail_after(60):
        written = await install(session, "tiny", index=index)
    assert written == [f"{folder}/.micropython/lib/tiny.py"]
    assert (folder / ".micropython" / "lib" / "tiny.py").read_text() == TINY
    assert await session.eval("__import__('tiny').VALUE") == 42


@pytest.mark.microbit
async def test_a_package_too_large_for_the_microbit_is_the_filesystem_is_full_line(
    tmp_path: Path,
) -> None:
    root = tmp_path / "index"
    _publish(root, "py", "big", {"small.py": "S = 1\n", "big.py": "B = %r\n" % ("x" * 1800)}, [])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with (
            DeviceSessionManager(SessionOptions(call_timeout=30)) as manager,
            manager.session("microbit") as session,
        ):
            await session.exec(FILL_MICROBIT)
            try:
                with anyio.fail_after(90), pytest.raises(CliError) as failed:
                    await install(
                        session, "big", index=f"http://127.0.0.1:{server.server_address[1]}", mpy=False
                    )
            finally:
                await session.exec(REMOVE_MICROBIT_FILES)
    finally:
        server.shutdown()
        server.server_close()
    message = str(failed.value)
    assert message.startswith("installing big stopped at big.py (big): could not write 'big.py' on the board")
    assert (
        "filesystem is full" in message
        and "microbit" in message
        and "OSError: 28" not in message.split(":")[0]
    )
    assert message.endswith("written before it: small.py")


REMOVE_MICROBIT_FILES = (
    "import os\nfor n in ('filler.bin','small.py','big.py'):\n try: os.remove(n)\n except OSError: pass"
)
FILL_MICROBIT = (  # fill the flash behind belay's back, leaving ~2 KB (belay keeps ~1 KB of it free)
    "f=open('filler.bin','wb')\nb=b'x'*128\nn=0\ntry:\n while 1:\n  f.write(b)\n  n+=128\n"
    "except OSError:\n pass\ntry:\n f.close()\nexcept OSError:\n pass\n"
    "if 'filler.bin' in __import__('os').listdir():__import__('os').remove('filler.bin')\n"
    "f=open('filler.bin','wb')\nfor i in range(n//128-16): f.write(b)\nf.close()"
)


async def test_a_folder_where_a_file_goes_is_one_line_and_nothing_is_written(
    session: DeviceSession, index: str
) -> None:
    target = f"{TARGET}_blocked"
    await session.fs.mkdir(f"{target}/tiny.py", parents=True)
    with anyio.fail_after(60), pytest.raises(CliError) as failed:
        await install(session, "greet", index=index, target=target)
    message = str(failed.value)
    assert message.startswith("cannot install greet: ")
    assert message.endswith("nothing was written to the board at unix")
    assert "tiny.py" in message and "\n" not in message
    assert not await session.eval(f"'greet' in __import__('os').listdir({target!r})")


async def test_an_index_cannot_make_the_host_read_its_own_files(session: DeviceSession, index: str) -> None:
    """A dependency named by a host path (``/somewhere/package.json``) was opened on the host,
    and its relative ``urls`` with it: a host file copied onto the board."""
    folder = await _folder(session)
    with anyio.fail_after(60), pytest.raises(CliError) as refused:
        await install(session, "sneaky", index=index, target=f"{TARGET}_sneaky")
    message = str(refused.value)
    assert (
        message.startswith("refused to install sneaky: sneaky depends on '/")
        and "a file on this host" in message
    )
    assert not (folder / f"{TARGET}_sneaky").exists()
