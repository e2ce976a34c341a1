"""``belay fs ...`` and ``belay sync`` end to end, on a unix board served by ``belay
virtual-board`` (the only board that outlives a command): through ``main()`` for speed, and
once through the ``belay`` process itself."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from belay.cli import main

BELAY = [sys.executable, "-m", "belay"]


def belay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def make_tree(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "main.py").write_bytes(b"import lib.a\n")
    (root / "lib" / "a.py").write_bytes(b"A = 1\n")
    (root / "lib" / "x.pyc").write_bytes(b"\x00")
    (root / "\u00e9t\u00e9.txt").write_bytes(b"")
    return root


def test_sync_and_the_fs_commands(
    served_board: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = ("--port", served_board)
    local = make_tree(tmp_path / "app")
    code, out, _ = belay(capsys, "sync", str(local), ":app", "--exclude", "*.pyc", "--json", *port)
    assert code == 0
    report = json.loads(out)
    assert sorted(report["uploaded"]) == ["app/lib/a.py", "app/main.py", "app/\u00e9t\u00e9.txt"]
    assert report["folders_made"] == ["app", "app/lib"] and report["bytes_sent"] == 19
    code, out, _ = belay(capsys, "sync", str(local), ":app", "--exclude", "*.pyc", *port)
    assert code == 0 and "0 sent (0 B), 0 removed, 3 unchanged" in out
    assert "\r" not in out and "\x1b" not in out  # no progress bar when piped

    code, out, _ = belay(capsys, "fs", "tree", ":app", "--json", *port)
    entries = {entry["path"]: entry for entry in json.loads(out)}
    assert entries["app/lib"]["is_dir"] and "app/lib/x.pyc" not in entries
    assert entries["app/main.py"]["hash"] == "sha256:" + hashlib.sha256(b"import lib.a\n").hexdigest()
    code, out, _ = belay(capsys, "fs", "hash", ":app/lib/a.py", "--json", *port)
    assert json.loads(out) == {
        "path": "app/lib/a.py",
        "algorithm": "sha256",
        "hash": hashlib.sha256(b"A = 1\n").hexdigest(),
    }
    code, out, _ = belay(capsys, "fs", "ls", ":app", "--json", *port)
    assert [e["name"] for e in json.loads(out)] == ["lib", "main.py", "\u00e9t\u00e9.txt"]
    code, out, _ = belay(capsys, "fs", "ls", ":app", *port)
    assert out.splitlines()[0].endswith(" lib/")
    assert belay(capsys, "fs", "cat", ":app/lib/a.py", *port)[1] == "A = 1\n"

    (local / "main.py").unlink()
    code, out, _ = belay(
        capsys, "sync", str(local), ":app", "--delete", "--dry-run", "--exclude", "*.pyc", *port
    )
    assert "would be removed  app/main.py" in out
    code, out, _ = belay(
        capsys, "sync", str(local), ":app", "--delete", "--exclude", "*.pyc", "--json", *port
    )
    assert json.loads(out)["removed"] == ["app/main.py"]


def test_cp_rm_and_mkdir(served_board: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = ("--port", served_board)
    source = make_tree(tmp_path / "pkg")
    assert belay(capsys, "fs", "mkdir", ":box", *port)[0] == 0
    assert belay(capsys, "fs", "cp", str(source / "main.py"), ":box", *port)[0] == 0  # into the folder
    assert belay(capsys, "fs", "cat", ":box/main.py", *port)[1] == "import lib.a\n"
    code, _, err = belay(capsys, "fs", "cp", str(source), ":box", *port)
    assert code == 2 and "copy it with -r" in err  # decided on the host: a usage error
    assert belay(capsys, "fs", "cp", "-r", str(source), ":box", *port)[0] == 0
    assert belay(capsys, "fs", "cat", ":box/pkg/lib/a.py", *port)[1] == "A = 1\n"
    down = tmp_path / "down"
    down.mkdir()
    assert belay(capsys, "fs", "cp", "-r", ":box/pkg", str(down), *port)[0] == 0
    assert (down / "pkg" / "lib" / "a.py").read_bytes() == b"A = 1\n"
    assert belay(capsys, "fs", "cp", ":box/main.py", str(down / "m.py"), *port)[0] == 0
    assert (down / "m.py").read_bytes() == b"import lib.a\n"

    code, _, err = belay(capsys, "fs", "mkdir", ":no/such/folder", *port)
    assert code == 1 and "folder 'no/such' does not exist on the board" in err
    assert belay(capsys, "fs", "mkdir", "--parents", ":no/such/folder", *port)[0] == 0
    code, _, err = belay(capsys, "fs", "rm", ":box", *port)
    hint = "is a folder on the board at " + served_board + ": remove it with -r (belay fs rm -r :box)"
    assert code == 2 and err == f"belay: error: 'box' {hint}\n"
    assert belay(capsys, "fs", "rm", "-r", ":box", *port)[0] == 0
    code, _, err = belay(capsys, "fs", "hash", ":box/main.py", *port)
    assert code == 1 and "folder 'box' does not exist on the board" in err


def test_the_belay_process(served_board: str) -> None:
    done = subprocess.run([*BELAY, "fs", "hash", ":missing.txt", "--port", served_board],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        "no file 'missing.txt' on the board at " + served_board + " (OSError: [Errno 2] ENOENT)"
    )
    listed = subprocess.run([*BELAY, "fs", "ls", "--json", "--port", served_board],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list)
