"""Files and paths as people have them (issue 26, items 1-5; issue 25, items 2, 7, 9): a real
git checkout synced, ``:/`` as the board's root, folders refused with a hint, ``fs mv``/``touch``,
``belay df``, exit statuses, and a local file kept whole when a copy down fails.

Boards: ``belay virtual-board`` serves each (unix, unix behind a 115200-baud line, the
micro:bit in QEMU) so its files outlive a command; ``--port unix`` where a fresh board will do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtual_boards import served_virtual_board

from belay.cli import main

BELAY = [sys.executable, "-m", "belay"]
SERVED = [
    pytest.param(("unix",), id="unix"),
    pytest.param(("unix", "--baud", "115200"), id="unix-115200"),
    pytest.param(("microbit",), id="microbit", marks=pytest.mark.microbit),
]


@pytest.fixture(params=SERVED)
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    """A board served by ``belay virtual-board`` (its kind and options as parametrised)."""
    kind, *options = request.param
    with served_virtual_board(kind, *options) as path:
        yield path


def belay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BELAY, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )


def checkout(root: Path) -> Path:
    """A git checkout as people have one: a venv, caches, symlinks, unicode names."""
    root.mkdir()
    (root / "lib").mkdir()
    (root / "main.py").write_text("import lib.\u00e9t\u00e9\n", encoding="utf-8")
    (root / "lib" / "\u00e9t\u00e9.py").write_text("X = '\u65e5\u672c'\n", encoding="utf-8")
    (root / "lib" / "link.py").symlink_to("\u00e9t\u00e9.py")
    (root / "dangling.txt").symlink_to("nowhere")
    (root / "loop").symlink_to("loop")
    (root / "lib" / "up").symlink_to("..")
    os.mkfifo(root / "pipe")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)
    subprocess.run([*git, "add", "main.py", "lib"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True, timeout=60)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=120
    )
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "lib")], check=True, timeout=60)
    return root


def test_the_hooks_check_on_a_real_checkout(tmp_path: Path) -> None:
    """``belay sync --dry-run --port unix . :app`` on a git checkout: no traceback, nothing
    that hangs (the FIFO), every skip named (before: ``KeyError: 'git'``)."""
    root = checkout(tmp_path / "project")
    done = run("sync", "--dry-run", "--port", "unix", ".", ":app", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["uploaded"]) == ["app/lib/link.py", "app/lib/\u00e9t\u00e9.py", "app/main.py"]
    assert report["folders_made"] == ["app", "app/lib"] and report["dry_run"]
    skipped = {entry["path"]: entry["reason"] for entry in report["skipped"]}
    assert skipped[".git"] == "left out by default (version control)"
    assert skipped[".venv"] == "left out by default (virtual environment)"
    assert skipped["lib/__pycache__"] == "left out by default (Python cache)"
    for name in ("dangling.txt", "loop", "lib/up", "pipe"):
        assert f"skipped {name}: {skipped[name]}" in done.stderr
    text = run("sync", "--dry-run", "--port", "unix", ".", ":app", cwd=root)
    assert text.returncode == 0 and "3 would be sent" in text.stdout and "7 skipped" in text.stdout


def test_root_paths_as_mpremote_users_type_them(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = ("--port", served)
    (tmp_path / "main.py").write_bytes(b"print('main')\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "util.py").write_bytes(b"U = 1\n")
    assert belay(capsys, "fs", "cp", str(tmp_path / "main.py"), ":/main.py", *port)[0] == 0
    assert belay(capsys, "fs", "cat", ":/main.py", *port)[1] == "print('main')\n"
    code, out, err = belay(capsys, "fs", "ls", ":/", *port)  # before: "pass allow_outside=True"
    assert code == 0 and " main.py" in out, err
    (tmp_path / "app" / ".git").mkdir()  # and what people's folders hold besides
    (tmp_path / "app" / ".git" / "HEAD").write_bytes(b"ref")
    (tmp_path / "app" / "dangling.txt").symlink_to("nowhere")
    code, out, err = belay(capsys, "sync", str(tmp_path / "app"), ":/", "--json", *port)
    report = json.loads(out)
    assert code == 0 and report["uploaded"] == ["util.py"], err
    assert [entry["path"] for entry in report["skipped"]] == [".git", "dangling.txt"]
    assert belay(capsys, "fs", "rm", ":/util.py", *port)[0] == 0
    code, _, err = belay(capsys, "fs", "cat", ":/../etc/passwd", *port)
    assert code == 2 and "goes up with '..'" in err


def test_fs_mv_touch_and_df(served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = ("--port", served)
    assert belay(capsys, "fs", "touch", ":/empty.txt", *port)[0] == 0
    assert belay(capsys, "fs", "cat", ":empty.txt", *port)[1] == ""
    (tmp_path / "a.txt").write_bytes(b"abc")
    assert belay(capsys, "fs", "cp", str(tmp_path / "a.txt"), ":a.txt", *port)[0] == 0
    assert belay(capsys, "fs", "touch", ":a.txt", *port)[0] == 0
    assert belay(capsys, "fs", "mv", ":a.txt", ":/b.txt", *port)[0] == 0  # a copy where no os.rename
    assert belay(capsys, "fs", "cat", ":b.txt", *port)[1] == "abc"
    code, _, err = belay(capsys, "fs", "cat", ":a.txt", *port)
    assert code == 1 and "no file 'a.txt' on the board" in err  # the board's own refusal
    code, out, _ = belay(capsys, "df", "--json", *port)
    usage = json.loads(out)
    assert code == 0 and usage["port"] == served
    if served.endswith("microbit") or usage["total"] is None:
        assert (
            usage["note"] == f"the board on {served} cannot tell its filesystem's room (it has no os.statvfs)"
        )
    else:
        assert usage["total"] > usage["free"] > 0 and "host's disk" in usage["note"]
    code, out, _ = belay(capsys, "df", *port)
    assert code == 0 and out.strip()


@pytest.mark.parametrize("served", [SERVED[0], SERVED[1]], indirect=True)
def test_a_folder_is_refused_in_one_line(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = ("--port", served)
    assert belay(capsys, "fs", "mkdir", ":/box", *port)[0] == 0
    for verb, hint in (
        ("rm", "remove it with -r (belay fs rm -r :box)"),
        ("cat", "list it with `belay fs ls`"),
    ):
        code, out, err = belay(capsys, "fs", verb, ":box", *port)  # before: the board's EISDIR traceback
        assert (code, out, err) == (
            2,
            "",
            f"belay: error: 'box' is a folder on the board at {served}: {hint}\n",
        )
    assert belay(capsys, "fs", "touch", ":box/in.txt", *port)[0] == 0
    assert belay(capsys, "fs", "mv", ":box/in.txt", ":/", *port)[0] == 0  # into a folder: its name kept
    assert belay(capsys, "fs", "mv", ":box", ":crate", *port)[0] == 0
    code, out, _ = belay(capsys, "fs", "ls", ":/", "--json", *port)
    names = {entry["name"] for entry in json.loads(out)}
    assert {"in.txt", "crate"} <= names and "box" not in names
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_bytes(b"A = 1\n")
    code, out, _ = belay(capsys, "sync", str(tmp_path), ":deep/er", "--json", *port)
    assert code == 0 and json.loads(out)["folders_made"] == [
        "deep",
        "deep/er",
        "deep/er/lib",
    ]  # before: no 'deep'


def test_host_refusals_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Decided on the host: a usage error (2); the README keeps 1 for the board's own errors."""
    (tmp_path / "loop").symlink_to("loop")
    os.mkfifo(tmp_path / "pipe")
    port = ("--port", "unix")
    cases = [
        (("sync", str(tmp_path / "missing"), ":app"), "local folder"),
        (("sync", str(tmp_path / "loop"), ":app"), "a symlink loop"),  # before: exit 1
        (("fs", "cp", str(tmp_path / "pipe"), ":p"), "is not a regular file"),  # before: hung
        (("fs", "cp", str(tmp_path / "loop"), ":p"), "Too many levels of symbolic links"),
        (("fs", "cp", str(tmp_path / "nothing"), ":p"), "No such file or directory"),
        (("fs", "ls", ":../up"), "goes up with '..'"),
    ]
    for args, said in cases:
        code, _, err = belay(capsys, *args, *port)
        assert code == 2 and said in err and len(err.splitlines()) == 1, (args, err)


def test_a_fifo_in_a_synced_folder_never_hangs(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"A = 1\n")
    os.mkfifo(tmp_path / "pipe")
    done = run("sync", "--port", "unix", str(tmp_path), ":app", timeout=120)  # before: hung for ever
    assert done.returncode == 0 and "1 sent" in done.stdout and "1 skipped" in done.stdout
    assert "skipped pipe: a FIFO: only regular files are sent" in done.stderr


FILL = """
import resource, sys
from belay.cli import main
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # CPython ignores SIGXFSZ: writes fail EFBIG
sys.exit(main(sys.argv[1:]))
"""


def test_a_failed_copy_down_keeps_the_local_file(served_board: str, tmp_path: Path) -> None:
    """The local disk "fills" at 4 KB a file (``RLIMIT_FSIZE`` in the copying process): the old
    local file stays whole and no temporary file is left (before: a 4 KB fragment)."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9000))
    assert run("fs", "mkdir", ":box", "--port", served_board).returncode == 0
    for target in (":keep.bin", ":box/keep.bin"):
        assert run("fs", "cp", str(big), target, "--port", served_board).returncode == 0
    down = tmp_path / "down"
    (down / "box").mkdir(parents=True)
    for kept in (down / "keep.bin", down / "box" / "keep.bin"):
        kept.write_bytes(b"the old bytes")
    for args in (("fs", "cp", ":keep.bin", str(down)), ("fs", "cp", "-r", ":box", str(down))):
        done = subprocess.run([sys.executable, "-c", FILL, *args, "--port", served_board],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 2 and "File too large" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
    assert (down / "keep.bin").read_bytes() == (down / "box" / "keep.bin").read_bytes() == b"the old bytes"
    assert sorted(path.name for path in down.rglob("*")) == ["box", "keep.bin", "keep.bin"]  # no .part left


def test_a_single_file_copy_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal a single-file ``fs cp`` shows a bar (before: nothing for seconds)."""
    import pty

    (tmp_path / "data.bin").write_bytes(os.urandom(4000))
    leader, follower = pty.openpty()
    try:
        copy = [*BELAY, "fs", "cp", str(tmp_path / "data.bin"), ":data.bin", "--port", "unix"]
        with os.fdopen(follower, "wb") as terminal:
            done = subprocess.run(copy, stdout=terminal, stderr=terminal, timeout=120, check=False)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the pty's other side closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"sending data.bin" in shown


def test_a_timeout_exits_3_as_for_every_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A timeout is also a ``TimeoutError``, so an ``OSError``: it is not a refusal (before: exit 1)."""
    monkeypatch.setenv("BELAY_CALL_TIMEOUT", "0.0001")
    code, _, err = belay(capsys, "fs", "ls", "--port", "unix")
    # Which call meets the deadline first is the host's timing: the session's opening call, or
    # the listing itself when the opening's answer was already waiting. Both are timeouts.
    assert code == 3
    assert re.fullmatch(
        r"belay: timeout: (call|exec) on unix did not finish within 0\.0001s; it was interrupted\n", err
    ), err
