"""Whether MicroPython's unix port is inside one of its interpreter locks.

The unix port (built without a GIL) raises ``KeyboardInterrupt`` straight out of its SIGINT
handler, wherever the main thread is. Landing inside the garbage collector or a thread-list
section, the jump leaves the lock held: the heap stays locked ("MemoryError: heap is
locked"), or every other thread blocks at its next allocation or sleep for good (a session's
thread that never stops). A board takes Ctrl-C between bytecodes; :func:`in_a_lock` lets the
interrupt wait for a moment when none of them is taken (see
:func:`belay.transports.process.interrupt_if_caught`).

The locks are found by name: ``thread_mutex`` (the port's thread list and atomic sections),
``mp_state_ctx.mem.gc_mutex`` (the heap) and ``mp_state_ctx.vm.qstr_mutex`` (interned
strings: not recursive, so the interrupted thread itself blocks at its next name), from the
interpreter's symbol table and debug information. Where they cannot be found (a stripped or
other build), nothing is known. Reading that information takes about 0.2 s, so what it found is
kept in the user's cache folder, by the interpreter file's identity (path, device, inode, size,
modification time): a new process finds it there instead of paying for it on its first interrupt.
"""

from __future__ import annotations

import functools
import logging
import os
import struct
from pathlib import Path

from belay import user_cache

logger = logging.getLogger(__name__)

_MUTEX = struct.Struct("<iIi")  # glibc's pthread_mutex_t begins __lock, __count, __owner (a tid)


def interpreter_file(pid: int) -> tuple[str, int] | None:
    """The mapped file that holds ``pid``'s MicroPython (the unix port, or the module a Python
    process runs it from) and the address it is loaded at."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and int(fields[2], 16) == 0:
                    path = fields[5].strip()
                    if os.path.basename(path).startswith("micropython"):
                        return path, int(fields[0].split("-")[0], 16)
    except (OSError, ValueError):
        return None
    return None


CACHE_FILE = "unix-locks.json"
"""The file in the user's cache folder (``platformdirs``) that keeps what :func:`lock_offsets` found."""
_CACHE_MOST = 32
"""Interpreter files remembered at the most (the newest are kept)."""


def cache_path() -> Path:
    """Where found lock offsets are kept for the processes that come after this one."""
    return user_cache.cache_path(CACHE_FILE)


@functools.cache
def lock_offsets(path: str) -> tuple[int, ...]:
    """The offsets of the locks in the interpreter file ``path`` (none if not found): from the
    cache kept for this very file if there is one, else read from the file (and kept)."""
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    identity = f"{path}\0{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
    known = _read_cache()
    cached = known.get(identity)
    if isinstance(cached, list) and all(isinstance(offset, int) for offset in cached):
        return tuple(cached)
    found = _read_offsets(path)
    _write_cache({**{key: value for key, value in known.items() if not key.startswith(path + "\0")},
                  identity: list(found)})  # fmt: skip
    return found


def _read_cache() -> dict[str, object]:
    return user_cache.read_entries(CACHE_FILE)


def _write_cache(known: dict[str, object]) -> None:
    """Keep ``known`` (the newest :data:`_CACHE_MOST` entries), written whole or not at all."""
    user_cache.write_entries(CACHE_FILE, known, most=_CACHE_MOST)


def _read_offsets(path: str) -> tuple[int, ...]:
    """The offsets of the locks, read from the symbols and debug information of ``path``."""
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:  # pragma: no cover - the virtual extra installs it
        return ()
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            symbols = elf.get_section_by_name(".symtab")
            if symbols is None or not elf.has_dwarf_info():
                return ()
            thread_mutex = symbols.get_symbol_by_name("thread_mutex")  # type: ignore[attr-defined]
            state = symbols.get_symbol_by_name("mp_state_ctx")  # type: ignore[attr-defined]
            names = (b"_mp_state_ctx_t", b"_mp_state_mem_t", b"_mp_state_vm_t")
            members = _members(elf, names)
            if not thread_mutex or not state:
                return ()
            ctx, mem, vm = (members.get(name, {}) for name in names)
            in_state = [ctx[b"mem"] + mem[b"gc_mutex"], ctx[b"vm"] + vm[b"qstr_mutex"]]
            return (thread_mutex[0]["st_value"], *(state[0]["st_value"] + offset for offset in in_state))
    except Exception as error:  # a file that is not what it seemed: nothing known
        logger.debug("no interpreter locks found in %s: %s", path, error)
        return ()


def _members(elf: object, names: tuple[bytes, ...]) -> dict[bytes, dict[bytes, int]]:
    """The member offsets of the structs ``names``, from the debug information of
    ``py/mpstate.c`` (where MicroPython's state is defined)."""
    found: dict[bytes, dict[bytes, int]] = {}
    for unit in elf.get_dwarf_info().iter_CUs():  # type: ignore[attr-defined]
        name = unit.get_top_DIE().attributes.get("DW_AT_name")
        if name is None or not name.value.endswith(b"py/mpstate.c"):
            continue
        for die in unit.iter_DIEs():
            struct_name = die.attributes.get("DW_AT_name")
            if die.tag == "DW_TAG_structure_type" and struct_name and struct_name.value in names:
                found[struct_name.value] = {
                    child.attributes["DW_AT_name"].value: child.attributes["DW_AT_data_member_location"].value
                    for child in die.iter_children()
                    if child.tag == "DW_TAG_member" and "DW_AT_data_member_location" in child.attributes
                }
        break
    return found


def prepare(pid: int) -> tuple[int, ...]:
    """The absolute addresses of ``pid``'s interpreter locks (none if unknown); reads the interpreter
    file the first time (a tenth of a second), so call it before stopping the process."""
    located = interpreter_file(pid)
    if located is None:
        return ()
    path, base = located
    return tuple(base + offset for offset in lock_offsets(path))


def in_a_lock(pid: int, addresses: tuple[int, ...]) -> bool | None:
    """Whether any thread of process ``pid`` holds one of the locks at
    ``addresses``; ``None`` where it cannot be read."""
    if not addresses:
        return None
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        mutexes = [_MUTEX.unpack(os.pread(fd, _MUTEX.size, address)) for address in addresses]
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)
    # Taken is the lock word, not only the owner: both are set (and cleared) one after the
    # other, and a jump out between them leaves a lock no thread owns, held for good.
    return any(lock or owner for lock, _, owner in mutexes)
