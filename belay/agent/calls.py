"""Every string the host sends to the device agent, one function per agent entry point.

This is the only module that knows the agent's names (``_ba`` in the REPL's globals, its
functions and record layout, ``device/belay_agent*.py``). Each function returns the code of
one raw-REPL call (or a piece of one); values come back through ``_ba.v``, read by
:mod:`belay.agent.answers`. Tokens and ids are passed as string literals longer than ten
characters: the board's compiler interns shorter constants for good, so every other string
or bytes that may be short (code, paths, names, data) goes through
:func:`belay.literals.uninterned`.
"""

from __future__ import annotations

from collections.abc import Iterable

from belay.device_files import minified_device_file
from belay.literals import uninterned as _u

Ref = str | int
"""What names a session in its calls: its token, or the handle its ``begin`` answered."""

AGENT = "_ba"
"""The agent's one name in the REPL's globals."""

REAPER_PERIOD_MS = 250
AGENT_MODULES = ("belay_agent", "belay_agent_threads", "belay_agent_generators", "belay_agent_proxies")
"""The modules the agent's files import as (forgotten on boards with ``sys.modules``)."""


# --- loading and identity ---------------------------------------------------------------


def import_agent() -> str:
    """Import the core (a bare statement: on the micro:bit a ``try`` around it can tip the
    compiler's peak heap use over the edge)."""
    return "import belay_agent as _ba"


def version() -> str:
    """The loaded agent's version; ``None`` when the module is not the agent (a user's file,
    which has no ``_ba.v``: the answer is printed by hand)."""
    return "print('\\x1e'+repr(getattr(_ba,'VERSION',None)))"


def start_threads() -> str:
    """Load the threads part (it installs itself into the core) and start the reaper."""
    return f"__import__('belay_agent_threads')\n_ba.start_reaper({REAPER_PERIOD_MS})"


def root() -> str:
    """The board's filesystem root as the agent saw it when imported ("" without ``getcwd``)."""
    return "_ba.v(_ba.ROOT)"


def write_file_open(name: str) -> str:
    return f"_ba_f=open({_u(name)},'wb')"


def write_file_chunk(chunk: bytes) -> str:
    return f"_ba_f.write({_u(chunk)})"


def write_file_close() -> str:
    return "_ba_f.close()\ndel _ba_f"


def forget_agent() -> str:
    """Drop a module that is not the agent (a user's file of that name) so the board can
    import the agent instead (boards with ``sys.modules``)."""
    return (
        "globals().pop('_ba',None)\nif hasattr(__import__('sys'),'modules'):\n"
        f" for _ba_k in {AGENT_MODULES!r}: __import__('sys').modules.pop(_ba_k,None)\n"
        " del _ba_k"
    )


def live_sessions() -> str:
    """How many sessions the agent holds whose lease has not run out (``-1``: no agent)."""
    return (
        "print('\\x1e'+repr(len([1 for r in _ba.S.values() if _ba.ticks_diff(_ba.ticks_ms(),r[2])<=r[1]])"
        " if '_ba' in globals() and hasattr(_ba,'S') else -1))"
    )


def remove_agent(files: Iterable[str]) -> str:
    """``belay clean``: end every session, stop the reaper, remove the agent's files, modules
    and names; answers how many sessions it ended."""
    return (
        "_ba_n=0\nif '_ba' in globals() and hasattr(_ba,'reap'):\n"
        " _ba_n=len(_ba.S)\n _ba.reap(1)\n del _ba.reaped[:]\n _ba_w=getattr(_ba,'W',None)\n"
        " if _ba_w:\n  if _ba_w[0] not in (None,1): _ba_w[0].deinit()\n  _ba_w[0]=None\n del _ba_w\n"
        f"for _ba_k in {list(files)!r}:\n try:\n  __import__('os').remove(_ba_k)\n except OSError:\n  pass\n"
        "if hasattr(__import__('sys'),'modules'):\n"
        f" for _ba_k in {AGENT_MODULES!r}: __import__('sys').modules.pop(_ba_k,None)\n"
        "print('\\x1e'+repr(_ba_n))\n"
        "for _ba_k in ('_ba','_ba_f','_ba_n','_ba_k'): globals().pop(_ba_k,None)\n"
        "__import__('gc').collect()"
    )


# --- sessions ---------------------------------------------------------------------------


def begin(
    token: str, session_id: str, lease_ms: int, renew: Iterable[str], reserve: int = 0, each: int = 0
) -> str:
    """Open a session (renewing ``renew``'s leases first, reaping what ran out) if the board
    has ``reserve`` bytes of heap free plus ``each`` for every session already open, else a
    ``MemoryError`` reading ``belay:full:<free>:<sessions open>``; answers the sessions reaped since a host
    last asked."""
    tokens = list(renew)
    return f"_ba.begin({token!r},{session_id!r},{lease_ms},{reserve},{each}" + (
        f",{tokens!r})" if tokens else ")"
    )


def begin_steps(
    token: str,
    session_id: str,
    lease_ms: int,
    renew: Iterable[str],
    reserve: int,
    each: int,
    most: int | None,
) -> list[str]:
    """:func:`begin`, then the session's handle (which names it in its calls while it is open):
    the last two answers. As calls of at most ``most`` bytes each where a line is that short
    (a small UART: several short calls, not a paced long one); run them with nothing between."""
    whole = begin(token, session_id, lease_ms, renew, reserve, each)
    if most is None or len(whole) + len(_HANDLE) + 2 <= most:
        return [f"{whole}\n{_HANDLE}"]
    tokens = list(renew)
    numbers = f"{lease_ms},{reserve},{each}" + (f",{tokens!r}" if tokens else "")
    return [  # the arguments ahead, in a list of the REPL's that begin takes and deletes
        f"_ba_k=[{token!r}]",
        f"_ba_k.append({session_id!r})",
        f"_ba_k+=({numbers})",
        "_ba.begin(*_ba_k)\ndel _ba_k",
        _HANDLE,
    ]


_HANDLE = "_ba.v(_ba.G[9])"
"""Answers the handle of the session that began last."""


def end_steps(handle: int, wait_ms: int, most: int | None) -> list[str]:
    """:func:`end` by the session's handle (refused saying why, as a token is, once it is gone)."""
    return _joined_if_short([f"_ba.v(_ba._end({handle},{wait_ms},'ended'))"], most)


def _joined_if_short(steps: list[str], most: int | None) -> list[str]:
    """``steps`` as one call, or one call each where that is longer than ``most`` bytes."""
    if most is None or sum(len(step) + 1 for step in steps) <= most:
        return ["\n".join(steps)]
    return steps


def end(token: str, wait_ms: int) -> str:
    """End a session: stop its threads (waiting ``wait_ms``), timers, remove its files and
    namespace; answers what could not be removed."""
    return f"_ba.v(_ba._end(_ba.get({token!r})and {token!r},{wait_ms},'ended'))"


def renew(token: Ref) -> str:
    return f"_ba.get({token!r})"


def end_orphans(tokens: Iterable[str]) -> str:
    """End the sessions a lost connection left (this host's own tokens); answers them."""
    return (
        f"_ba.v([(_ba.S[t][0],-1,_ba._end(t,200,'lost')) for t in {list(tokens)!r} if t in _ba.S])\n"
        "__import__('gc').collect()"
    )


def reap_expired() -> str:
    """End the sessions whose leases ran out, keeping their records for the next ``begin``
    (short: it must compile on a board too full for anything else)."""
    return "if '_ba' in globals():_ba.reap(0)"


def reap(every: bool) -> str:
    """Reap expired sessions (every session with ``every``); answers all reaped so far."""
    return f"_ba.reap({int(every)})\n_ba.v(_ba.reaped)\ndel _ba.reaped[:]"


def output(token: Ref) -> str:
    """What the session's background code printed since the last look (then cleared); only
    boards with threads have background code."""
    return f"_ba.out({token!r})"


def stats() -> str:
    """The agent's whole record and the board's heap (sent on demand, leaves no names)."""
    return minified_device_file("agent_stats.py").decode()


def live_session_ids() -> str:
    return "print(repr([r[0] for r in _ba.S.values()] if '_ba' in globals() else []))"


def zombie_threads() -> str:
    return "print(repr(list(_ba.zombies()) if '_ba' in globals() and getattr(_ba,'W',None) else []))"


# --- running code in a session ----------------------------------------------------------


def exec_code(token: Ref, code: str, guarded: bool) -> str:
    """Run ``code`` in the session's namespace, straight from the raw REPL's code (one level
    deeper than the bare REPL). ``guarded`` (boards with threads): ``_ba.d`` ends the call for
    the reaper however it ends; elsewhere the plain form spares the parser's heap."""
    run = f"exec({_u(code)},_ba.g({token!r}))"
    return f"try:{run}\nfinally:_ba.d()" if guarded else run


def eval_expression(token: Ref, expression: str, guarded: bool) -> str:
    run = f"_ba.v(eval({_u(expression)},_ba.g({token!r})))"
    return f"try:{run}\nfinally:_ba.d()" if guarded else run


def deploy(token: Ref, source: str, collect: bool) -> str:
    """Define a function in the session's namespace (ends with a newline). The host keeps
    its hash; ``belay stats`` lists the namespace's functions. With ``collect`` (small heaps)
    collected first, so the function lands in the lowest free blocks, not at the garbage's
    high-water mark."""
    first = "_ba.gc.collect()\n" if collect else ""
    return f"{first}exec({source!r},_ba.get({token!r})[4])\n"


def call_task(token: Ref, name: str, arguments: str, guarded: bool) -> str:
    """Call a deployed function; ``arguments`` is call-argument source starting with ``,``.
    ``guarded`` (boards with threads): through ``_ba.c``, which ends the call for the reaper
    however it ends; elsewhere straight from the raw REPL's code, at the REPL's own depth."""
    if guarded:
        return f"_ba.c({token!r},{name!r}{arguments})"
    return f"_ba.v(_ba.g({token!r})[{name!r}]({arguments[1:]}))"


def load_part(module: str) -> str:
    """Import an on-demand part of the agent (it installs itself into the core)."""
    return f"__import__({module!r})"


def start_generator(token: str, generator: int, name: str, arguments: str) -> str:
    """Create generator number ``generator`` from deployed ``name`` and step to its first value."""
    return f"_ba.gen({token!r},{generator},{name!r}{arguments})\n" + next_value(token, generator)


def next_value(token: str, generator: int) -> str:
    """Answers ``(1, value)``, or ``0`` when the generator is done."""
    return f"_ba.step({token!r},{generator})"


def drop_generator(token: str, generator: int) -> str:
    return f"_ba.drop({token!r},{generator})"


def collect_garbage() -> str:
    return "_ba.gc.collect()\n"


def proxy_of(token: str, expression: str) -> str:
    """Evaluate ``expression`` in the session's namespace; a literal, or a new proxy's id."""
    return f"_ba.P('e',{token!r},{_u(expression)})"


def proxy_op(op: str, token: str, ref: int, path: str, arguments: str = "") -> str:
    """Proxy ``ref``'s object at ``path`` (a tuple literal of steps): get it (``"g"``), call it
    (``"c"``, ``arguments`` as call-argument source starting with ``,``), its length
    (``"l"``), membership (``"n"``), set (``"s"``), or a new iterator over it (``"i"``)."""
    return f"_ba.P({op!r},{token!r},{ref},{path}{arguments})"


def proxy_next(token: str, ref: int) -> str:
    return f"_ba.P('x',{token!r},{ref})"


def proxy_drop(token: str, ref: int) -> str:
    return f"_ba.P('d',{token!r},{ref})"


def adopt_proxies(token: str) -> str:
    """After a task that may return ``belay_agent.proxy(obj)``: its objects become the session's."""
    return f"_ba.P('a',{token!r})"


def start_thread(token: str, name: str, function: str, arguments: str) -> str:
    """``arguments`` is a tuple literal."""
    return f"_ba.thread({token!r},{_u(name)},{function!r},{arguments})"


def start_timer(token: str, name: str, function: str, period_ms: int, arguments: str) -> str:
    return f"_ba.timer({token!r},{_u(name)},{function!r},{period_ms},{arguments})"


def cancel_timer(token: str, name: str) -> str:
    return f"_ba.cancel_timer({token!r},{_u(name)})"


# --- files ------------------------------------------------------------------------------
# A put writes a temporary file beside its target (registered as the session's, so the
# session's end or reaping removes it if the host dies) and renames it when complete; chunks
# arrive as bytes literals (belay/session/file_codec.py). A get streams the file's bytes raw
# (escaped, ended by a count) where the board can write bytes to its output.


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
    code = b"_ba_f=" + literal + b"\n"
    if escapes != b"b''":  # a bytes literal (ASCII) of the second bytes
        code += b"for _ba_k in " + escapes + b":_ba_f=_ba_f.replace(bytes((254,_ba_k)),bytes((_ba_k^128,)))\n"
    if packed:
        code += (
            b"_ba_k=__import__('deflate')\n"
            b"_ba_f=_ba_k.DeflateIO(__import__('io').BytesIO(_ba_f),_ba_k.ZLIB).read()\n"
        )
    return code + f"_ba_k=0\n_ba.x({token!r})['w'].write(_ba_f)\ndel _ba_f,_ba_k".encode()


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
    code = _unfile(name)
    if temporary:
        code += f"\n_ba.x({token!r}).setdefault('f',[]).append({_u(name)})"
    return code


def file_abort(token: str, temp_paths: list[str], temp_names: list[str]) -> str:
    """After a failed or cancelled put: close and remove its temporary files (those there)."""
    closing = "".join(
        f"if _ba.x({token!r}).get({k!r}):\n _ba.x({token!r})[{k!r}].close()\n _ba.x({token!r})[{k!r}]=None\n"
        for k in "wr"
    )
    return (
        f"globals().pop('_ba_f',None)\n{closing}"
        f"for _ba_k in {_board_literal(temp_paths)}:\n"
        " try:__import__('os').remove(_ba_k)\n except OSError:pass\n"
        f"for _ba_k in {_board_literal(temp_names)}:\n"
        f" if _ba_k in _ba.x({token!r}).get('f',()):_ba.x({token!r})['f'].remove(_ba_k)\n_ba_k=0\ndel _ba_k"
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
    return f"_ba.get({token!r})\ntry:\n __import__('os').remove({_u(path)})\nfinally:\n " + _unfile(name)


def file_size(path: str, helper: bool) -> str:
    """The size of ``path``, -1 if it is not there: ``_ba.size`` where the threads part is
    loaded (roomy boards, long paths), else inline (``os.size`` on the micro:bit)."""
    if helper:
        return f"_ba.v(_ba.size({_u(path)}))"
    size_of = "(lambda o,p:o.size(p)if hasattr(o,'size')else o.stat(p)[6])"
    return f"try:_ba.v({size_of}(__import__('os'),{_u(path)}))\nexcept OSError:_ba.v(-1)"


def _unfile(name: str) -> str:
    """``name`` is no session's temporary file any more."""
    return (
        f"[r[5]['f'].remove({_u(name)}) for r in _ba.S.values() if r[5] and {_u(name)} in r[5].get('f',())]"
    )


def list_directory(path: str) -> str:
    listdir = f"__import__('os').listdir({_u(path)})" if path else "__import__('os').listdir()"
    return f"_ba.v({listdir})"


# --- file trees, hashes and folders (belay/session/file_tree.py, belay/session/sync.py) --


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
    arguments = ",".join((_u(root), _board_literal(expect), _u(algorithm), str(digits), _u(ignore)))
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
    names = _board_literal(list(paths))
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
        f"for _ba_k in {_board_literal(list(files))}:__import__('os').remove(_ba_k)\n"
        f"for _ba_k in {_board_literal(list(folders))}:__import__('os').rmdir(_ba_k)\n"
    )
    code += "".join(_unfile(name) + "\n" for name in names)
    return code + "_ba_k=0\ndel _ba_k"


def _board_literal(value: object) -> str:
    """``value`` as board source whose short strings the board will not intern."""
    from belay.literals import dumps_for_board

    return dumps_for_board(value)
