"""The local side of a sync, on real folders the test makes: what is left out by default, by a
``.belayignore`` (gitignore syntax) and globs; symlinks, loops and FIFOs skipped, never followed
for ever, never waited on. No board is needed: nothing here reaches one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from belay.errors import DeviceValueError
from belay.session.files.ignore import Ignore
from belay.session.files.local import Skipped
from belay.session.files.sync import local_tree


def make(root: Path, paths: dict[str, bytes]) -> Path:
    for path, data in paths.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


def reasons(skipped: list[Skipped]) -> dict[str, str]:
    return {entry.path: entry.reason for entry in skipped}


def test_a_checkout_leaves_out_what_no_board_wants(tmp_path: Path) -> None:
    make(tmp_path, {
        ".git/HEAD": b"ref", ".gitignore": b"x", ".github/ci.yml": b"", ".vscode/settings.json": b"{}",
        ".venv/pyvenv.cfg": b"", "env2/pyvenv.cfg": b"", "lib/__pycache__/a.cpython-311.pyc": b"\0",
        "lib/a.py": b"A = 1\n", "lib/b.pyc": b"\0", "main.py": b"", ".config/keep.txt": b"kept",
    })  # fmt: skip
    local, _ = local_tree(tmp_path)
    assert sorted(local.files) == [".config/keep.txt", "lib/a.py", "main.py"]
    assert local.folders == {"", ".config", "lib"}
    why = reasons(local.skipped)
    assert why[".git"] == why[".gitignore"] == why[".github"] == "left out by default (version control)"
    assert why[".venv"] == why["env2"] == "left out by default (virtual environment)"
    assert why["lib/__pycache__"] == why["lib/b.pyc"] == "left out by default (Python cache)"
    assert why[".vscode"] == "left out by default (editor file)"


def test_belayignore_and_include_override_the_defaults(tmp_path: Path) -> None:
    make(tmp_path, {
        ".belayignore": b"# comment\n/build/\n*.log\n!keep.log\ndocs/**/*.md\n!.vscode\n",
        ".vscode/x.json": b"", "build/out.bin": b"", "sub/build/y.py": b"", "a.log": b"", "keep.log": b"",
        "docs/a/b/c.md": b"", "docs/top.md": b"", "notes[1].txt": b"",
    })  # fmt: skip
    local, _ = local_tree(tmp_path)
    assert sorted(local.files) == [
        ".vscode/x.json",
        "keep.log",
        "notes[1].txt",
        "sub/build/y.py",
    ]
    assert reasons(local.skipped)["build"] == "ignored by .belayignore"
    assert reasons(local.skipped)["docs/top.md"] == "ignored by .belayignore"  # '**/' matches no folder too
    assert reasons(local.skipped)[".belayignore"] == "left out by default (belay's own)"
    local, _ = local_tree(tmp_path, exclude=["sub"], include=["a.log", "build"])
    assert "a.log" in local.files and "build/out.bin" in local.files and "sub/build/y.py" not in local.files
    assert reasons(local.skipped)["sub"] == "excluded"


def test_gitignore_rules_as_git_reads_them() -> None:
    rules = Ignore.build("/top.py\nmid/*.py\ndeep/**/x\n*.tmp\nfolder/\n[ab].c\n\\#hash\n", defaults=False)
    assert rules.why("top.py", False) and not rules.why("sub/top.py", False)
    assert rules.why("mid/a.py", False) and not rules.why("mid/a/b.py", False)
    assert rules.why("deep/x", False) and rules.why("deep/1/2/x", False)
    assert rules.why("q/w.tmp", False) and rules.why("a.c", False) and not rules.why("c.c", False)
    assert rules.why("folder", True) and not rules.why("folder", False)
    assert rules.why("#hash", False)
    assert rules.why_on_board("folder/inner.py", False)  # in a folder left out: left alone


def test_symlinks_loops_and_fifos_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make(tmp_path, {"real.py": b"R = 1\n", "sub/s.py": b""})
    (tmp_path / "link.py").symlink_to("real.py")
    (tmp_path / "dangling.txt").symlink_to("nowhere")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "ping").symlink_to("pong")
    (tmp_path / "pong").symlink_to("ping")
    (tmp_path / "sub" / "up").symlink_to("..")
    os.mkfifo(tmp_path / "fifo")
    local, _ = local_tree(tmp_path)  # before: a FIFO hung this for ever, a dangling link raised
    assert local.files == {"real.py": b"R = 1\n", "link.py": b"R = 1\n", "sub/s.py": b""}
    assert local.folders == {"", "sub"}
    assert reasons(local.skipped) == {
        "dangling.txt": "a dangling symlink (to 'nowhere')",
        "fifo": "a FIFO: only regular files are sent",
        "loop": "a symlink loop",
        "ping": "a symlink loop",
        "pong": "a symlink loop",
        "sub/up": "a symlink to a folder (not followed)",
    }
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warned) == 6 and "skipped sub/up: a symlink to a folder (not followed)" in warned


def test_a_socket_is_skipped(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        local, _ = local_tree(tmp_path)
    assert reasons(local.skipped) == {"sock": "a socket: only regular files are sent"}


def test_the_folder_itself_must_be_one(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DeviceValueError, match="symlink loop"):
        local_tree(tmp_path / "loop")
    with pytest.raises(DeviceValueError, match="is not a local folder"):
        local_tree(tmp_path / "file")
    with pytest.raises(DeviceValueError, match="no such file or directory"):
        local_tree(tmp_path / "missing")


def test_unicode_names_and_a_linked_folder_root(tmp_path: Path) -> None:
    make(tmp_path / "real", {"d\u00e9j\u00e0/\u00e9t\u00e9.py": b"", "\u65e5\u672c.txt": b"x"})
    (tmp_path / "via").symlink_to("real")  # the folder named is followed: the user chose it
    local, _ = local_tree(tmp_path / "via")
    assert sorted(local.files) == ["d\u00e9j\u00e0/\u00e9t\u00e9.py", "\u65e5\u672c.txt"]


def test_a_compiled_cache_is_left_out(tmp_path: Path) -> None:
    make(tmp_path, {"m.py": b"X = 1\n"})
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tmp_path)], check=True, timeout=60)
    local, _ = local_tree(tmp_path)
    assert list(local.files) == ["m.py"] and "__pycache__" in reasons(local.skipped)


def test_a_name_that_is_not_utf8_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "ok.py").write_bytes(b"")
    with open(os.fsencode(tmp_path) + b"/caf\xe9.py", "wb"):
        pass  # before: a UnicodeEncodeError traceback from the sync
    local, _ = local_tree(tmp_path)
    assert list(local.files) == ["ok.py"]
    assert reasons(local.skipped) == {"caf\\xe9.py": "its name is not UTF-8, as a board's file names are"}
    assert "skipped caf\\xe9.py" in caplog.text
