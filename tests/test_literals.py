"""Values across the wire: dumps/loads round trips, MicroPython's repr spellings, and refusal of code."""

from __future__ import annotations

import contextlib
import enum
import math
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from belay.errors import DeviceTimeoutError, DeviceValueError
from belay.literals import MAX_DEPTH, MAX_TEXT, aloads, dumps, loads

# --- round trips ---------------------------------------------------------------------

hashable_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
hashables = st.recursive(hashable_scalars, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # inf, -inf, nan and -0.0 included
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.binary(max_size=20).map(bytearray)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.sets(hashables, max_size=4)
    ),
    max_leaves=25,
)


def same(left: Any, right: Any) -> bool:
    """Equal, and of the same type all the way down; nan equals nan, -0.0 is not 0.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        if math.isnan(left):
            return math.isnan(right)
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    return bool(left == right)


@settings(max_examples=300)
@given(value=values)
def test_dumps_then_loads_gives_the_value_back(value: Any) -> None:
    assert same(loads(dumps(value)), value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (math.inf, "float('inf')"),
        (-math.inf, "float('-inf')"),
        (-0.0, "-0.0"),
        (set(), "set()"),
        (frozenset(), "set()"),
        (bytearray(b"a\x04"), "bytearray(b'a\\x04')"),
        ((1,), "(1,)"),
        ((), "()"),
        ({"k": [None, True]}, "{'k': [None, True]}"),
    ],
)
def test_dumps_spells_values_as_micropython_source(value: Any, text: str) -> None:
    assert dumps(value) == text


def test_dumps_writes_nan_as_a_call_micropython_understands() -> None:
    assert dumps(math.nan) == "float('nan')"
    assert math.isnan(loads(dumps(math.nan)))


class Colour(enum.IntEnum):
    RED = 1


class Mode(enum.StrEnum):
    FAST = "fast"


class Sneaky(str):
    def __repr__(self) -> str:
        return "__import__('os').system('reboot')"


class SneakyFloat(float):
    def __repr__(self) -> str:
        return "__import__('os')"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Colour.RED, "1"),
        (Mode.FAST, "'fast'"),
        (Sneaky("hi"), "'hi'"),
        (SneakyFloat(1.5), "1.5"),
        ([Colour.RED, {Mode.FAST: Colour.RED}], "[1, {'fast': 1}]"),
    ],
)
def test_dumps_spells_subclasses_by_their_base_type_never_by_their_repr(value: Any, text: str) -> None:
    assert dumps(value) == text


@pytest.mark.parametrize("value", [object(), print, 1j, Path("x"), type, [1, object()], {"k": {1, 2, dumps}}])
def test_dumps_refuses_what_is_not_a_literal(value: Any) -> None:
    with pytest.raises(DeviceValueError):
        dumps(value)


def test_dumps_refuses_a_value_that_holds_itself() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(DeviceValueError, match="deeper"):
        dumps(loop)


def test_dumps_refuses_nesting_past_the_limit_but_not_at_it() -> None:
    def nested(depth: int) -> list[Any]:
        value: list[Any] = []
        for _ in range(depth):
            value = [value]
        return value

    assert loads(dumps(nested(MAX_DEPTH))) == nested(MAX_DEPTH)
    with pytest.raises(DeviceValueError):
        dumps(nested(MAX_DEPTH + 1))


# --- what MicroPython prints ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("inf", math.inf),
        ("-inf", -math.inf),
        ("set()", set()),
        ("bytearray(b'ab\\x00')", bytearray(b"ab\x00")),
        ("bytearray(b'')", bytearray()),
        ("'\\xe9'", "\xe9"),
        ("'é'", "é"),
        ("1.23457e+08", 123457000.0),
        ("1e+100", 1e100),
        ("-0.0", -0.0),
        ("12345678901234567890123", 12345678901234567890123),
        ("-7", -7),
        ("{1, 2}", {1, 2}),
        ("(1,)", (1,)),
        ("b'\\x04>'", b"\x04>"),
        ("{'a': [1, (2.5, None)], 3: {}}", {"a": [1, (2.5, None)], 3: {}}),
        ("[inf, -inf, True, False]", [math.inf, -math.inf, True, False]),
        ("(1+2j)", 1 + 2j),
        ("-2j", -2j),
        ("  42\r\n", 42),
    ],
)
def test_loads_reads_micropython_reprs(text: str, expected: Any) -> None:
    assert same(loads(text), expected)


def test_loads_reads_nan() -> None:
    assert math.isnan(loads("nan"))
    assert all(math.isnan(item) for item in loads("[nan, -nan]"))


# --- refusal of code: nothing is ever evaluated -------------------------------------

_watching: list[list[str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching and event in ("exec", "import", "open", "os.system", "subprocess.Popen", "builtins.input"):
        _watching[-1].append(event)


sys.addaudithook(_audit)  # audit hooks cannot be removed; it only records while a test watches


@pytest.fixture
def side_effects() -> Iterator[list[str]]:
    """Audit events (imports, opens, exec, ...) that happen during the test."""
    for warm_up in ("[1]", "x"):  # whatever the parser imports lazily, import it now
        with contextlib.suppress(DeviceValueError):
            loads(warm_up)
    seen: list[str] = []
    _watching.append(seen)
    try:
        yield seen
    finally:
        _watching.pop()


CODE = [
    "print(1)",
    "__import__('os')",
    "__import__('os').system('echo pwned')",
    "__import__('belay_canary_module')",
    "open('CANARY', 'w')",
    "exec(\"open('CANARY', 'w')\")",
    "eval('1')",
    "breakpoint()",
    "input()",
    "os.system('x')",
    "x",
    "sys.modules",
    "(1).__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1",
    "(lambda: 1)()",
    "[x for x in range(3)]",
    "{x for x in ()}",
    "{k: v for k, v in ()}",
    "(x for x in ())",
    "f'{1}'",
    "f'{__import__(\"os\")}'",
    "1 if True else 2",
    "1 + 1",
    "'%s' % 1",
    "2 * 3",
    "10 ** 10 ** 10",
    "not 1",
    "~1",
    "-'a'",
    "-True",
    "[1][0]",
    "{1: 2}[1]",
    "{**{}}",
    "[*()]",
    "(x := 1)",
    "set([1])",
    "set(range(3))",
    "bytearray(3)",
    "bytearray(10**9)",
    "bytearray(b'', b'')",
    "bytearray(source=b'')",
    "float('1e5')",
    "float('inf', 1)",
    "type(1)",
    "getattr(1, 'real')",
    "(1+2j)+3j",
    "1 + 2",
    "{[1]}",
    "{[]: 1}",
    "{{}: 1}",
    "1; 2",
    "",
    "'unterminated",
    "\x00",
]


@pytest.mark.parametrize("text", CODE)
def test_loads_refuses_code_without_running_it(text: str, tmp_path: Path, side_effects: list[str]) -> None:
    canary = tmp_path / "canary"
    with pytest.raises(DeviceValueError):
        loads(text.replace("CANARY", str(canary)))
    assert side_effects == []
    assert not canary.exists()
    assert "belay_canary_module" not in sys.modules


@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10),
        "[" * 5000 + "]" * 5000,
        "-" * (MAX_DEPTH + 10) + "1",
        "-" * 100_000 + "1",
        "(" * 100_000,
        "+".join(["1"] * 100_000) + "j",
        "1" * 5000,
    ],
    ids=[
        "deeper-than-the-limit",
        "deeper-than-the-parser",
        "long-sign-chain",
        "huge-sign-chain",
        "open-parens",
        "long-sum",
        "int-past-the-str-limit",
    ],
)
def test_loads_refuses_nesting_and_size_it_cannot_afford(text: str) -> None:
    with pytest.raises(DeviceValueError):
        loads(text)


def test_loads_accepts_nesting_at_the_limit() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    value = loads(text)
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []


def test_loads_refuses_text_over_the_size_limit_before_parsing() -> None:
    with pytest.raises(DeviceValueError, match="exceeds"):
        loads("0" * (MAX_TEXT + 1))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")  # '\\,' in board text
@settings(max_examples=300)
@given(text=st.text(alphabet=st.sampled_from("()[]{},:'\"-+.0123456789jeinfasbtyrl_ \\x*=%"), max_size=40))
def test_loads_gives_plain_data_or_device_value_error_for_any_text(text: str) -> None:
    try:
        value = loads(text)
    except DeviceValueError:
        return
    assert is_plain_data(value)


PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray, type(...))


def is_plain_data(value: Any) -> bool:
    if isinstance(value, list | tuple | set):
        return all(is_plain_data(item) for item in value)
    if isinstance(value, dict):
        return all(is_plain_data(key) and is_plain_data(item) for key, item in value.items())
    return type(value) in PLAIN


# --- bounds in memory and time; runs read at C speed ----------------------------------


@settings(max_examples=300)
@given(value=values)
def test_loads_reads_what_pythons_own_repr_writes(value: Any) -> None:
    assert same(loads(repr(value)), value)


@given(
    items=st.lists(
        st.integers(-(10**17), 10**17)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(alphabet=st.characters(blacklist_characters="'\\\n"), max_size=5),
        max_size=50,
    )
)
def test_loads_reads_long_runs_of_plain_items_as_each_alone(items: list[Any]) -> None:
    for container in (list, tuple):
        text = repr(container(items))
        assert same(loads(text), container(items))
        assert same(loads(text.replace(", ", ",")), container(items))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'\\N{LATIN SMALL LETTER E WITH ACUTE}'", "é"),
        ("'\\u00e9\\U0001f600\\101\\0'", "é\U0001f600A\x00"),
        ("'a\\qb'", "a\\qb"),  # an unknown escape is kept, as Python keeps it
        ("b'\\u00e9'", b"\\u00e9"),  # no \\u in bytes
        ("'\\udcff'", "\udcff"),
        ("'caf\udcff'", "caf\udcff"),  # a board byte that was not UTF-8, kept (surrogateescape)
        ('"it\'s"', "it's"),
        ("[1, 2, 1.5, 2.5, 'a', 'b', -3, 4, ]", [1, 2, 1.5, 2.5, "a", "b", -3, 4]),
        ("{1, 2, 3, 4}", {1, 2, 3, 4}),
        ("{'a': 1, 'b': 2}", {"a": 1, "b": 2}),
        ("(1, 2, 3)", (1, 2, 3)),
        ("((1))", 1),
        ("(nan+nanj)", complex("nan+nanj")),
    ],
)
def test_loads_decodes_escapes_and_runs(text: str, expected: Any) -> None:
    value = loads(text)
    assert repr(value) == repr(expected) and type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "b'\\777'",
        "'\\x4'",
        "'\\N{NO SUCH NAME}'",
        "'\\U00110000'",
        "b'\udcff'",
        "{1: }",
        "{1: 2, 3}",
        "{1, 2: 3}",
        "[,]",
        "(,)",
        "[1 2]",
        "1_000",
    ],
)
def test_loads_refuses_broken_escapes_and_shapes(text: str) -> None:
    with pytest.raises(DeviceValueError):
        loads(text)


def test_loads_refuses_a_value_past_the_memory_bound_with_the_bound() -> None:
    text = "[" + "{}, " * 10_000 + "]"
    assert len(loads(text)) == 10_000
    with pytest.raises(DeviceValueError, match="host memory") as caught:
        loads(text, max_memory=1_000_000)
    assert caught.value.limit == 1_000_000
    with pytest.raises(DeviceValueError, match="host memory"):
        loads("[" + "1000, " * 100_000 + "]", max_memory=1_000_000)  # through the run fast path


def test_loads_stops_at_its_deadline_or_when_told() -> None:
    text = "[" + "[1, (2, 'x')], " * 100_000 + "]"
    with pytest.raises(DeviceTimeoutError):
        loads(text, deadline=time.monotonic() - 1)
    stop = threading.Event()
    stop.set()
    with pytest.raises(DeviceTimeoutError):
        loads(text, stop=stop)
    assert loads("[1, 2]", deadline=time.monotonic() - 1) == [1, 2]  # a short value is always read


@pytest.mark.anyio
async def test_aloads_reads_a_long_value_in_a_thread_and_a_short_one_inline() -> None:
    text = "[" + "'x', " * 100_000 + "]"
    assert await aloads(text, timeout=10) == ["x"] * 100_000
    assert await aloads("(1,)", timeout=None) == (1,)
    with pytest.raises(DeviceTimeoutError):
        await aloads("[" + "[1, (2, 'x')], " * 100_000 + "]", timeout=0.01)


def test_loads_reads_a_long_run_after_many_small_containers() -> None:
    value = [[n] for n in range(300)] + [list(range(5000)), ["s"] * 5000, (1.5,) * 5000]
    assert loads(repr(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[(1, 2), (3, 4)]", [(1, 2), (3, 4)]),
        ("[None, True, 'a,b', 1.5, -2, 1e5, '']", [None, True, "a,b", 1.5, -2, 1e5, ""]),
        ("[(1,), (), [], (1)]", [(1,), (), [], 1]),
        (
            "[(1, 2j), (1, 1E5), (1, inf), (1, 12345678901234567890)]",
            [(1, 2j), (1, 1e5), (1, math.inf), (1, 12345678901234567890)],
        ),
        ("[(1, 'a\\\\nb'), (1, \"it's\")]", [(1, "a\\nb"), (1, "it's")]),
    ],
)
def test_loads_reads_short_containers_of_plain_items_whole_and_others_token_by_token(
    text: str, expected: Any
) -> None:
    assert same(loads(text), expected)
