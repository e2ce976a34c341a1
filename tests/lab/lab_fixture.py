"""A real labgrid lab on 127.0.0.1 for the tests: a coordinator, an exporter (which starts
ser2net for each acquired place) and virtual boards served on ptys as the exported ports. labgrid
lives in an environment of its own (its pyserial fork must not replace belay's): the tests find
``labgrid-client`` in ``.venv-labgrid/bin`` (made by scripts/test.sh) or on ``PATH``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from virtual_boards import served_virtual_board

from belay.transports.process import end_process

ROOT = Path(__file__).resolve().parents[2]


def labgrid_bin() -> Path | None:
    """The folder of labgrid's commands, if labgrid and ser2net are installed."""
    for folder in (ROOT / ".venv-labgrid" / "bin", *(Path(p) for p in os.environ.get("PATH", "").split(":"))):
        if (folder / "labgrid-coordinator").is_file() and (folder / "labgrid-client").is_file():
            return folder if shutil.which("ser2net") or Path("/usr/sbin/ser2net").is_file() else None
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Lab:
    """A running lab: the environment that reaches it, and its places by name."""

    bin: Path
    coordinator: str
    folder: Path
    places: dict[str, str] = field(default_factory=dict)
    exporter: ExitStack = field(default_factory=ExitStack)

    def env(self, **more: str) -> dict[str, str]:
        """This process's environment, pointed at the lab (its client first on ``PATH``)."""
        base = dict(os.environ, LG_COORDINATOR=self.coordinator, XDG_CACHE_HOME=str(self.folder / "cache"))
        base["PATH"] = f"{self.bin}:{base.get('PATH', '')}"
        return {**base, **more}

    def client(self, *arguments: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "labgrid-client"), *arguments], capture_output=True, text=True,
                              env=self.env(**env), timeout=60, check=check)  # fmt: skip

    def start_exporter(self) -> None:
        """Start the exporter (in :attr:`exporter`, ended with it) and wait until it has registered."""
        command = [str(self.bin / "labgrid-exporter"), "-c", self.coordinator, "--hostname", "127.0.0.1",
                   "-n", "exporter", str(self.folder / "exporter.yaml")]  # fmt: skip
        self.exporter.enter_context(_process(command, self.folder / "exporter.log", self.env()))
        _wait_for(lambda: "NetworkSerialPort" in self.client("resources").stdout, "exporter")

    def restart_exporter(self) -> None:
        """End the exporter (and the ser2net it started) and start it again, as an exporter
        machine's service restart or a USB port coming back does."""
        self.exporter.close()
        self.start_exporter()

    def release_all(self) -> None:
        """Release every place, as the identity that holds it."""
        for place, holder in self.holders().items():
            host, user = holder.split("/", 1)
            self.client("-p", place, "release", LG_HOSTNAME=host, LG_USERNAME=user)

    def holders(self) -> dict[str, str]:
        """Place -> ``host/user`` holding it."""
        rows = self.client("who").stdout.splitlines()[1:]
        return {row.split()[2]: f"{row.split()[1]}/{row.split()[0]}" for row in rows if len(row.split()) >= 3}


@contextmanager
def _process(command: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running in ``log``'s folder (the coordinator keeps its places there), ended by its pid."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=log.parent, start_new_session=True
        )
    try:
        yield process
    finally:
        end_process(process, grace=15)


def _wait_for(predicate: object, what: str, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"the lab did not come up: {what}")


@contextmanager
def running_lab(folder: Path, boards: dict[str, str]) -> Iterator[Lab]:
    """A lab whose places are ``boards`` (place name -> tag ``board=`` value), each a served unix board."""
    found = labgrid_bin()
    assert found is not None
    lab = Lab(found, f"127.0.0.1:{_free_port()}", folder)
    with ExitStack() as stack:
        stack.enter_context(_process([str(found / "labgrid-coordinator"), "-l", lab.coordinator],
                                     folder / "coordinator.log", lab.env()))  # fmt: skip
        _wait_for(lambda: lab.client("places", check=False).returncode == 0, "coordinator")
        config = "".join(
            f'{place}:\n  RawSerialPort:\n    port: "{stack.enter_context(served_virtual_board("unix"))}"\n'
            "    speed: 115200\n"
            for place in boards
        )
        (folder / "exporter.yaml").write_text(config)
        lab.exporter = stack.enter_context(ExitStack())
        lab.start_exporter()
        for place, kind in boards.items():
            lab.client("-p", place, "create")
            lab.client("-p", place, "add-match", f"exporter/{place}/*")
            lab.client("-p", place, "set-tags", f"board={kind}")
            lab.places[place] = kind
        yield lab
