"""The heap-fit policy: what a board's ``mem_info()`` says it can hold, and when it is asked."""

from __future__ import annotations

import pytest

from belay.errors import DeviceValueError
from belay.heap import FIT_CHECK_ABOVE, HEAP_QUERY, check_fits, heap_room
from belay.link import CallResult

pytestmark = pytest.mark.anyio

UNIX = (
    b"mem: total=20697, current=3935, peak=5878\nstack: 960 out of 80000\n"
    b"GC: total: 2072832, used: 1216, free: 2071616\n"
    b" No. of 1-blocks: 13, 2-blocks: 4, max blk sz: 9, max free sz: 64675\n9223372036854775807\n"
)
MICROBIT = (
    b"stack: 536 out of 1800\r\nGC: total: 10048, used: 1456, free: 8592\r\n"
    b" No. of 1-blocks: 1, 2-blocks: 1, max blk sz: 43, max free sz: 420\r\n0\r\n"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_largest_free_block_in_bytes_from_blocks_of_four_words() -> None:
    assert heap_room(UNIX) == 64675 * 4 * 8  # a 64-bit port (sys.maxsize above 2**32)
    assert heap_room(MICROBIT) == 420 * 4 * 4  # MicroPython 1.9: no sys.maxsize, 32-bit


def test_a_third_of_the_free_heap_where_no_largest_block_is_printed() -> None:
    assert heap_room(b"GC: total: 9000, used: 3000, free: 6000\n2147483647\n") == 2000


def test_no_room_known_from_output_that_says_neither() -> None:
    assert heap_room(b"") is None
    assert heap_room(b"no such thing\n") is None


class Board:
    def __init__(self, answer: CallResult) -> None:
        self.answer = answer
        self.asked: list[bytes] = []

    async def query(self, code: bytes) -> CallResult:
        self.asked.append(code)
        return self.answer


async def test_short_code_is_sent_without_asking() -> None:
    board = Board(CallResult(MICROBIT, b""))
    await check_fits(b"x" * FIT_CHECK_ABOVE, board.query, "microbit")
    assert board.asked == []


async def test_long_code_that_fits_is_sent_after_one_question() -> None:
    board = Board(CallResult(MICROBIT, b""))
    await check_fits(b"x" * 6720, board.query, "microbit")
    assert board.asked == [HEAP_QUERY]


async def test_long_code_that_does_not_fit_is_refused_with_the_limit() -> None:
    board = Board(CallResult(MICROBIT, b""))
    with pytest.raises(DeviceValueError, match="more than the board on microbit") as caught:
        await check_fits(b"x" * 6721, board.query, "microbit")
    assert (caught.value.limit, caught.value.port) == (6720, "microbit")


async def test_a_board_that_cannot_answer_the_question_is_sent_the_code() -> None:
    board = Board(CallResult(b"", b"Traceback ...\nImportError: no module named 'micropython'\n"))
    await check_fits(b"x" * 100_000, board.query, "odd")
    assert board.asked == [HEAP_QUERY]
