"""Data that crosses modules. Steps import these, never each other.

Flow: discover -> Submission; execute -> NotebookRun; extract -> Answers;
checks -> Finding; score -> StudentResult; report writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

Level = Literal["undergrad", "grad"]
LEVELS: tuple[str, ...] = get_args(Level)
RunStatus = Literal["ok", "timed_out", "kernel_died", "unreadable", "limit_exceeded", "not_run"]
Status = Literal["pass", "fail", "missing", "error", "review"]

# Tasks by contract file name; Part 2 tasks may come as several notebooks (one per framework).
TASKS = ("H3P1", "H3P2T1", "H3P2T2")
QUESTION_IDS = ("Q1", "Q2", "Q3", "Q4", "Q5", "H3P2T1", "H3P2T2", "bonus_frameworks")
TASK_WEIGHTS = {"H3P1": 1.0, "H3P2T1": 8.0, "H3P2T2": 8.0}
"""Expected cost of a notebook by task, relative to a Part 1 notebook (measured: ~4 s vs ~30 s): the
scheduler starts the heaviest first, the progress bar's ETA weighs them."""
TARGET_RANGES: dict[str, tuple[float, float]] = {"income": (0.0, 10000.0), "age": (0.0, 100.0)}
"""The contract's ranges of H3P2T2's outputs (and Q4's Y), in its column order; the rubric's part2
ranges default to them, the datasets are drawn in them."""
TARGETS = tuple(TARGET_RANGES)


@dataclass(frozen=True)
class Submission:
    """One student's hand-in, as found on disk."""

    student: str
    """Folder name under submissions/ (the roster's id)."""
    level: Level
    folder: Path | None
    """None when the roster names a student who handed nothing in."""
    notebooks: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    """Task id (H3P1, H3P2T1, H3P2T2) -> notebooks for it, sorted by name."""
    ignored: tuple[str, ...] = ()
    """Files in the folder that the contract does not name (relative paths)."""
    notes: tuple[str, ...] = ()
    """Informational lines from discovery (level taken from --default-level, a renamed file
    accepted as H3P1)."""
    attention: tuple[str, ...] = ()
    """Discovery problems an instructor must look at (a symbolic link, an unrecognised notebook in a
    folder that lacks a task's notebook, several candidates for one task)."""


PIP_ENAME = "pip install"
"""CellFailure.ename of a `!pip install` line that failed for lack of network: recorded for the
report, but the cell raised nothing, so no check counts it as a failing cell."""


@dataclass(frozen=True)
class CellFailure:
    """A cell that did not complete normally. The notebook went on after it."""

    index: int
    """0-based index of the cell in the notebook as handed in (markdown cells count)."""
    kind: Literal["error", "timeout", "kernel_died", "limit"]
    ename: str
    evalue: str
    traceback: str
    """Trimmed, ANSI-free traceback text for the report."""
    cause: str = ""
    """"missing_package", "no_network" or "needs_gpu" when the grading environment is why it failed."""
    hint: str = ""
    """The sentence for the report that goes with the cause."""

    @property
    def number(self) -> int:
        """1-based position in the notebook, counting every cell, as the student sees it in Jupyter."""
        return self.index + 1


@dataclass(frozen=True)
class NotebookRun:
    """The result of executing one notebook top to bottom in its own kernel."""

    path: Path
    task: str
    status: RunStatus
    failures: tuple[CellFailure, ...] = ()
    seconds: float = 0.0
    reason: str = ""
    """Why status is not ok, in words for the report."""
    payload: dict[str, Any] | None = None
    """Raw JSON payload the extraction request got back from the kernel (None if none)."""
    sandbox: str = ""
    """How the kernel was confined ("full: bubblewrap ..." or "reduced: ...")."""
    notes: tuple[str, ...] = ()
    """Things the report should mention that are not failures (nbformat 3 upgraded, output cut)."""
    rerun: str = ""
    """What the re-run without a killing cell did, for the report ("" when there was none)."""
    assigned_in: dict[str, int] = field(default_factory=dict)
    """Name -> 0-based index (among all cells) of the last code cell that assigns, defines or imports
    it, from an AST scan of the notebook as read; how a missing answer names the cell that failed."""
    tampering: tuple[str, ...] = ()
    """Signs that the notebook tampered with the grader (static scan of its source, changes the
    kernel-side guard found, a forged answer message); its points are held for an instructor."""
    peak_memory: int = 0
    """Largest resident memory of the kernel's process tree seen, bytes (0: no kernel ran)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step of the run: "kernel" (sandbox and kernel start), "setup" (the grader's setup
    cell), "cells" (the student's), "extraction", "stop"; the rest of `seconds` is the grader's."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Value:
    """One answer as it came out of the kernel, already checked for type and size."""

    kind: Literal["str", "bool", "int", "float", "list", "dict", "callable", "none"]
    value: Any = None
    """JSON-able value (str/bool/int/float/nested list/dict with str keys); None for callables and None."""
    type_name: str = ""
    """The Python type name seen in the kernel (for messages)."""


@dataclass(frozen=True)
class ProbeResult:
    """What a callable answer returned when the grader called it in the kernel."""

    ok: bool
    value: Any = None
    """Nested lists of floats (None, "inf", "-inf", "nan" never appear: non-finite floats are strings)."""
    error: str = ""


@dataclass(frozen=True)
class Answers:
    """The answers of one notebook, as plain data."""

    task: str
    values: dict[str, Value] = field(default_factory=dict)
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    """Probe key -> result of calling a student's callable in the kernel."""
    missing: dict[str, str] = field(default_factory=dict)
    """Answer name -> why it is absent (not defined, too large, kernel died before...)."""
    observed: dict[str, Any] = field(default_factory=dict)
    """Handler name -> what a task-specific kernel handler observed (the "part2" introspection), as
    untrusted JSON: the task's checkers parse it once (checks/part2/observe.py)."""
    notes: tuple[str, ...] = ()
    """What the report should say about the answers as a whole (none of the task's names defined)."""


@dataclass(frozen=True)
class Probe:
    """A call the grader wants made in the kernel on a student's callable.

    The kernel evaluates chain[-1](...chain[1](chain[0](*args, **kwargs))). Lists in args/kwargs
    become float64 arrays when as_array is true. Keyword arguments the callable does not declare
    are dropped (the contract lets a callable take only the symbols it uses). A value
    {"__fn__": "tanh"} stands for a function from the kernel-side activation table; {"__fn__":
    "d_tanh"} for its derivative.
    """

    key: str
    chain: tuple[str, ...]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    as_array: bool = True
    elementwise_fallback: bool = True
    """If the vectorised call fails, call once per element with floats (students write math.exp)."""


@dataclass(frozen=True)
class HiddenSet:
    """A Part 2 task's hidden test set. Lives in the grader's process only; labels never leave it."""

    task: str
    X: Any
    """float64 array (N, d) of raw features: the only part sent into a kernel."""
    y: Any
    """Labels: (N,) of 0/1 for H3P2T1, (N, 2) [income, age] for H3P2T2."""
    features: tuple[str, ...] = ()
    """The CSV header's feature names (e.g. x1..x5): how messages name columns, and the DataFrame
    columns for a student function that only takes a DataFrame."""


@dataclass(frozen=True)
class Request:
    """What the grader asks the kernel for after the student's cells have run."""

    names: tuple[str, ...]
    """Answer names to read from the notebook's namespace."""
    probes: tuple[Probe, ...] = ()
    """Calls to make on answers that turn out to be callables (skipped for other kinds)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Handler name -> JSON spec for task-specific kernel-side handlers (Part 2 introspection)."""


@dataclass(frozen=True)
class KernelJob:
    """What a notebook's kernel is given to answer the grader's request (see extract.kernel_code)."""

    modules: tuple[tuple[str, str], ...]
    """(name, source) of the grader/kernel/ modules loaded before the student's first cell."""
    request: dict[str, Any]
    """The request as JSON data; it reaches the kernel as data (a comm message), never as code."""


@dataclass(frozen=True)
class Finding:
    """A checker's verdict on one item."""

    item: str
    status: Status
    fraction: float
    """Share of the item's points earned, 0..1."""
    message: str = ""
    counterexample: dict[str, Any] | None = None
    """Where the answer was tried and failed: {"point": {...}, "expected": x, "given": y, ...}."""
    chart: dict[str, Any] | None = None
    """Numbers a report can plot for this item (see ItemScore.chart); never a hidden row."""


@dataclass(frozen=True)
class TaskResult:
    """One notebook through execute -> extract -> check."""

    run: NotebookRun
    observed: Any
    """What its checker judged: Answers (Part 1) or a Part 2 observation (checks/part2/observe.py)."""
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    """The answers' notes (Answers.notes), for the student's report."""


@dataclass(frozen=True)
class ItemScore:
    question: str
    item: str
    points: float
    max_points: float
    status: Status
    message: str = ""
    override: str = ""
    """The instructor's comment when overrides.yaml replaced the checker's points."""
    counterexample: dict[str, Any] | None = None
    """Where the answer was tried and failed (the point, the expected and the student's value)."""
    chart: dict[str, Any] | None = None
    """What a report plots for the item, one of
    {"kind": "accuracy", "label": "net1", "value": 0.91, "full": 0.88, "zero": 0.55} or
    {"kind": "abs_error", "label": "income", "quantiles": [21 floats, 0%..100% by 5%], "mae": 193.0,
    "full": 400, "zero": 2500}. Summaries only: nothing from which a hidden row can be rebuilt."""


@dataclass(frozen=True)
class QuestionScore:
    id: str
    points: float
    max_points: float
    bonus: bool
    items: tuple[ItemScore, ...]


@dataclass(frozen=True)
class StudentResult:
    student: str
    level: Level
    questions: tuple[QuestionScore, ...]
    total: float
    max_total: float
    needs_review: bool
    """Some points are provisional (free text, review items) until an instructor confirms them."""
    runs: tuple[NotebookRun, ...] = ()
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    attention: tuple[str, ...] = ()
    """What an instructor must look at (a crash, a limit, a missing notebook or package, tampering,
    a grader error): one line each; empty when nothing needs a look."""
    grader_error: bool = False
    """The grader failed on this student: the result is never taken as current on the next run."""


@dataclass(frozen=True)
class NotebookRecord:
    """One notebook's line in the run log (reports/run.json, run.log and the class dashboard)."""

    student: str
    notebook: str
    """File name as handed in (student-controlled: escape it wherever it is shown)."""
    task: str
    status: RunStatus
    reason: str = ""
    seconds: float = 0.0
    framework: str = ""
    """"torch", "keras" or another type name for a Part 2 notebook; "" when unknown or Part 1."""
    limit: str = ""
    """Which limit stopped it ("memory limit", "time limit", ...), "" when none did."""
    limit_cell: int = 0
    """1-based cell the limit stopped (0: none, or outside the cells)."""
    failed_cells: tuple[int, ...] = ()
    """1-based cells that failed (errors, timeouts, limits, the cell the kernel died in)."""
    peak_memory: int = 0
    """Peak resident memory of the kernel's process tree in bytes (0 when not measured)."""
    sandbox: str = ""
    rerun: bool = False
    """The notebook was run again without its killing cell."""
    timings: dict[str, float] = field(default_factory=dict)
    """NotebookRun.timings: where the notebook's seconds went."""


@dataclass(frozen=True)
class RunInfo:
    """One `grader run`, filled by the pipeline for the run log and the dashboard."""

    version: str
    sandbox: str
    """"full: bubblewrap" or "reduced: <why>" for the run as a whole."""
    jobs: int
    graded: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    """Students whose reports were current; their notebook records come from the previous run.json."""
    errors: tuple[str, ...] = ()
    """Students the grader failed on."""
    seconds: float = 0.0
    notebooks: tuple[NotebookRecord, ...] = ()
    """The notebooks of the students this run graded (executed, or from the cache)."""
    executed: int = 0
    """Notebooks this run executed in a kernel (the others came from the cache)."""


# The project's own folder (rubrics/, reference/ next to grader/): defaults resolve against it, so
# `grader run SUBMISSIONS` works from any working directory.
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """Everything a run can be told, filled from the CLI's flags (one place, one set of defaults)."""

    submissions: Path
    rubric: Path = PROJECT / "rubrics" / "hw3.yaml"
    out: Path = Path("reports")
    """Relative to the working directory, like any path given on the command line."""
    students: tuple[str, ...] = ()
    """Only these students (all when empty)."""
    default_level: Level | None = None
    timeout: float = 900.0
    """Wall seconds per notebook (its cells and the extraction)."""
    cell_timeout: float = 300.0
    """Wall seconds per cell."""
    overrides: Path | None = None
    """Instructor's manual points; default: overrides.yaml in the submissions folder, if present."""
    data: Path = PROJECT / "reference" / "data"
    """Training data copied into each Part 2 notebook's data/ folder."""
    hidden: Path = PROJECT / "rubrics" / "hidden"
    """Hidden test set (features and labels) for Part 2; never copied near a kernel."""
    memory_gib: float = 4.0
    """Resident memory of one kernel's process tree."""
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Notebooks executed at once (one kernel each, each pinned to one thread)."""
    cluster: str = ""
    """A Dask scheduler's address (tcp://HOST:PORT): notebooks run on its workers instead."""
    cache: Path | None = None
    """Level-1 cache folder (what each notebook produced); default: .cache in the reports folder."""
    no_cache: bool = False
    """Run every notebook again (the cache is neither read nor written)."""
    require_sandbox: bool = False
    kernel_python: Path | None = None
    """The interpreter graded kernels run (default: the grader's own, with environment/requirements.txt)."""
    quiet: bool = False
    """No progress bar and no line per student (warnings still go to stderr)."""

    @property
    def cache_folder(self) -> Path:
        return Path(self.cache) if self.cache is not None else Path(self.out) / ".cache"

    def limits(self):
        """The sandbox.Limits every notebook of the run gets."""
        from .sandbox import Limits  # here, not on top: every module imports model, few need psutil

        return Limits(cell_seconds=self.cell_timeout, notebook_seconds=self.timeout,
                      memory_bytes=int(self.memory_gib * 2**30), require_sandbox=self.require_sandbox,
                      python=str(self.kernel_python or ""))
