"""The notebook extension in a real kernel, driven by ``nbclient``: ``%load_ext belay``,
``%belay connect``, ``%%belay`` cells that keep their state, stream, and show board tracebacks by
the cell's lines, ``%belay run FILE``, and a kernel interrupt that interrupts the board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat, nbclient and ipykernel")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbformat, nbclient and ipykernel")
pytest.importorskip("ipykernel", reason="the notebook tests need nbformat, nbclient and ipykernel")


def run_notebook(cells: list[str], folder: Path, **client: object) -> list[str]:
    """Each cell's text output (streams and errors) after running them all in a fresh kernel."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}}, **client).execute()  # fmt: skip
    texts = []
    for cell in notebook.cells:
        parts = []
        for output in cell.outputs:
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type == "error":
                parts.append(f"{output.ename}: {output.evalue}")
        texts.append("".join(parts))
    return texts


def test_cells_run_on_the_board_in_one_session(tmp_path: Path) -> None:
    (tmp_path / "blink.py").write_text("import sys\nprint('file as', __name__)\ncount = 7\n")
    texts = run_notebook([
        "%load_ext belay",
        "%belay connect unix",
        "%%belay\nx = 6\nprint('on', __import__('sys').platform)",
        "%%belay\nprint(x * 7)",
        "%%belay\ndef divide(a):\n    return a / 0\n\ndivide(x)",
        "%belay run blink.py",
        "%%belay\nprint(count + 1)",
        "%%belay\nimport _thread, time\ndef hello():\n    print('from a thread')\n"
        "_thread.start_new_thread(hello, ())\ntime.sleep_ms(200)",
        "%belay close",
    ], tmp_path)  # fmt: skip
    assert texts[1].startswith("belay: connected to unix (micropython")
    assert texts[2] == "on linux\n"
    assert texts[3] == "42\n"
    assert 'File "<cell>", line 4' in texts[4] and 'File "<cell>", line 2, in divide' in texts[4]
    assert "ZeroDivisionError" in texts[4]
    assert texts[5] == "file as __main__\n"
    assert texts[6] == "8\n"
    assert texts[7] == "from a thread\n"  # the session's thread: kept, shown after its cell


def test_a_kernel_interrupt_interrupts_the_board_and_the_session_goes_on(tmp_path: Path) -> None:
    notebook_cells = [
        "%load_ext belay",
        "%belay connect unix",
        "%%belay\nimport time\nprint('looping')\nwhile True:\n    time.sleep_ms(10)",
        "%%belay\nprint('still here')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in notebook_cells])
    where = {"metadata": {"path": str(tmp_path)}}
    client = nbclient.NotebookClient(notebook, timeout=5, kernel_name="python3", allow_errors=True,
                                     interrupt_on_timeout=True, resources=where)  # fmt: skip
    client.execute()
    outputs = [json.dumps(cell.outputs) for cell in notebook.cells]
    assert "looping" in outputs[2] and "KeyboardInterrupt" in outputs[2]
    assert "still here" in outputs[3]
