"""Per-call latency through a labgrid place (ser2net as labgrid's exporter starts it) beside the
direct port and ser2net run by hand with ``chardelay: false``, measured in the same run.

    python benchmarks/bench_lab.py [--rounds 5 --calls 200]

It needs labgrid in ``.venv-labgrid`` (``scripts/setup-labgrid.sh``) and Debian's ``ser2net``, and
starts and ends (by pid) every process it uses: a labgrid coordinator and exporter with one place
(``tests/lab/lab_fixture.py``: a unix board served on a pty is its serial port), and two more
unix boards served by ``belay virtual-board``. Three contenders, each on a board of its own,
interleaved round by round with their order rotating (``bench_call_latency.measure``), each
timing ``await device.eval("1+1")`` on an open :class:`belay.device.Device`:

- ``direct``:  the served board's pty, as a local serial port;
- ``lab``:     ``labgrid:bench``: the place acquired, its port asked of the coordinator, and
  reached over RFC 2217 through the ser2net the exporter started (its default ``chardelay``);
- ``nodelay``: ``rfc2217://`` through a ser2net of this benchmark's own, started as labgrid
  starts it but with ``chardelay: false`` (the tip for people who run ser2net by hand).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio

from belay.device import Device
from belay.transports.process import end_process

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "lab")]
from bench_call_latency import Contender, device_batch, measure  # noqa: E402
from lab_fixture import labgrid_bin, running_lab  # noqa: E402
from virtual_boards import served_virtual_board  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def ser2net_without_chardelay(pty: str) -> Iterator[str]:
    """ser2net serving ``pty`` over RFC 2217 as labgrid's exporter starts it, but with
    ``chardelay: false``; yields its ``rfc2217://`` URL and ends it by its pid."""
    port = _free_port()
    command = [shutil.which("ser2net") or "/usr/sbin/ser2net", "-d", "-n",
               "-Y", f"connection: &con01#  accepter: telnet(rfc2217,mode=server),tcp,{port}",
               "-Y", f"  connector: serialdev(nouucplock=true),{pty},115200n81,local",
               "-Y", "  options:", "-Y", "    max-connections: 10", "-Y", "    chardelay: false"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        yield f"rfc2217://127.0.0.1:{port}"
    finally:
        end_process(process, grace=10)


def _wait_listening(port: int) -> None:
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"ser2net did not listen on {port}")


def report(contenders: list[Contender], rounds: int, calls: int) -> None:
    by_name = {contender.name: contender for contender in contenders}
    print(f"\nunix board: {rounds} rounds x {calls} calls each, interleaved")
    print(f"  {'contender':<10} {'median us':>10} {'p90 us':>10}")
    for contender in contenders:
        print(f"  {contender.name:<10} {contender.median_us():>10.0f} {contender.p90_us():>10.0f}")
    direct = by_name["direct"]
    for other in ("lab", "nodelay"):
        median = by_name[other].median_us() / direct.median_us()
        p90 = by_name[other].p90_us() / direct.p90_us()
        print(f"  {other + '/direct':<14} median {median:6.2f}x   p90 {p90:6.2f}x")


async def bench(rounds: int, calls: int, direct: str, nodelay: str) -> None:
    async with (
        await Device.open(direct) as on_pty,
        await Device.open("labgrid:bench") as on_lab,
        await Device.open(nodelay) as on_ser2net,
    ):
        contenders = [
            Contender("direct", device_batch(on_pty)),
            Contender("lab", device_batch(on_lab)),
            Contender("nodelay", device_batch(on_ser2net)),
        ]
        await measure(contenders, rounds, calls)
        report(contenders, rounds, calls)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    if labgrid_bin() is None:
        sys.exit("labgrid (scripts/setup-labgrid.sh) and ser2net are needed")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(_temporary_folder()))
        lab = stack.enter_context(running_lab(folder, {"bench": "unix"}))
        os.environ.update(lab.env())  # the coordinator, labgrid-client on PATH, the lock folder
        direct = stack.enter_context(served_virtual_board("unix"))
        nodelay = stack.enter_context(
            ser2net_without_chardelay(stack.enter_context(served_virtual_board("unix")))
        )
        anyio.run(bench, args.rounds, args.calls, direct, nodelay)
        lab.release_all()


@contextlib.contextmanager
def _temporary_folder() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-lab-") as folder:
        yield folder


if __name__ == "__main__":
    main()
