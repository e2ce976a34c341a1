"""Calls that move files: a put writes a temporary file beside its target (registered as the
session's, so the session's end or reaping removes it if the host dies) and renames it when
complete; chunks arrive as bytes literals (:mod:`belay.protocol.codec`). A get streams the
file's bytes raw (escaped, ended by a count) where the board can write bytes to its output."""

from __future__ import annotations

from belay.literals import dumps_for_board
from belay.literals import uninterned as _u


def file_transfer_features(roomy: bool) -> str:
    """``(writer, deflate, rename, stat)``: the raw output writer (1 ``sys.stdout.buffer``, 2
    ``microbit.uart``, 0 neither), whether ``deflate`` reads ZLIB streams (asked only where
    ``roomy``), whether ``os`` has ``rename`` and ``stat``. Names are looked up with ``dir``
    and uninterned strings: a board interns for good every name its code spells, or
    ``hasattr``/``__import__`` is given, even where it has no such thing."""
    deflate = (
        f"try:_ba_f[1]=hasattr(__import__({_u('deflate')}),{_u('ZLIB')})\nexcept ImportError:pass\n"
        if roomy
        else ""
    )
    return (
        "_ba_k=__import__('sys')\n_ba_f=[0,0,0,0]\n"
        f"if {_u('stdout')} in dir(_ba_k) and {_u('buffer')} in dir(getattr(_ba_k,{_u('stdout')})):\n"
        " _ba_f[0]=1\n"
        f"if not _ba_f[0] and _ba_k.platform=={_u('microbit')}:_ba_f[0]=2\n"
        "_ba_k=dir(__import__('os'))\n"
        f"_ba_f[2]={_u('rename')} in _ba_k\n_ba_f[3]={_u('stat')} in _ba_k\n{deflate}"
        "_ba.v(tuple(_ba_f))\ndel _ba_k,_ba_f"
    )


def file_open_temp(token: str, temp_path: str, temp_name: str, target: str, check_name: bool) -> str:
    """Register ``temp_name`` as the session's temporary file and open it for writing at board
    path ``temp_path``; with ``check_name`` (boards with ``os.stat``) first refuse a ``target``
    name the filesystem cannot hold (``OSError`` 36) before any data is sent."""
    code = ""
    if check_name:
        code = (
            f"try:__import__('os').stat({_u(target)})\n"
            "except OSError as _ba_k:\n if _ba_k.args[0]==36:raise\n"
        )
    return code + (
        f"_ba.x({token!r}).setdefault('f',[]).append({_u(temp_name)})\n"
        f"_ba.x({token!r})['w']=open({_u(temp_path)},{_u('wb')})"
    )


def file_open_part_or_target(token: str, part_path: str, part_name: str, path: str, name: str) -> str:
    """Where the board cannot rename: write through a part if ``path`` is there (its old
    content is kept until the commit's copy), else straight to ``path`` (registered as the
    session's until complete: nothing old to keep). Answers whether it was there."""
    folder = path.rpartition("/")[0]
    listing = f"__import__('os').listdir({_u(folder)})" if folder else "__import__('os').listdir()"
    return (
        f"_ba_k={_u(path.rpartition('/')[2])} in {listing}\n_ba.v(_ba_k)\n"
        f"_ba.x({token!r}).setdefault('f',[]).append({_u(part_name)} if _ba_k else {_u(name)})\n"
        f"_ba.x({token!r})['w']=open({_u(part_path)} if _ba_k else {_u(path)},{_u('wb')})\ndel _ba_k"
    )


def file_abort_direct(token: str, path: str, name: str) -> str:
    """Remove ``path`` if this session registered it as written in place (an undecided put)."""
    return (
        f"if {_u(name)} in _ba.x({token!r}).get('f',()):\n _ba.x({token!r})['f'].remove({_u(name)})\n"
        f" try:__import__('os').remove({_u(path)})\n except OSError:pass"
    )


def file_write_literal(token: str, literal: bytes) -> bytes:
    """Write a plain bytes literal (escaped the lexer's way): nothing is copied on the board."""
    return f"_ba.x({token!r})['w'].write(".encode() + literal + b")"


def file_write_escaped(token: str, literal: bytes, escapes: bytes, packed: bool) -> bytes:
    """Write a raw literal whose ``escapes`` (a bytes literal of second bytes) are undone by
    one ``replace`` each; ``packed``: it is a zlib stream, inflated before writing."""
    write = f"_ba_k=0\n_ba.x({token!r})['w'].write(_ba_f)\ndel _ba_f,_ba_k"
    return unpacked(literal, escapes, packed) + write.encode()


BATCH_NAMES = ("_ba_e", "_ba_n", "_ba_i", "_ba_t")
"""The globals a batch's call holds while it runs (removed by its end, or its abort)."""


def file_write_batch(
    token: str, literal: bytes, escapes: bytes, packed: bool, prefix: str, ends: list[int]
) -> bytes:
    """Write many files from one raw literal (unpacked as :func:`file_write_escaped` does): its
    first ``ends[0]`` bytes are the files' names and temporary names, UTF-8, one a line
    (name, temporary name, ...); file ``i``'s bytes are ``ends[i]:ends[i+1]``, written to its
    temporary file at ``prefix`` + temporary name (the session's while written), then renamed
    over ``prefix`` + name, which is no session's temporary file then. Each file is whole or
    not there."""
    at = _u(prefix)
    loop = (
        f"_ba_k=_ba.x({token!r})\n_ba_k.setdefault('f',[])\n_ba_e={ends!r}\n"
        "_ba_n=str(_ba_f[:_ba_e[0]],'utf-8').split('\\n')\n"
        "for _ba_i in range(len(_ba_e)-1):\n"
        " _ba_t=_ba_n[2*_ba_i+1]\n _ba_k['f'].append(_ba_t)\n"
        f" _ba_k['w']=open({at}+_ba_t,{_u('wb')})\n"
        " _ba_k['w'].write(memoryview(_ba_f)[_ba_e[_ba_i]:_ba_e[_ba_i+1]])\n"
        " _ba_k['w'].close()\n _ba_k['w']=None\n"
        f" __import__('os').rename({at}+_ba_t,{at}+_ba_n[2*_ba_i])\n _ba_k['f'].remove(_ba_t)\n"
        f" {_unfile_code('_ba_n[2*_ba_i]')}\n"
        f"del _ba_f,_ba_k,{','.join(BATCH_NAMES)}"
    )
    return unpacked(literal, escapes, packed) + loop.encode()


def unpacked(literal: bytes, escapes: bytes, packed: bool) -> bytes:
    """Code that leaves a raw literal's bytes in ``_ba_f``: ``escapes`` undone, inflated if ``packed``."""
    code = b"_ba_f=" + literal + b"\n"
    if escapes != b"b''":  # a bytes literal (ASCII) of the second bytes
        code += b"for _ba_k in " + escapes + b":_ba_f=_ba_f.replace(bytes((254,_ba_k)),bytes((_ba_k^128,)))\n"
    if packed:
        code += (
            b"_ba_k=__import__('deflate')\n"
            b"_ba_f=_ba_k.DeflateIO(__import__('io').BytesIO(_ba_f),_ba_k.ZLIB).read()\n"
        )
    return code


def file_commit(token: str, temp_path: str, temp_name: str, path: str, name: str, temporary: bool) -> str:
    """Close the temporary file and rename it to ``path`` (``name`` as the agent's records
    keep it), which is then no session's temporary file, or this one's. A ``temp_path`` that
    is ``path`` (a direct write) is only closed and kept."""
    rename = f"__import__('os').rename({_u(temp_path)},{_u(path)})\n" if temp_path != path else ""
    code = (
        f"_ba.x({token!r})['w'].close()\n_ba.x({token!r})['w']=None\n{rename}"
        f"_ba.x({token!r})['f'].remove({_u(temp_name)})\n"
    )
    return code + _commit_records(token, name, temporary)


def file_commit_parts(token: str, prefix_path: str, prefix_name: str, parts: int, path: str) -> str:
    """Where the board has no ``os.rename`` (the micro:bit): the temporary file was written as
    ``parts`` files ``<prefix>0``, ``<prefix>1``...; copy them into ``path`` in order, each
    removed once copied (so the flash holds the new file and one part at most), with
        interrupts off: an interrupt leaves the old file or the new one, never part of it (a copy
    that fails, the flash full, removes the target: the old file is gone, no part of it left). The
    session's ``"w"`` and ``"r"`` handles hold the target and the part being copied; the
    records follow in a call of their own (:func:`file_commit_records`)."""
    cut = len(prefix_path) - len(prefix_name)
    return (
        f"_ba_f=_ba.x({token!r})\n_ba_f['w'].close()\n__import__('micropython').kbd_intr(-1)\n"
        f"try:\n _ba_f['w']=open({_u(path)},{_u('wb')})\n for _ba_k in range({parts}):\n"
        f"  _ba_k={_u(prefix_path)}+str(_ba_k)\n  _ba_f['r']=open(_ba_k,{_u('rb')})\n"
        "  while _ba_f['w'].write(_ba_f['r'].read(64)):pass\n"
        f"  _ba_f['r'].close()\n  __import__('os').remove(_ba_k)\n  _ba_f['f'].remove(_ba_k[{cut}:])\n"
        f" _ba_f['w'].close()\nexcept Exception as _ba_k:\n _ba_f['w'].close()\n"
        f" try:__import__('os').remove({_u(path)})\n except OSError:pass\n raise _ba_k\n"
        "finally:\n __import__('micropython').kbd_intr(3)\n"
        "_ba_f['w']=_ba_f['r']=None\n_ba_k=0\ndel _ba_k,_ba_f"
    )


def file_commit_records(token: str, name: str, temporary: bool) -> str:
    """``name`` is written: no session's temporary file now, or this one's (``temporary``)."""
    return _commit_records(token, name, temporary)


def file_next_part(token: str, part_path: str, part_name: str) -> str:
    """Close the part being written and open the next one (registered as the session's)."""
    return (
        f"_ba.x({token!r})['w'].close()\n"
        f"_ba.x({token!r})['f'].append({_u(part_name)})\n_ba.x({token!r})['w']=open({_u(part_path)},{_u('wb')})"
    )


def _commit_records(token: str, name: str, temporary: bool) -> str:
    code = unfile(name)
    if temporary:
        code += f"\n_ba.x({token!r}).setdefault('f',[]).append({_u(name)})"
    return code


def file_abort(token: str, temp_paths: list[str], temp_names: list[str]) -> str:
    """After a failed or cancelled put: close and remove its temporary files (those there).
    Short code: it runs where a cancelled put may have left a small heap fragmented."""
    pairs = list(zip(temp_paths, temp_names, strict=True))
    return _abort_code(token, f"for _ba_e in {dumps_for_board(pairs)}:\n")


def file_abort_parts(token: str, prefix_path: str, prefix_name: str, count: int) -> str:
    """:func:`file_abort` of the parts ``prefix`` + ``0`` ... ``count - 1``, named on the board."""
    each = f"({_u(prefix_path)}+str(_ba_e),{_u(prefix_name)}+str(_ba_e))"
    return _abort_code(token, f"for _ba_e in range({count}):\n _ba_e={each}\n")


def _abort_code(token: str, each: str) -> str:
    """Close the session's open files, then for each ``_ba_e`` (board path, name) the loop
    header ``each`` makes: remove the file if there, and its record."""
    return (
        f"globals().pop('_ba_f',None)\n_ba_k=_ba.x({token!r})\n"
        f"for _ba_e in {_u('wr')}:\n if _ba_k.get(_ba_e):\n  _ba_k[_ba_e].close()\n  _ba_k[_ba_e]=None\n"
        f"{each}"
        " try:__import__('os').remove(_ba_e[0])\n except OSError:pass\n"
        " if _ba_e[1] in _ba_k.get('f',()):_ba_k['f'].remove(_ba_e[1])\n"
        "_ba_k=_ba_e=0\ndel _ba_k,_ba_e"
    )


def file_stream(token: str, path: str | None, writer: int, most: int, piece: int) -> str:
    """Write up to ``most`` bytes of the file open for reading (opened from ``path`` first
    unless ``None``) raw to the board's output through ``writer`` (1: ``sys.stdout.buffer``,
    2: ``microbit.uart``) in ``piece``-byte reads, ``\\x04`` and ``\\xfe`` escaped, then the end
    marker and the count sent. Closes the file once it is all sent."""
    handle = f"_ba.x({token!r})['r']"
    out = "__import__('sys').stdout.buffer.write" if writer == 1 else "__import__('microbit').uart.write"
    esc, end = bytes((0xFE,)), bytes((0x04,))
    escape = f".replace({_u(esc)},{_u(esc + b'~')}).replace({_u(end)},{_u(esc + bytes((0x84,)))})"
    marker = _u(esc + b"E")
    code = f"{handle}=open({_u(path)},{_u('rb')})\n" if path is not None else ""
    return code + (
        f"_ba_k=0\nwhile _ba_k<{most}:\n _ba_f={handle}.read(min({piece},{most}-_ba_k))\n"
        f" if not _ba_f:break\n _ba_k+=len(_ba_f)\n {out}(_ba_f{escape})\n"
        f"if _ba_k<{most}:\n {handle}.close()\n {handle}=None\n"
        f"{out}({marker})\nprint(_ba_k)\n_ba_f=0\ndel _ba_k,_ba_f\n_ba.v(0)"
    )


def file_open_read(token: str, path: str, size: int) -> str:
    """Open ``path`` for reading and answer its first ``size`` bytes."""
    return f"_ba.x({token!r})['r']=open({_u(path)},{_u('rb')})\n" + file_read(token, size)


def file_read(token: str, size: int) -> str:
    return f"_ba.v(_ba.x({token!r})['r'].read({size}))"


def file_close(token: str, which: str) -> str:
    """Close the session's open file ``which`` (``"w"`` or ``"r"``) if it is open."""
    handle = f"_ba.x({token!r})[{which!r}]"
    return f"if _ba.x({token!r}).get({which!r}):\n {handle}.close()\n {handle}=None"


def file_remove(token: str, path: str, name: str) -> str:
    return f"_ba.get({token!r})\ntry:\n __import__('os').remove({_u(path)})\nfinally:\n " + unfile(name)


def file_size(path: str, helper: bool) -> str:
    """The size of ``path``, -1 if it is not there: ``_ba.size`` where the threads part is
    loaded (roomy boards, long paths), else inline (``os.size`` on the micro:bit)."""
    if helper:
        return f"_ba.v(_ba.size({_u(path)}))"
    size_of = "(lambda o,p:o.size(p)if hasattr(o,'size')else o.stat(p)[6])"
    return f"try:_ba.v({size_of}(__import__('os'),{_u(path)}))\nexcept OSError:_ba.v(-1)"


def flash_chunks(path: str, chunk_data: int) -> str:
    """``(used, of_path)``: the filesystem chunks (``chunk_data`` bytes of data each, the file's
    name in its first) all files take, and ``path`` takes (0 if it is not there), on a flat
    filesystem without ``os.statvfs`` (the micro:bit's). Collected first: what ``listdir``
    keeps for good (the names it interns) lands in the lowest free blocks, not in the middle
    of the heap, where it split the block a later call needed (a proxy after a put)."""
    each = f"((_ba_k.size(_ba_f)+len(_ba_f)+{chunk_data + 1})//{chunk_data},_ba_f=={_u(path)})"
    return (
        f"_ba.gc.collect()\n_ba_k=__import__('os')\n_ba_f=[{each} for _ba_f in _ba_k.listdir()]\n"
        "_ba.v((sum(_ba_k[0] for _ba_k in _ba_f),sum(_ba_k[0] for _ba_k in _ba_f if _ba_k[1])))\n"
        "del _ba_k,_ba_f"
    )


def unfile(name: str) -> str:
    """``name`` is no session's temporary file any more."""
    return _unfile_code(_u(name))


def _unfile_code(name: str) -> str:
    """:func:`unfile` of the name the board expression ``name`` gives."""
    return f"[r[5]['f'].remove({name}) for r in _ba.S.values() if r[5] and {name} in r[5].get('f',())]"


def list_directory(path: str) -> str:
    listdir = f"__import__('os').listdir({_u(path)})" if path else "__import__('os').listdir()"
    return f"_ba.v({listdir})"
