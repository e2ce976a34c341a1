"""Where board output goes on the host: by default the host's standard output, as it arrives."""

from __future__ import annotations

import sys
from typing import Any


class StdoutWriter:
    """Streams board output to a stream as it arrives, CRLF turned into LF.

    ``stream`` is a binary stream, or ``None`` for the host's standard output at the time of
    each write (so pytest's and ``contextlib.redirect_stdout``'s capture see it).
    """

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream
        self._held_cr = False

    def __call__(self, data: bytes) -> None:
        if self._held_cr:
            data = b"\r" + data
        self._held_cr = data.endswith(b"\r")
        if self._held_cr:
            data = data[:-1]
        data = data.replace(b"\r\n", b"\n")
        stream = self._stream
        if stream is None:
            text_stream = sys.stdout
            stream = getattr(text_stream, "buffer", None)
            if stream is None:  # a text-only stdout (io.StringIO in a redirect)
                text_stream.write(data.decode("utf-8", "replace"))
                text_stream.flush()
                return
            text_stream.flush()
        stream.write(data)
        stream.flush()


STDOUT = StdoutWriter()
"""The default destination of a session's output: the host's standard output."""
