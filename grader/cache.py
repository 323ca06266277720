"""A two-level, content-addressed cache: regrading an unchanged class starts no kernel, and a rubric
change re-scores without running a notebook.

Level 1 (this module's store): what a notebook produced, its NotebookRun with the answers payload,
under a key made of everything that decides it: the notebook's name and bytes, the training files,
the kernel job (the kernel-side code and the request, hidden features included), the grader's
execution code, the course environment (the kernel interpreter's packages), the limits and the
sandbox. Level 2: a student's scores, under the level-1 keys of their notebooks plus the rubric,
the overrides, the hidden labels and all of the grader's code: that is report.json's fingerprint,
so a current report is level 2's entry and needs no store of its own.

Only runs whose outcome is the student's alone are kept: a notebook that hit a time or resource
limit, lost its kernel or gave no answers may have met a busy machine, and runs again. Entries are
written atomically (temp file + rename), so several machines may share one cache folder.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, fields
from pathlib import Path

from .model import CellFailure, KernelJob, NotebookRun
from .sandbox import Limits, bwrap_status

VERSION = 1
GRADER = Path(__file__).resolve().parent
SCORING_ONLY = ("checks", "report", "score.py", "overrides.py", "rubric.py", "extract.py", "pipeline.py",
                "prepare.py", "cache.py", "cli.py", "review.py", "handout.py", "verify.py", "export",
                "gradescope.py", "progress.py", "cluster.py", "discover.py", "datasets.py")
"""Grader code that never touches a notebook's execution: changing it re-scores, never re-runs (the
request a notebook is sent is part of the key itself). Everything else is execution code."""
UNSTABLE = ("timeout", "limit", "kernel_died")


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _code(paths) -> bytes:
    return b"".join(p.relative_to(GRADER).as_posix().encode() + b"\0" + p.read_bytes() for p in sorted(paths))


@functools.lru_cache(maxsize=1)
def execution_code() -> str:
    """The grader's code that decides how a notebook runs (executor, sandbox, kernel side)."""
    files = [p for p in GRADER.rglob("*.py") if p.relative_to(GRADER).parts[0] not in SCORING_ONLY]
    return _digest(_code(files))


@functools.lru_cache(maxsize=1)
def all_code() -> str:
    return _digest(_code(GRADER.rglob("*.py")))


def _packages() -> str:
    """The interpreter's version and the packages installed in it: its site-packages only, never the
    working folder or PYTHONPATH, which differ between the grader and a Dask worker."""
    import importlib.metadata
    import sysconfig

    places = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    found = importlib.metadata.distributions(path=places)
    return json.dumps([sys.version] + sorted(f"{d.metadata['Name']}=={d.version}" for d in found))


_PACKAGES = "import json, sys\n" + inspect.getsource(_packages) + "print(_packages())"
"""_packages(), for another interpreter (run isolated: -I)."""


@functools.lru_cache(maxsize=4)
def environment(python: str = "") -> str:
    """The course environment graded kernels get: the interpreter's version and installed packages
    (read here for the grader's own interpreter, by running the other one otherwise)."""
    exe = python or sys.executable
    if os.path.realpath(exe) == os.path.realpath(sys.executable):
        out = _packages()
    else:
        try:
            out = subprocess.run([exe, "-I", "-c", _PACKAGES], capture_output=True, text=True, timeout=60,
                                 check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            out = f"unknown: {exe}: {type(exc).__name__}"  # the run itself reports the interpreter's problem
    return _digest(os.path.realpath(exe).encode(), out.encode())


def run_key(name: str, task: str, notebook: bytes, data: tuple[tuple[str, bytes], ...], job: KernelJob,
            limits: Limits) -> str:
    """Level 1's key: changes whenever anything that decides the notebook's run changes."""
    described = json.dumps({
        "version": VERSION, "name": name, "task": task,
        "data": [(n, hashlib.sha256(content).hexdigest()) for n, content in data],
        "modules": hashlib.sha256(json.dumps(job.modules).encode()).hexdigest(),
        "request": hashlib.sha256(json.dumps(job.request, sort_keys=True).encode()).hexdigest(),
        "code": execution_code(), "environment": environment(limits.python),
        "limits": asdict(limits), "sandbox": list(bwrap_status()),
    }, sort_keys=True, default=str)
    return _digest(described.encode(), notebook)


def file_digest(path: Path) -> str:
    """A file's content digest, without following a link (a linked notebook is never read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        return f"unreadable: {type(exc).__name__}"
    with os.fdopen(fd, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def run_context(settings) -> str:
    """What decides every grade of a run besides the student's own files: the grader's code, the
    course environment, the limits, the sandbox, the rubric, the training data and the hidden set."""
    limits = settings.limits()
    files = [Path(settings.rubric)] + sorted(Path(settings.data).glob("*.csv")) + sorted(Path(settings.hidden).glob("*.csv"))
    # Which bwrap, not whether it works (a probe costs a kernel-sized start): the level-1 keys of the
    # notebooks that do run carry the probed sandbox itself.
    described = json.dumps({"code": all_code(), "environment": environment(limits.python), "limits": asdict(limits),
                            "bwrap": shutil.which("bwrap") or "", "files": [(p.name, file_digest(p)) for p in files]},
                           sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


def cacheable(run: NotebookRun) -> bool:
    """Whether the run's outcome is the student's alone (see the module's docstring)."""
    return (run.status == "ok" and run.payload is not None and not run.rerun
            and not any(f.kind in UNSTABLE for f in run.failures))


def _to_json(run: NotebookRun) -> dict:
    data = asdict(run)
    data["path"] = run.path.name
    return data


def _from_json(data: dict, path: Path) -> NotebookRun | None:
    known = {f.name for f in fields(NotebookRun)}
    if not isinstance(data, dict) or set(data) != known:
        return None  # written by another version of NotebookRun
    values = {**data, "path": path}
    values["failures"] = tuple(CellFailure(**f) for f in data["failures"])
    for name in ("notes", "tampering"):
        values[name] = tuple(data[name])
    return NotebookRun(**values)


class RunCache:
    """Level 1: NotebookRuns by key, in a folder (None: no cache)."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None
        self.hits = 0

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str, path: Path) -> NotebookRun | None:
        if self.folder is None:
            return None
        try:
            run = _from_json(json.loads(self._file(key).read_text(encoding="utf-8")), path)
        except (OSError, ValueError, TypeError):
            return None
        self.hits += run is not None
        return run

    def put(self, key: str, run: NotebookRun) -> None:
        if self.folder is None or not cacheable(run):
            return
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{key[:8]}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(_to_json(run), handle)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
