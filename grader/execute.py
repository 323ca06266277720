"""Submission notebook -> NotebookRun: run it top to bottom in a fresh, confined kernel (nbclient).

A failing cell does not stop the notebook (a human grader reads on). One run (`_Run`) is four
steps in order: start (the grader's setup code and the signing key), the student's cells, the
extraction (the answers come back on the signed channel, answer_channel.py), the outcome. The
watchdog watches each step; a limit hit or a kernel death ends the run by returning its outcome,
and every way a cell can end badly (raised, timed out, kernel died, limit hit) becomes a
CellFailure kind and a run status, as data. When the kernel died or a limit stopped it in a cell,
the notebook is run once more without that cell, as a TA reads on past a crash.

Fail closed: the payload is only ever taken from the answer channel's one signed reply; otherwise
it is None and every answer is "not graded: <reason>".
"""

from __future__ import annotations

import copy
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from queue import Empty
from typing import Any, Callable

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from . import integrity
from .answer_channel import content_bytes, request_answers, send_key
from .failures import download_note, failure_cause, one_line, pip_failure, trim_traceback
from .kernel import setup_code
from .model import CellFailure, KernelJob, NotebookRun
from .notebook import assigned_in, number_cells, read_notebook_notes
from .sandbox import Kernel, Limits, format_bytes, prepare_kernel
from .watchdog import Trip, Watchdog

TIMEOUT_ENAME = "CellTimeoutError"
"""What the report calls the error of a cell that ran past its limit. Never matched: which cell
timed out is known by its index, and a student may raise an exception of that name too."""
TIMEOUT_REPLY = {"ename": TIMEOUT_ENAME, "evalue": "the cell ran past its time limit", "traceback": []}


def run_notebook(path: Path, task: str, job: KernelJob, limits: Limits = Limits(),
                 data_files: dict[str, Path] | None = None) -> NotebookRun:
    """Execute a copy of the notebook in a scratch folder, then ask its kernel for the answers (job).

    Only the copy is visible to the kernel: the original (under submissions/) is never touched.
    When the kernel died or a limit stopped it in a cell, the notebook is run once more without that
    cell (see _rerun_without).
    """
    nb, problem, notes = read_notebook_notes(path)
    if nb is None:
        return _notebook_run(path, task, "unreadable", reason=problem)
    pristine = copy.deepcopy(nb)  # nbclient writes outputs into the notebook it runs
    first = _run_copy(nb, path, task, job, limits, data_files, notes)
    return replace(_rerun_without(first, pristine, job, limits, data_files, notes), assigned_in=assigned_in(nb))


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


def _rerun_without(first: NotebookRun, nb, job, limits: Limits, data_files, notes) -> NotebookRun:
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
    second = _run_copy(trimmed, first.path, first.task, job, replace(limits, notebook_seconds=left), data_files, notes)
    seen = {(f.index, f.kind) for f in first.failures}
    failures = first.failures + tuple(f for f in second.failures if f.index > cell and (f.index, f.kind) not in seen)
    outcome = ("its answers were graded" if second.payload is not None
               else f"that run did not give answers either ({second.reason})")
    # The status stays the first run's: the notebook did not run top to bottom (Part 2's "runs").
    return replace(second, status=first.status, failures=failures, seconds=round(first.seconds + second.seconds, 3),
                   reason=first.reason,
                   # The first run's notes ("output was cut in cell 3") still describe cells the report shows.
                   notes=first.notes + tuple(n for n in second.notes if n not in first.notes),
                   tampering=first.tampering + tuple(t for t in second.tampering if t not in first.tampering),
                   peak_memory=max(first.peak_memory, second.peak_memory),
                   timings={k: round(first.timings.get(k, 0) + second.timings.get(k, 0), 3)
                            for k in {**first.timings, **second.timings}},
                   rerun=(f"{what} in cell {cell + 1}; the notebook was run again without cell {cell + 1} "
                          f"and {outcome}"))


def _run_copy(nb, path: Path, task: str, job: KernelJob, limits: Limits, data_files, notes) -> NotebookRun:
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
                return _notebook_run(path, task, "not_run", sandbox=kernel.sandbox, notes=notes,
                                     reason=f"not run: the full sandbox is required but {kernel.sandbox}")
            return _Run(nb, path, task, job, limits, scratch, kernel, notes).notebook_run()
        finally:
            kernel.close()


def _notebook_run(path, task, status, notes=(), **fields) -> NotebookRun:
    return NotebookRun(path, task, status, notes=tuple(notes), **fields)


@dataclass(frozen=True)
class _Outcome:
    """How a run ended: its status, why (for the report) and the answers, if any came back."""

    status: str
    reason: str = ""
    payload: dict | None = None


class _Run:
    """One run of a notebook in one kernel: start, the student's cells, the extraction, the outcome.

    Each step returns None to go on, or the _Outcome that ends the run (a limit hit, a death).
    """

    def __init__(self, nb, path: Path, task: str, job: KernelJob, limits: Limits, scratch: Path,
                 kernel: Kernel, notes: list[str]):
        self.nb, self.path, self.task, self.job, self.limits, self.kernel = nb, path, task, job, limits, kernel
        self.notes = list(notes)
        self.started = time.monotonic()
        self.deadline = self.started + limits.notebook_seconds
        """time.monotonic() at which the notebook's time limit runs out."""
        self.late = ""
        """Why the notebook ran out of time with its kernel alive (status timed_out; answers are still read)."""
        self.failures: list[CellFailure] = []
        self.timings: dict[str, float] = {}
        """Seconds per step (kernel start, setup, cells, extraction, stop): where a notebook's time goes."""
        self.cells_by_count: dict[int, int] = {}
        """IPython's execution count -> cell index, to number cells in tracebacks as Jupyter does."""
        self.tampering: tuple[str, ...] = integrity.scan_notebook(nb)
        self.key = secrets.token_bytes(32)
        self.watchdog = Watchdog(kernel.provisioner.processes, kernel.provisioner.kill_tree, scratch, limits)
        self.client = _GuardedClient(nb, kernel.km, limits, on_limit=self.watchdog.fire,
                                     timeout_func=self._cell_timeout, on_cell_error=self._on_error)

    def notebook_run(self) -> NotebookRun:
        """Run every step -> the NotebookRun (the kernel's whole tree is dead when it returns)."""
        try:
            with self.client.setup_kernel():
                self.timings["kernel"] = round(time.monotonic() - self.started, 3)
                outcome = (self._timed("setup", self._start) or self._timed("cells", self._student_cells)
                           or self._timed("extraction", self._extraction))
        except Exception as exc:  # also a kernel that failed to start: the notebook's problem, not the class's
            outcome = self._crashed(exc)
        finally:
            self._timed("stop", self._stop)
        if self.client.trimmed:
            self.notes.append("output was cut to " + format_bytes(self.limits.kept_output_bytes) + " in cell(s) "
                              + ", ".join(str(i + 1) for i in sorted(self.client.trimmed)))
        return _notebook_run(self.path, self.task, outcome.status, failures=tuple(self.failures),
                             seconds=round(time.monotonic() - self.started, 3), reason=outcome.reason,
                             payload=outcome.payload, sandbox=self.kernel.sandbox, notes=self.notes,
                             tampering=self.tampering, peak_memory=self.watchdog.peak_memory,
                             timings=dict(self.timings))

    def _timed(self, name: str, step: Callable[[], Any]) -> Any:
        began = time.monotonic()
        try:
            return step()
        finally:
            self.timings[name] = round(time.monotonic() - began, 3)

    def _start(self) -> _Outcome | None:
        """The grader's setup code, then the signing key: before the first student cell."""
        _, trip = self.watchdog.watch(-1, self.deadline + self.limits.interrupt_grace_seconds, self._setup)
        return None if trip is None else self._stopped_by(trip)

    def _setup(self) -> None:
        kc = self.client.kc
        reply = run_sync(kc.execute_interactive)(setup_code(self.job), store_history=False, timeout=60,
                                                 output_hook=lambda msg: None)
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(f"the grader's setup failed in the kernel ({content.get('ename')}: "
                               f"{one_line(content.get('evalue', ''), 200)})")
        send_key(kc, self.key)

    def _student_cells(self) -> _Outcome | None:
        """Every cell in order, each watched -> the outcome when a limit or a death stopped the
        kernel; None when the kernel is alive for the extraction."""
        limit = self.limits.notebook_seconds
        for index, cell in enumerate(self.nb.cells):
            if time.monotonic() >= self.deadline:
                self.late = f"the notebook ran past its {limit:g} s limit before cell {index + 1}"
                return None
            by_notebook = self.deadline - time.monotonic() < self.limits.cell_seconds
            died, trip = self.watchdog.watch(index, self.deadline + self.limits.interrupt_grace_seconds,
                                             partial(self._run_cell, index, cell, by_notebook))
            if trip is not None:
                return self._stopped_by(trip)
            if died:
                return self._died_in(index)
        if any(f.kind == "timeout" for f in self.failures) and time.monotonic() >= self.deadline:
            self.late = f"the notebook ran past its {limit:g} s limit"
        return None

    def _run_cell(self, index: int, cell, by_notebook: bool) -> bool:
        """Execute one student cell -> whether the kernel died in it. A cell past its limit was
        interrupted (nbclient); if it ignores the interrupt, the kernel is killed (a time Trip)."""
        seen = len(self.failures)
        try:
            self.client.execute_cell(cell, index)
        except DeadKernelError:
            return True
        if type(cell.get("execution_count")) is int:
            self.cells_by_count[cell["execution_count"]] = index
        pip = pip_failure(index, cell) if len(self.failures) == seen else None
        if pip is not None:
            self.failures.append(pip)
        elif (download := download_note(index, cell)) is not None:
            self.notes.append(download)
        if index in self.client.timed_out and not _responsive(self.client.kc, self.limits.interrupt_grace_seconds):
            limit = (f"{self.limits.notebook_seconds:g} s per notebook" if by_notebook
                     else f"{self.limits.cell_seconds:g} s per cell")
            self.watchdog.fire("time", f"time limit ({limit}) exceeded and the interrupt ignored")
        return False

    def _extraction(self) -> _Outcome:
        """The grader's answer-reading step, on the signed channel -> the run's outcome."""
        limits = self.limits
        budget = max(0, limits.output_bytes - self.client.received)
        deadline = time.monotonic() + limits.extraction_seconds + limits.interrupt_grace_seconds
        answer, trip = self.watchdog.watch(len(self.nb.cells), deadline, partial(
            request_answers, self.client.kc, self.job, self.key, limits.extraction_seconds, budget))
        if trip is not None:
            return self._stopped_by(trip)
        self.tampering += answer.tampering
        return _Outcome("timed_out" if self.late else "ok", self.late or answer.problem, answer.payload)

    def _stopped_by(self, trip: Trip) -> _Outcome:
        """A limit hit ends the run; its failure replaces nbclient's plain timeout of that cell."""
        status, reason, failure = limit_outcome(trip, len(self.nb.cells))
        if failure is not None:
            self.failures = [f for f in self.failures if not (f.index == failure.index and f.kind == "timeout")]
            self.failures.append(failure)
        return _Outcome(status, reason)

    def _died_in(self, index: int) -> _Outcome:
        reason = f"the kernel died (its process exited or was killed) in cell {index + 1}"
        self.failures.append(CellFailure(index, "kernel_died", "DeadKernel", reason, ""))
        return _Outcome("kernel_died", reason)

    def _crashed(self, exc: Exception) -> _Outcome:
        """A step raised: a limit hit (the kernel was killed under it) wins over what was raised."""
        if self.watchdog.trip is not None:
            return self._stopped_by(self.watchdog.trip)
        return _Outcome("kernel_died", f"the kernel could not run the notebook ({type(exc).__name__}: "
                                       f"{one_line(exc, 200)})")

    def _cell_timeout(self, cell) -> int:
        """nbclient's limit for a cell: the cell limit, never past the notebook's deadline."""
        return max(1, int(min(self.limits.cell_seconds, self.deadline - time.monotonic()) + 0.999))

    def _on_error(self, cell, cell_index: int, execute_reply: dict) -> None:
        """nbclient's on_cell_error hook: record the failure, a timeout when nbclient timed this cell out."""
        content = execute_reply["content"]
        if type(content.get("execution_count")) is int:
            self.cells_by_count[content["execution_count"]] = cell_index
        kind = "timeout" if cell_index in self.client.timed_out else "error"
        self.failures.append(failure_from_reply(cell_index, content, kind, self.cells_by_count))

    def _stop(self) -> None:
        self.kernel.provisioner.kill_tree()
        _stop(self.client, self.kernel.km)


def failure_from_reply(index: int, content: dict, kind: str, cells_by_count: dict[int, int]) -> CellFailure:
    """An error reply of cell `index` (kind "error" or "timeout") -> its CellFailure for the report."""
    ename = one_line(content.get("ename", "Error"), 200)
    evalue = str(content.get("evalue", ""))[:500]
    traceback = number_cells(trim_traceback(list(content.get("traceback", []) or [])[:200]), cells_by_count)
    cause, hint = failure_cause(ename, evalue, traceback) if kind == "error" else ("", "")
    return CellFailure(index, kind, ename, evalue, traceback, cause, hint)


def limit_outcome(trip: Trip, n_cells: int) -> tuple[str, str, CellFailure | None]:
    """(status, reason, failure of the cell it stopped, if a student cell) for a limit hit."""
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


class _GuardedClient(NotebookClient):
    """nbclient with output caps, and timeouts known by cell index.

    It counts what the kernel sends, keeps at most limits.kept_output_bytes per cell (dropping the
    rest with a note) and reports the output limit to on_limit(kind, message) past
    limits.output_bytes for the notebook. A cell nbclient times out goes into `timed_out`.
    """

    def __init__(self, nb, km, limits: Limits, on_limit: Callable[[str, str], None], **kw: Any):
        super().__init__(nb, km=km, allow_errors=True, interrupt_on_timeout=True, error_on_timeout=TIMEOUT_REPLY,
                         record_timing=False, startup_timeout=120, shutdown_kernel="immediate", **kw)
        self.limits = limits
        self.on_limit = on_limit
        self.received = 0
        """Bytes of output content the kernel sent for the student's cells."""
        self.kept: dict[int, int] = {}
        self.trimmed: set[int] = set()
        """Cells whose output was cut to limits.kept_output_bytes."""
        self.timed_out: set[int] = set()
        """Cells nbclient interrupted at their time limit."""
        self._running = -1

    async def async_execute_cell(self, cell, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True):
        self._running = cell_index
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    execute_cell = run_sync(async_execute_cell)

    async def _async_handle_timeout(self, timeout: int, cell=None) -> None | dict[str, Any]:
        self.timed_out.add(self._running)
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = content_bytes(msg.get("content", {}))
        self.received += size
        if self.received > self.limits.output_bytes:
            self.on_limit("output", f"output limit ({format_bytes(self.limits.output_bytes)}) exceeded")
            return None
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


def _stop(client: NotebookClient, km) -> None:
    """Close the channels and shut the kernel manager down (the tree is already dead)."""
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
    # Shutdown sends the dead kernel an interrupt request on the control socket, which jupyter_client
    # closes with a 100 ms linger that the context's destruction waits out: 0.1 s of every notebook.
    control = getattr(km, "_control_socket", None)
    if control is not None:
        control.linger = 0
    if km.has_kernel:
        await km.shutdown_kernel(now=True)
    else:
        await km.cleanup_resources()
