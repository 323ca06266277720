"""Submission notebook -> NotebookRun: run it top to bottom in a fresh, confined kernel (nbclient).

A failing cell does not stop the notebook (a human grader reads on). The ways a cell can end badly
(raised, timed out, kernel died, limit hit) become CellFailure kinds and a run status here, as
data. After the student's cells, one more cell (the extraction code, built by extract.py) runs in
the same kernel and returns the answers as plain JSON. The kernel is started by sandbox.py
(bubblewrap, ipc sockets, rlimits) and watched by sandbox.Watchdog (memory, processes, disk, time);
this module adds the output caps and turns every outcome into a NotebookRun.

Fail closed: the payload is only ever taken from the extraction cell's own reply, and only when
that cell completed; otherwise it is None and every answer is "not graded: <reason>".
"""

from __future__ import annotations

import copy
import secrets
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from queue import Empty
from typing import Any, Callable

import nbformat
import zmq
from nbclient import NotebookClient
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import integrity
from .answer_channel import content_bytes as _content_bytes, request_answers as _request_answers, send_key as _send_key
from .extract import setup_code
from .failures import download_note, failure_cause, one_line as _one_line, pip_failure, trim_traceback
from .model import CellFailure, KernelJob, NotebookRun
from .notebook import assigned_in, number_cells, read_notebook_notes
from .sandbox import Limits, Trip, Watchdog, format_bytes, kill_tree, prepare_kernel

TIMEOUT_ENAME = "CellTimeoutError"


def _failure_from_error(index: int, content: dict, cells_by_count: dict[int, int] | None = None) -> CellFailure:
    ename = _one_line(content.get("ename", "Error"), 200)
    kind = "timeout" if ename == TIMEOUT_ENAME else "error"
    evalue = str(content.get("evalue", ""))[:500]
    traceback = number_cells(trim_traceback(list(content.get("traceback", []) or [])[:200]), cells_by_count or {})
    cause, hint = failure_cause(ename, evalue, traceback) if kind == "error" else ("", "")
    return CellFailure(index, kind, ename, evalue, traceback, cause, hint)


class _GuardedClient(NotebookClient):
    """nbclient with output caps: it counts what the kernel sends, keeps at most
    limits.kept_output_bytes per cell (dropping the rest with a note), kills the kernel past
    limits.output_bytes for the notebook, and refuses ZMQ messages over limits.message_bytes
    outright (a single 1 GB print never lands in the grader's memory)."""

    def setup_guard(self, limits: Limits, exempt_from: int) -> None:
        self.limits = limits
        self.exempt_from = exempt_from
        """Cells from this index on (the extraction) are never trimmed."""
        self.watchdog: Watchdog | None = None
        self.received = 0
        self.kept: dict[int, int] = {}
        self.trimmed: set[int] = set()

    async def async_start_new_kernel_client(self):
        self.kc = self.km.client()
        # Default options of sockets this context creates from now on (the channels).
        self.kc.context.setsockopt(zmq.MAXMSGSIZE, int(self.limits.message_bytes))
        await super_start(self)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def output(self, outs, msg, display_id, cell_index):
        size = _content_bytes(msg.get("content", {}))
        self.received += size
        if self.received > self.limits.output_bytes and self.watchdog is not None:
            self.watchdog.fire("output", f"output limit ({format_bytes(self.limits.output_bytes)}) exceeded")
            return None
        if cell_index < self.exempt_from:
            kept = self.kept.get(cell_index, 0) + size
            if kept > self.limits.kept_output_bytes:
                if cell_index not in self.trimmed:
                    self.trimmed.add(cell_index)
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr",
                        text=f"\n[grader: output of this cell beyond {format_bytes(self.limits.kept_output_bytes)} dropped]\n"))
                return None
            self.kept[cell_index] = kept
        return super().output(outs, msg, display_id, cell_index)


async def super_start(client: NotebookClient) -> None:
    """The rest of NotebookClient.async_start_new_kernel_client, on a client made by the caller."""
    from nbclient.util import run_hook

    try:
        await _maybe_await(client.kc.start_channels())
        await _maybe_await(client.kc.wait_for_ready(timeout=client.startup_timeout))
    except Exception:
        await client._async_cleanup_kernel()
        raise
    client.kc.allow_stdin = False
    await run_hook(client.on_notebook_start, notebook=client.nb)


async def _maybe_await(value):
    import inspect

    return await value if inspect.isawaitable(value) else value


def run_notebook(path: Path, task: str, job: KernelJob, limits: Limits = Limits(),
                 data_files: dict[str, Path] | None = None,
                 on_cell: Callable[..., Any] | None = None) -> NotebookRun:
    """Execute a copy of the notebook in a scratch folder, then ask its kernel for the answers (job).

    Only the copy is visible to the kernel: the original (under submissions/) is never touched.
    on_cell is nbclient's on_cell_executed hook (keyword arguments cell, cell_index, execute_reply).
    When the kernel died or a limit stopped it in a cell, the notebook is run once more without that
    cell (see _rerun_without), as a TA reads on past a crash.
    """
    nb, problem, notes = read_notebook_notes(path)
    if nb is None:
        return _run(path, task, "unreadable", reason=problem)
    pristine = copy.deepcopy(nb)  # nbclient writes outputs into the notebook it runs
    first = _run_copy(nb, path, task, job, limits, data_files, on_cell, notes)
    return replace(_rerun_without(first, pristine, job, limits, data_files, on_cell, notes), assigned_in=assigned_in(nb))


def rerun_budget(limits: Limits, spent: float) -> float:
    """Seconds for the re-run: what is left of the notebook's limit, but never less than a fair
    share (the cell limit, and half the notebook's limit up to 60 s), so whether a re-run can
    finish does not hang on how long the killing cell took: a notebook whose cell 9 hit the memory
    limit after 890 of its 900 s still gets 300 s to train again. At worst a notebook takes its
    limit plus the cell limit (or 1.5 times its limit, when that is more)."""
    fair = max(min(limits.cell_seconds, limits.notebook_seconds), min(limits.notebook_seconds / 2, 60.0))
    return max(limits.notebook_seconds - spent, fair)


def killing_cell(run: NotebookRun) -> int | None:
    """Index of the student cell that killed the kernel (it died, or a limit stopped it), else None.
    A notebook that ran out of its own time limit is not re-run: there is no time to give it."""
    if run.status not in ("kernel_died", "limit_exceeded", "timed_out"):
        return None
    killed = [f for f in run.failures if f.kind in ("kernel_died", "limit")
              or (f.kind == "timeout" and "the kernel was stopped" in f.evalue and "per notebook" not in f.evalue)]
    return killed[-1].index if killed else None


def _rerun_without(first: NotebookRun, nb, job, limits: Limits, data_files, on_cell, notes) -> NotebookRun:
    """One re-run in a fresh kernel with the killing cell emptied (numbers stay), within what is left
    of the notebook's time limit. Its answers are graded; the first run's failures are kept (the
    killing cell still shows). If it dies again, what it has is kept: no third run."""
    cell = killing_cell(first)
    if cell is None:
        return first
    what = {"kernel_died": "the kernel died", "limit_exceeded": "a limit stopped the kernel",
            "timed_out": "the kernel was stopped (time limit)"}[first.status]
    left = rerun_budget(limits, first.seconds)
    trimmed = copy.deepcopy(nb)
    trimmed.cells[cell] = nbformat.v4.new_code_cell("")
    second = _run_copy(trimmed, first.path, first.task, job, replace(limits, notebook_seconds=left),
                       data_files, on_cell, notes)
    seen = {(f.index, f.kind) for f in first.failures}
    failures = first.failures + tuple(f for f in second.failures if f.index > cell and (f.index, f.kind) not in seen)
    outcome = ("its answers were graded" if second.payload is not None
               else f"that run did not give answers either ({second.reason})")
    # The status stays the first run's: the notebook did not run top to bottom (Part 2's "runs").
    return replace(second, status=first.status, failures=failures, seconds=round(first.seconds + second.seconds, 3),
                   reason=first.reason,
                   # The first run's notes ("output was cut in cell 3") still format_bytes cells the report shows.
                   notes=first.notes + tuple(n for n in second.notes if n not in first.notes),
                   tampering=first.tampering + tuple(t for t in second.tampering if t not in first.tampering),
                   rerun=(f"{what} in cell {cell + 1}; the notebook was run again without cell {cell + 1} "
                          f"and {outcome}"))


def _run_copy(nb, path: Path, task: str, job: KernelJob, limits: Limits, data_files, on_cell, notes) -> NotebookRun:
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        scratch = Path(tmp)
        work = scratch / "work"
        (work / "data").mkdir(parents=True)
        # The copy is written from what was read (outputs dropped), never copied from the path again:
        # a link swapped in after reading is not followed.
        (work / path.name).write_text(nbformat.writes(nb), encoding="utf-8")
        for name, src in (data_files or {}).items():
            shutil.copyfile(src, work / "data" / name)
        kernel = prepare_kernel(scratch, limits)
        try:
            if limits.require_sandbox and not kernel.full:
                return _run(path, task, "not_run", sandbox=kernel.sandbox, notes=notes,
                            reason=f"not run: the full sandbox is required but {kernel.sandbox}")
            return _execute(nb, path, task, job, limits, scratch, on_cell, kernel, notes)
        finally:
            kernel.close()


def _run(path, task, status, notes=(), **fields) -> NotebookRun:
    return NotebookRun(path, task, status, notes=tuple(notes), **fields)


async def _async_responsive(kc, seconds: float) -> bool:
    """Whether the kernel answers a kernel_info request within `seconds` (it queues behind the
    interrupted cell, so no answer means the cell ignored the interrupt)."""
    msg_id = kc.kernel_info()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            msg = await kc.get_shell_msg(timeout=left)
        except Empty:
            return False
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


_responsive = run_sync(_async_responsive)


def _execute(nb, path, task, job, limits, scratch, on_cell, kernel, notes) -> NotebookRun:
    started = time.monotonic()
    deadline = started + limits.notebook_seconds
    n_cells = len(nb.cells)
    failures: list[CellFailure] = []
    key = secrets.token_bytes(32)
    tampering: tuple[str, ...] = integrity.scan_notebook(nb)

    def cell_timeout(cell) -> int:
        # The per-cell limit, never past the notebook's deadline.
        return max(1, int(min(limits.cell_seconds, deadline - time.monotonic()) + 0.999))

    cells_by_count: dict[int, int] = {}

    def on_error(cell, cell_index, execute_reply):
        count = execute_reply["content"].get("execution_count")
        if type(count) is int:
            cells_by_count[count] = cell_index
        failures.append(_failure_from_error(cell_index, execute_reply["content"], cells_by_count))

    client = _GuardedClient(
        nb, km=kernel.km, timeout_func=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "the cell ran past its time limit",
                          "traceback": []},
        on_cell_error=on_error, on_cell_executed=on_cell, record_timing=False, startup_timeout=120,
        shutdown_kernel="immediate",
    )
    client.setup_guard(limits, exempt_from=n_cells)
    status, reason, payload, current = "ok", "", None, -1
    watchdog: Watchdog | None = None
    pid = None
    try:
        with client.setup_kernel(**kernel.start_kwargs):
            pid = kernel.km.provisioner.pid
            watchdog = Watchdog(pid, scratch, limits, kernel.cgroup,
                                deadline + limits.interrupt_grace_seconds)
            client.watchdog = watchdog
            watchdog.start()
            setup = run_sync(client.kc.execute_interactive)(setup_code(job), store_history=False, timeout=60,
                                                            output_hook=lambda msg: None)
            if setup.get("content", {}).get("status") != "ok":
                content = setup.get("content", {})
                raise RuntimeError(f"the grader's setup failed in the kernel ({content.get('ename')}: "
                                   f"{_one_line(content.get('evalue', ''), 200)})")
            _send_key(client.kc, key)
            for index, cell in enumerate(nb.cells):
                if time.monotonic() >= deadline:
                    status = "timed_out"
                    reason = f"the notebook ran past its {limits.notebook_seconds:g} s limit before cell {index + 1}"
                    break
                current = watchdog.cell = index
                seen = len(failures)
                by_notebook = deadline - time.monotonic() < limits.cell_seconds
                client.execute_cell(cell, index)
                if type(cell.get("execution_count")) is int:
                    cells_by_count[cell["execution_count"]] = index
                pip = pip_failure(index, cell) if len(failures) == seen else None
                if pip is not None:
                    failures.append(pip)
                elif (download := download_note(index, cell)) is not None:
                    notes = [*notes, download]
                if watchdog.check(disk=True) is not None:
                    raise DeadKernelError("limit")
                if any(f.kind == "timeout" for f in failures[seen:]) and not _responsive(
                        client.kc, limits.interrupt_grace_seconds):
                    watchdog.fire("time", (f"time limit ({limits.notebook_seconds:g} s per notebook)" if by_notebook
                                           else f"time limit ({limits.cell_seconds:g} s per cell)")
                                  + " exceeded and the interrupt ignored")
                    raise DeadKernelError("limit")
            if status == "ok" and any(f.kind == "timeout" for f in failures) and time.monotonic() >= deadline:
                status, reason = "timed_out", f"the notebook ran past its {limits.notebook_seconds:g} s limit"
            current = watchdog.cell = n_cells
            watchdog.deadline = time.monotonic() + limits.extraction_seconds + limits.interrupt_grace_seconds
            budget = max(0, limits.output_bytes - client.received)
            answer = _request_answers(client.kc, job, key, limits.extraction_seconds, budget)
            if watchdog.check(disk=True) is not None:
                raise DeadKernelError("limit")
            payload, tampering = answer.payload, tampering + answer.tampering
            if payload is None:
                reason = reason or answer.problem
    except Exception as exc:  # also a kernel that failed to start: the notebook's problem, not the class's
        payload = None
        trip = watchdog.trip if watchdog is not None else None
        status, reason = _failed_outcome(exc, trip, failures, current, n_cells, limits)
    finally:
        if watchdog is not None:
            watchdog.stop()
        if pid is not None:
            kill_tree(pid, kernel.cgroup)
        _stop(client, kernel.km)
    if client.trimmed:
        notes = [*notes, "output was cut to " + format_bytes(limits.kept_output_bytes) + " in cell(s) "
                 + ", ".join(str(i + 1) for i in sorted(client.trimmed))]
    return _run(path, task, status, failures=tuple(failures), seconds=round(time.monotonic() - started, 3),
                reason=reason, payload=payload, sandbox=kernel.sandbox, notes=notes, tampering=tampering)


def _failed_outcome(exc: Exception, trip: Trip | None, failures: list[CellFailure], current: int,
                    n_cells: int, limits: Limits) -> tuple[str, str]:
    """(status, reason) of a run that ended early; a limit hit wins over what nbclient saw."""
    if trip is not None:
        return _add_limit_failure(failures, trip, n_cells, limits)
    if isinstance(exc, CellTimeoutError):
        return "timed_out", "the kernel did not answer within its time limit"
    if not isinstance(exc, DeadKernelError):
        return "kernel_died", f"the kernel could not run the notebook ({type(exc).__name__}: {_one_line(exc, 200)})"
    where = f"cell {current + 1}" if 0 <= current < n_cells else "the grader's answer-reading step"
    reason = f"the kernel died (its process exited or was killed) in {where}"
    if 0 <= current < n_cells:
        failures.append(CellFailure(current, "kernel_died", "DeadKernel", reason, ""))
    return "kernel_died", reason


def _add_limit_failure(failures: list[CellFailure], trip: Trip, n_cells: int, limits: Limits) -> tuple[str, str]:
    """Record the limit hit in failures (replacing nbclient's plain timeout of that cell)."""
    status, reason, failure = _limit_outcome(trip, n_cells, limits)
    if failure is not None:
        failures[:] = [f for f in failures if not (f.index == failure.index and f.kind == "timeout")]
        failures.append(failure)
    return status, reason


def _limit_outcome(trip: Trip, n_cells: int, limits: Limits) -> tuple[str, str, CellFailure | None]:
    """(status, reason, failure) for a limit the watchdog (or the output guard) saw."""
    if 0 <= trip.cell < n_cells:
        where = f"in cell {trip.cell + 1}"
    elif trip.cell >= n_cells:
        where = "in the grader's answer-reading step"
    else:
        where = "before the first cell"
    message = f"{trip.message} {where}; the kernel was stopped"
    if trip.kind == "time":
        failure = CellFailure(trip.cell, "timeout", TIMEOUT_ENAME, message, "") if 0 <= trip.cell < n_cells else None
        return "timed_out", message, failure
    failure = CellFailure(trip.cell, "limit", f"{trip.kind} limit", message, "") if 0 <= trip.cell < n_cells else None
    return "limit_exceeded", message, failure


def _stop(client, km) -> None:
    try:
        if client.kc is not None:
            client.kc.stop_channels()
    except Exception:
        pass
    try:
        run_sync(_async_stop)(km)
    except Exception:
        pass


async def _async_stop(km) -> None:
    if km.has_kernel:
        await km.shutdown_kernel(now=True)
    else:
        await km.cleanup_resources()
