"""Calls that walk file trees with hashes, stat paths, and make and remove folders
(:mod:`belay.session.files.tree`, :mod:`belay.session.files.sync`)."""

from __future__ import annotations

from collections.abc import Iterable

from belay.agent.calls.files import unfile
from belay.agent.sources import minified_device_file
from belay.literals import dumps_for_board
from belay.literals import uninterned as _u


def file_tree(
    root: str,
    expect: dict[str, str],
    algorithm: str,
    digits: int,
    roomy: bool,
    sha256: bool = True,
    ignore: str = "",
) -> list[str]:
    """Walk board path ``root`` (``device/file_tree.py``): the last call prints one line per
    folder and per file of a folder whose digest is not ``expect``'s, then ``(algorithm, kind,
    flat)``, and deletes every name the calls made. Hashes are sha256 (``sha256``; on a board
    without ``hashlib`` the first call raises ``ImportError('belay:nohashlib')``), else FNV-1a
    32. Names in ``root`` that start with ``ignore`` (if given) are skipped. A small heap
    (not ``roomy``) is sent a function a call: the micro:bit's raw REPL cannot take the whole
    in one fragmented heap."""
    parts = ["file_hash_sha.py" if sha256 else "file_hash_fnv.py", "file_tree.py"]
    code = b"".join(minified_device_file(part) for part in parts).decode()
    arguments = ",".join((_u(root), dumps_for_board(expect), _u(algorithm), str(digits), _u(ignore)))
    walk = f"try:print(repr(_ba_t({arguments})))\nfinally:del {','.join(_WALK_NAMES)}"
    if roomy:
        return [code + walk]
    return ["_ba.gc.collect()\n" + piece for piece in _top_level_pieces(code)] + [walk]


_WALK_NAMES = ("_ba_t", "_ba_d", "_ba_f", "_ba_j", "_ba_s", "_ba_h", "_ba_u", "_ba_x", "_ba_A")


def forget_file_tree() -> str:
    """Delete what the first calls of a walk defined, after one of them failed."""
    return f"for _ba_k in {_WALK_NAMES!r}:globals().pop(_ba_k,None)\nglobals().pop('_ba_k',None)"


NO_HASHLIB = "belay:nohashlib"
"""The message of the ``ImportError`` the sha256 part raises on a board without ``hashlib``."""


def _top_level_pieces(code: str, most: int = 400) -> list[str]:
    """``code``'s top-level statements, packed into calls of at most ``most`` bytes where a
    statement is not longer by itself."""
    statements: list[str] = []
    for line in code.splitlines(keepends=True):
        starts = not line[:1].isspace() and not line.startswith(("except", "finally", "else", "elif"))
        if starts or not statements:
            statements.append(line)
        else:
            statements[-1] += line
    pieces: list[str] = []
    for statement in statements:
        if pieces and len(pieces[-1]) + len(statement) <= most:
            pieces[-1] += statement
        else:
            pieces.append(statement)
    return pieces


def path_stat(path: str) -> str:
    """``(is_folder, size)`` of board ``path``: ``os.stat``, else ``os.size`` (flat boards)."""
    stat = "(lambda o,p:(o.stat(p)[0]&16384>0,o.stat(p)[6])if hasattr(o,'stat')else(0,o.size(p)))"
    return f"_ba.v({stat}(__import__('os'),{_u(path)}))"


def make_folders(paths: Iterable[str], exist_ok: bool) -> str:
    """Make each folder in turn; one already there is an error only for the last, unless
    ``exist_ok``. A flat board (no ``os.mkdir``) raises ``AttributeError``."""
    names = dumps_for_board(list(paths))
    return (
        f"_ba_l={names}\nfor _ba_k in _ba_l:\n try:__import__('os').mkdir(_ba_k)\n"
        " except OSError as _ba_e:\n"
        f"  if _ba_e.args[0]!=17 or (_ba_k==_ba_l[-1] and not {int(exist_ok)}):raise\n"
        "del _ba_l,_ba_k"
    )


def remove_paths(files: Iterable[str], folders: Iterable[str], names: Iterable[str] = ()) -> str:
    """Remove ``files``, then the (emptied) ``folders`` in the order given; ``names`` (as the
    agent's records keep them) are no session's temporary files any more."""
    code = (
        f"for _ba_k in {dumps_for_board(list(files))}:__import__('os').remove(_ba_k)\n"
        f"for _ba_k in {dumps_for_board(list(folders))}:__import__('os').rmdir(_ba_k)\n"
    )
    code += "".join(unfile(name) + "\n" for name in names)
    return code + "_ba_k=0\ndel _ba_k"


def rename_path(source: str, target: str) -> str:
    """Rename board ``source`` to ``target`` (``AttributeError`` where the board has no ``os.rename``)."""
    return f"__import__('os').rename({_u(source)},{_u(target)})"


def touch_file(path: str) -> str:
    """Make an empty file at board ``path`` unless something is there (its bytes are kept)."""
    there = "(lambda o,p:o.stat(p)if hasattr(o,'stat')else o.size(p))"
    return f"try:{there}(__import__('os'),{_u(path)})\nexcept OSError:open({_u(path)},'wb').close()"


def filesystem_space(path: str) -> str:
    """``(total, free)`` bytes of the filesystem holding board ``path``; ``None`` where the
    board cannot tell (no ``os.statvfs``)."""
    space = "(lambda o,p:(lambda s:(s[1]*s[2],s[1]*s[4]))(o.statvfs(p))if hasattr(o,'statvfs')else None)"
    return f"_ba.v({space}(__import__('os'),{_u(path)}))"
