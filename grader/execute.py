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

import ast
import copy
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty
from typing import Any, Callable

import nbformat
import zmq
from nbclient import NotebookClient
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import integrity
from .kernel import setup_code
from .kernel.protocol import KEY_TARGET, TARGET
from .model import PIP_ENAME, CellFailure, KernelJob, NotebookRun
from .sandbox import Limits, Trip, Watchdog, describe, kill_tree, prepare_kernel

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TIMEOUT_ENAME = "CellTimeoutError"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
"""Limit on the notebook without its saved outputs (what will run)."""
MAX_RAW_BYTES = 512 * 1024 * 1024
"""Hard cap on the file as handed in (saved outputs included)."""
CELL_TYPES = ("code", "markdown", "raw")


def trim_traceback(lines: list[str], keep: int = 12, width: int = 2000) -> str:
    """The end of a traceback is where the student's error is; the top is IPython plumbing."""
    text = ANSI.sub("", "\n".join(str(line) for line in lines))
    rows = text.splitlines()
    if len(rows) > keep:
        rows = ["..."] + rows[-keep:]
    return "\n".join(rows)[-width:]


def _one_line(text: str, width: int = 160) -> str:
    return " ".join(str(text).split())[:width]


def read_notebook(path: Path) -> tuple[Any, str]:
    """(notebook, "") or (None, one-line reason naming the fix). See read_notebook_notes."""
    nb, problem, _ = read_notebook_notes(path)
    return nb, problem


def read_notebook_notes(path: Path) -> tuple[Any, str, list[str]]:
    """(notebook as nbformat 4, "", notes) or (None, one-line reason naming the fix, []).

    nbformat 3 is upgraded (with a note); cells of unknown type become empty raw cells
    (with a note), so cell numbers stay those of the notebook as handed in.
    """
    fix = "open it in Jupyter and save it again (File > Save)"
    raw, problem = read_bytes(path)
    if raw is None:
        return None, problem, []
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, f"not a valid notebook (not UTF-8 text); {fix}", []
    except json.JSONDecodeError as exc:
        return None, (f"not a valid notebook (not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}); "
                      f"{fix}"), []
    if not isinstance(data, dict) or type(data.get("nbformat")) is not int:
        return None, f"not a Jupyter notebook (JSON without an 'nbformat' version); {fix}", []
    version = data["nbformat"]
    if version not in (3, 4):
        return None, f"nbformat {version} is not supported (only 3 and 4); {fix} in a current Jupyter", []
    notes = [] if version == 4 else [f"the notebook was in nbformat {version}; it was upgraded to 4 to run it"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw.decode("utf-8-sig"), as_version=4)
    except Exception as exc:
        return None, f"not a valid notebook ({type(exc).__name__}: {_one_line(exc, 120)}); {fix}", []
    if not isinstance(nb.get("cells"), list):
        return None, f"not a valid notebook (no list of cells); {fix}", []
    kept, dropped = [], []
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None, f"not a valid notebook (cell {index + 1} is not a cell); {fix}", []
        if cell.get("cell_type") not in CELL_TYPES:
            # Kept as an empty raw cell, so every later cell keeps its number in the notebook.
            dropped.append(f"{index + 1} ({_one_line(cell['cell_type'], 30)!r})")
            kept.append(nbformat.v4.new_raw_cell(""))
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            cell["source"] = "".join(source)
        elif not isinstance(source, str):
            return None, f"not a valid notebook (cell {index + 1} has no text); {fix}", []
        cell.setdefault("metadata", {})
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell.setdefault("execution_count", None)
        kept.append(cell)
    if dropped:
        notes.append("cells of unknown type were ignored: " + ", ".join(dropped[:10]))
    nb.cells = kept
    if not nb.cells:
        return None, "the notebook has no cells; hand in the notebook that holds your work", []
    # Saved outputs were dropped above; the limit is on what will run (old plots cost nothing).
    size = len(nbformat.writes(nb).encode("utf-8"))
    if size > MAX_NOTEBOOK_BYTES:
        return None, (f"the notebook's cells are {describe(size)} without their outputs (limit "
                      f"{describe(MAX_NOTEBOOK_BYTES)}); remove the data pasted into cells and hand it in again"), []
    return nb, "", notes


def read_bytes(path: Path) -> tuple[bytes | None, str]:
    """(content, "") of a regular file, or (None, why). A symbolic link is refused at open time
    (O_NOFOLLOW), so a link swapped in after discovery is not read either."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "the file is a symbolic link: links are not followed; hand in the file itself"
        return None, f"the file cannot be read ({_one_line(exc.strerror or exc)}); hand it in again"
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file; hand in the notebook file itself"
        if info.st_size > MAX_RAW_BYTES:
            return None, (f"the file is {describe(info.st_size)} (limit {describe(MAX_RAW_BYTES)} even "
                          "with outputs); clear the outputs (Kernel > Restart & Clear Output), save and hand it in "
                          "again")
        raw = handle.read(MAX_RAW_BYTES + 1)
    if len(raw) > MAX_RAW_BYTES:
        return None, f"the file is over {describe(MAX_RAW_BYTES)}; clear the outputs, save and hand it in again"
    return raw, ""


# Import names whose pip package is called differently (what the instructor would add).
PIP_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "skimage": "scikit-image",
             "yaml": "pyyaml", "bs4": "beautifulsoup4", "Crypto": "pycryptodome", "attr": "attrs",
             "dateutil": "python-dateutil", "dotenv": "python-dotenv", "google.colab": "google-colab",
             "tf_keras": "tf-keras", "lightning": "lightning", "pytorch_lightning": "pytorch-lightning"}
NETWORK_SIGNS = ("Temporary failure in name resolution", "Name or service not known", "Network is unreachable",
                 "Failed to establish a new connection", "Could not find a version", "No matching distribution",
                 "urlopen error", "Connection refused", "Max retries exceeded", "getaddrinfo failed",
                 "URL fetch failure", "Exception: URL fetch failure", "couldn't connect to",
                 "unable to resolve host", "Could not resolve host")
NETWORK_ENAMES = ("URLError", "gaierror", "ConnectionError", "ConnectionRefusedError", "HTTPError", "Timeout",
                  "ConnectTimeout", "ReadTimeout", "MaxRetryError", "NewConnectionError", "SSLError",
                  "RemoteDisconnected", "timeout")
GPU_SIGNS = ("Torch not compiled with CUDA enabled", "Found no NVIDIA driver", "no CUDA GPUs are available",
             "CUDA driver initialization failed", "Attempting to deserialize object on a CUDA device",
             "cuda is not available", "Could not satisfy device specification", "/device:GPU", "/GPU:0",
             "CUDA error", "NVIDIA driver on your system is too old")
NO_NETWORK_HINT = ("the grader has no network (pip install and downloads fail); use the packages of the "
                   "grading environment and the data in data/")
NO_GPU_HINT = "the grader has no GPU; write device = 'cuda' if torch.cuda.is_available() else 'cpu'"
PIP_LINE = re.compile(r"^\s*[!%]\s*(pip|pip3|conda)\s+install\b", re.M)
MISSING_MODULE = re.compile(r"No module named '([^']+)'")


def missing_package_hint(module: str) -> str:
    top = module.split(".")[0]
    pip = PIP_NAMES.get(module) or PIP_NAMES.get(top) or top.replace("_", "-")
    return (f"the grading environment has no package '{pip}' (import {top}); "
            "the instructor can add it to environment/requirements.txt")


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*$", re.M)


def failure_cause(ename: str, evalue: str, traceback: str) -> tuple[str, str]:
    """(cause, hint) when the grading environment explains the failure, else ("", "")."""
    # The exception lines only: the traceback also shows the student's source, and a line such as
    # `device = "cuda" if torch.cuda.is_available() else "cpu"` in it is no sign of anything.
    text = "\n".join([evalue, *EXCEPTION_LINE.findall(traceback)])
    if any(sign.lower() in text.lower() for sign in GPU_SIGNS):
        return "needs_gpu", NO_GPU_HINT
    if ename.split(".")[-1] in NETWORK_ENAMES or any(sign in text for sign in NETWORK_SIGNS):
        return "no_network", NO_NETWORK_HINT
    if ename.split(".")[-1] in ("ModuleNotFoundError", "ImportError"):
        found = MISSING_MODULE.search(evalue)
        if found:
            return "missing_package", missing_package_hint(found.group(1))
    return "", ""


MAGIC_LINE = re.compile(r"^(\s*)[%!].*$", re.M)


def assigned_in(nb) -> dict[str, int]:
    """Name -> 0-based index of the last code cell that assigns, defines or imports it (what a
    message about a missing name points to). Cells that are not valid Python are skipped."""
    found: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(MAGIC_LINE.sub(r"\1pass", str(cell.get("source", ""))))
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in tree.body:
            for name in _bound_names(node):
                found[name] = index
    return found


def _bound_names(node: ast.stmt) -> list[str]:
    """Names a top-level statement binds in the notebook's namespace."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
        for child in [*getattr(node, "body", []), *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                      *[s for h in getattr(node, "handlers", []) for s in h.body]]:
            names += _bound_names(child)
    return names


IPYTHON_CELL = re.compile(r"Cell In\[(\d+)\]")


def number_cells(traceback: str, cells_by_count: dict[int, int]) -> str:
    """IPython names a cell by its execution count (`Cell In[3], line 2`); the report names it by
    its place in the notebook (`cell 7, line 2`), the one numbering a student sees in Jupyter."""
    def cell(match: re.Match) -> str:
        index = cells_by_count.get(int(match.group(1)))
        return match.group(0) if index is None else f"cell {index + 1}"
    return IPYTHON_CELL.sub(cell, traceback)


def _failure_from_error(index: int, content: dict, cells_by_count: dict[int, int] | None = None) -> CellFailure:
    ename = _one_line(content.get("ename", "Error"), 200)
    kind = "timeout" if ename == TIMEOUT_ENAME else "error"
    evalue = str(content.get("evalue", ""))[:500]
    traceback = number_cells(trim_traceback(list(content.get("traceback", []) or [])[:200]), cells_by_count or {})
    cause, hint = failure_cause(ename, evalue, traceback) if kind == "error" else ("", "")
    return CellFailure(index, kind, ename, evalue, traceback, cause, hint)


def _stream_text(cell) -> str:
    return "".join(str(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")


# How pip says it did not install anything when no network sign is shown: the system pip refuses an
# externally managed environment, the kernel's site-packages is read-only, pip is not on PATH.
PIP_ERROR = re.compile(r"^\s*(ERROR:|error:).*|.*(externally-managed-environment|Read-only file system"
                       r"|pip3?: not found|No module named pip).*$", re.M)


def pip_failure(index: int, cell) -> CellFailure | None:
    """A `!pip install` line does not raise when it fails; its output says so. Recorded as a
    failure with cause no_network so the report explains it (it is not a raising cell). Whatever
    pip's reason, the student's fix is the same: the grader installs nothing."""
    if not PIP_LINE.search(str(cell.get("source", ""))):
        return None
    out = ANSI.sub("", _stream_text(cell))
    sign = next((s for s in NETWORK_SIGNS if s in out), None)
    if sign is not None:
        line = next((ln for ln in out.splitlines() if sign in ln), sign)
    elif (found := PIP_ERROR.search(out)) is not None:
        line = found.group(0)
    else:
        return None
    return CellFailure(index, "error", PIP_ENAME, _one_line(line, 300), trim_traceback(out.splitlines()[-6:]),
                       "no_network", NO_NETWORK_HINT)


DOWNLOAD_LINE = re.compile(r"^\s*!\s*(wget|curl|git\s+clone|gdown|kaggle)\b", re.M)


def download_note(index: int, cell) -> str | None:
    """`!wget URL` (Colab's way to fetch data) does not raise either: without network, or without
    the tool, its output says so. A note, not a CellFailure: the cell raised nothing and ran on the
    student's machine, so it must not cost Part 2's "runs" item (like PIP_ENAME's failures)."""
    command = DOWNLOAD_LINE.search(str(cell.get("source", "")))
    if command is None:
        return None
    out = ANSI.sub("", _stream_text(cell))
    line = next((ln for ln in out.splitlines() if any(s in ln for s in NETWORK_SIGNS) or ": not found" in ln), None)
    if line is None:
        return None
    return (f"cell {index + 1}: !{' '.join(command.group(1).split())} did not download ({_one_line(line, 200)}); "
            f"{NO_NETWORK_HINT}")


def _content_bytes(content: dict) -> int:
    try:
        return len(json.dumps(content, default=str))
    except (TypeError, ValueError, RecursionError):
        return len(str(content))


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
            self.watchdog.fire("output", f"output limit ({describe(self.limits.output_bytes)}) exceeded")
            return None
        if cell_index < self.exempt_from:
            kept = self.kept.get(cell_index, 0) + size
            if kept > self.limits.kept_output_bytes:
                if cell_index not in self.trimmed:
                    self.trimmed.add(cell_index)
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr",
                        text=f"\n[grader: output of this cell beyond {describe(self.limits.kept_output_bytes)} dropped]\n"))
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
                   # The first run's notes ("output was cut in cell 3") still describe cells the report shows.
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
        notes = [*notes, "output was cut to " + describe(limits.kept_output_bytes) + " in cell(s) "
                 + ", ".join(str(i + 1) for i in sorted(client.trimmed))]
    return _run(path, task, status, failures=tuple(failures), seconds=round(time.monotonic() - started, 3),
                reason=reason, payload=payload, sandbox=kernel.sandbox, notes=notes, tampering=tampering)


@dataclass(frozen=True)
class _Answer:
    """What came back on the answer channel."""

    payload: dict | None
    problem: str = ""
    """Why there is no payload, for the report."""
    tampering: tuple[str, ...] = ()


def _verified(content: dict, key: bytes) -> tuple[dict | None, str]:
    """(payload, "") from a comm_msg signed with key, or (None, what is wrong with it)."""
    data = content.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("payload"), str) or not isinstance(data.get("mac"), str):
        return None, "an answer message without the grader's signature"
    mac = hmac.new(key, data["payload"].encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, data["mac"]):
        return None, "an answer message whose signature does not verify (forged or altered)"
    try:
        payload = json.loads(data["payload"])
    except (ValueError, RecursionError):
        return None, "a signed answer message that is not JSON"
    return (payload, "") if isinstance(payload, dict) else (None, "a signed answer that is not a JSON object")


def _integrity_problems(payload: dict) -> tuple[str, ...]:
    found = payload.pop("integrity", [])
    if not isinstance(found, list):
        return ("the kernel-side guard's report was unreadable",)
    return tuple(f"changed in the kernel: {_one_line(p, 200)}" for p in found[:20] if isinstance(p, str))


async def _async_send_key(kc, key: bytes, seconds: float = 30) -> None:
    """Hand the signing key to kernel_guard as data, before the first student cell (see KEY_TARGET)."""
    msg = kc.session.msg("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": KEY_TARGET,
                                       "data": {"key": key.hex()}})
    kc.shell_channel.send(msg)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        reply = await kc.get_iopub_msg(timeout=left)
        if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"] and \
                reply.get("msg_type") == "status" and reply.get("content", {}).get("execution_state") == "idle":
            return


_send_key = run_sync(_async_send_key)


async def _async_request_answers(kc, job: KernelJob, key: bytes, seconds: float, max_bytes: int) -> _Answer:
    """Open a comm to kernel_guard's handler with the request as data and wait for its one signed
    reply. Anything else on that comm is a sign of tampering; no reply fails closed."""
    comm_id = uuid.uuid4().hex
    msg = kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": TARGET, "data": job.request})
    kc.shell_channel.send(msg)
    end, received, replies, problems = time.monotonic() + seconds, 0, [], []
    while (left := end - time.monotonic()) > 0:
        try:
            reply = await kc.get_iopub_msg(timeout=left)
        except Empty:
            return _Answer(None, f"the grader's answer-reading step ran past its {seconds:g} s limit")
        if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
            continue
        content = reply.get("content", {})
        received += _content_bytes(content)
        if received > max_bytes:
            return _Answer(None, "the answers were larger than the output limit")
        if reply.get("msg_type") == "comm_msg" and content.get("comm_id") == comm_id:
            payload, problem = _verified(content, key)
            (replies.append(payload) if payload is not None else problems.append(problem))
        elif reply.get("msg_type") == "status" and content.get("execution_state") == "idle":
            break
    tampering = tuple(f"answer channel: {p}" for p in problems)
    if len(replies) != 1:
        why = "no answer came back from the grader's code in the kernel" if not replies else "several answers came back"
        return _Answer(None, f"the answers could not be read ({why})", tampering + (
            (f"answer channel: {why} (its handler was replaced or blocked?)",) if problems or replies else ()))
    payload = replies[0]
    tampering += _integrity_problems(payload)
    if "values" not in payload:
        return _Answer(None, "the grader's answer-reading step failed in the kernel ("
                       + _one_line(payload.get("error", "no values"), 200) + ")", tampering)
    return _Answer(payload, "", tampering)


_request_answers = run_sync(_async_request_answers)


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
