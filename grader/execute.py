"""Submission notebook -> NotebookRun: run it top to bottom in a fresh kernel of its own (nbclient).

A failing cell does not stop the notebook (a human grader reads on). The three ways a cell can end
badly (raised, timed out, kernel died) become CellFailure kinds and a run status here, as data.
After the student's cells, one more cell (the extraction code, built by extract.py) runs in the
same kernel and returns the answers as plain JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .model import CellFailure, NotebookRun
from .sandbox import SETUP_CODE, Limits, kernel_manager

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TIMEOUT_ENAME = "CellTimeoutError"
MIME = "application/vnd.hw3-grader.answers+json"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def trim_traceback(lines: list[str], keep: int = 12, width: int = 2000) -> str:
    """The end of a traceback is where the student's error is; the top is IPython plumbing."""
    text = ANSI.sub("", "\n".join(lines))
    rows = text.splitlines()
    if len(rows) > keep:
        rows = ["..."] + rows[-keep:]
    return "\n".join(rows)[-width:]


def read_notebook(path: Path) -> tuple[Any, str]:
    """(notebook, "") or (None, reason a student can act on)."""
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return None, f"the file is {size // 2**20} MiB; clear the outputs and hand it in again"
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as exc:
        return None, f"not a valid notebook (not JSON: {str(exc)[:120]}); save it again from Jupyter"
    except Exception as exc:
        return None, f"not a valid notebook ({type(exc).__name__}: {str(exc)[:120]}); save it again from Jupyter"
    if not nb.cells:
        return None, "the notebook has no cells"
    return nb, ""


def _failure_from_error(index: int, content: dict) -> CellFailure:
    ename = content.get("ename", "Error")
    kind = "timeout" if ename == TIMEOUT_ENAME else "error"
    return CellFailure(index, kind, ename, str(content.get("evalue", ""))[:500],
                       trim_traceback(content.get("traceback", [])))


def _payload(cell) -> tuple[dict | None, str]:
    found = [o["data"][MIME] for o in cell.get("outputs", [])
             if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
    if len(found) != 1:
        return None, f"the answers could not be read ({len(found)} answer outputs instead of 1)"
    return (found[0], "") if isinstance(found[0], dict) else (None, "the answers were not a JSON object")


def run_notebook(path: Path, task: str, extraction_code: str, limits: Limits = Limits(),
                 data_files: dict[str, Path] | None = None,
                 on_cell: Callable[..., Any] | None = None) -> NotebookRun:
    """Execute a copy of the notebook in a scratch folder and run the extraction code after it."""
    nb, problem = read_notebook(path)
    if nb is None:
        return NotebookRun(path, task, "unreadable", reason=problem)
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        scratch = Path(tmp)
        work = scratch / "work"
        (work / "data").mkdir(parents=True)
        shutil.copyfile(path, work / path.name)
        for name, src in (data_files or {}).items():
            shutil.copyfile(src, work / "data" / name)
        return _execute(nb, path, task, extraction_code, limits, scratch, on_cell)


def _execute(nb, path, task, extraction_code, limits, scratch, on_cell) -> NotebookRun:
    started = time.monotonic()
    deadline = started + limits.notebook_seconds
    km, start_kwargs = kernel_manager(scratch)
    failures: list[CellFailure] = []

    def cell_timeout(cell) -> int:
        # The per-cell limit, never past the notebook's deadline.
        return max(1, int(min(limits.cell_seconds, deadline - time.monotonic())))

    client = NotebookClient(
        nb, km=km, timeout_func=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "the cell ran past its time limit",
                          "traceback": []},
        on_cell_error=lambda cell, cell_index, execute_reply: failures.append(
            _failure_from_error(cell_index, execute_reply["content"])),
        on_cell_executed=on_cell, record_timing=False, startup_timeout=120,
        shutdown_kernel="immediate",
    )
    status, reason, payload, current = "ok", "", None, -1
    try:
        with client.setup_kernel(**start_kwargs):
            client.kc.execute_interactive(SETUP_CODE, store_history=False, timeout=60)
            for index, cell in enumerate(nb.cells):
                if time.monotonic() >= deadline:
                    status = "timed_out"
                    reason = f"the notebook ran past its {limits.notebook_seconds:g} s limit before cell {index + 1}"
                    break
                current = index
                client.execute_cell(cell, index)
            current = len(nb.cells)
            if status == "ok" and any(f.kind == "timeout" for f in failures) and time.monotonic() >= deadline:
                status, reason = "timed_out", f"the notebook ran past its {limits.notebook_seconds:g} s limit"
            extraction = nbformat.v4.new_code_cell(extraction_code)
            nb.cells.append(extraction)  # nbclient writes outputs back by index
            client.timeout_func = lambda cell: 120
            client.execute_cell(extraction, len(nb.cells) - 1, store_history=False)
            payload, problem = _payload(extraction)
            if payload is None:
                reason = reason or problem
    except DeadKernelError:
        status = "kernel_died"
        where = f"cell {current + 1}" if current < len(nb.cells) - 1 else "the grader's answer-reading step"
        reason = f"the kernel died (its process exited or was killed) in {where}"
        if current < len(nb.cells) - 1:
            failures.append(CellFailure(current, "kernel_died", "DeadKernel", reason, ""))
    except CellTimeoutError:
        status, reason = "timed_out", "the kernel did not answer within its time limit"
    except Exception as exc:  # kernel failed to start, protocol errors: the notebook, not the class
        status, reason = "kernel_died", f"the kernel could not run the notebook ({type(exc).__name__}: {str(exc)[:200]})"
    finally:
        _stop(km)
    return NotebookRun(path, task, status, tuple(failures), round(time.monotonic() - started, 3),
                       reason, payload)


def _stop(km) -> None:
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    except Exception:
        pass
