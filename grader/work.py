"""Notebooks as the unit of work: what a worker needs to execute and extract one notebook, and the
local runner that does many at once, longest first.

A NotebookWork is self-contained (the notebook's bytes, the training files' bytes, the kernel job
with the hidden FEATURES, the limits), so it runs the same in this process, in a process pool, or on
a Dask worker on another machine (grader/cluster.py). It never holds labels, the rubric or its
keyword lists: the answers are judged in the grader's own process.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

from . import execute
from .model import TASK_WEIGHTS, KernelJob, NotebookRun
from .sandbox import Limits

KERAS_WEIGHT = 1.5
"""A Keras notebook takes longer than a PyTorch one (TensorFlow's import and graph building)."""


@dataclass(frozen=True)
class NotebookWork:
    """One notebook to execute and extract, as data."""

    key: str
    """Content address of the result (grader/cache.py): same key, same NotebookRun."""
    student: str
    task: str
    path: Path
    """Where it was found (the run carries it back; workers never read it)."""
    notebook: bytes
    job: KernelJob
    limits: Limits
    data: tuple[tuple[str, bytes], ...] = ()
    """Training files copied into the notebook's data/ folder: (name, content)."""
    weight: float = 1.0
    """Expected relative cost: the longest notebooks are started first."""


def weight_of(task: str, notebook: bytes) -> float:
    keras = task != "H3P1" and (b"keras" in notebook or b"tensorflow" in notebook)
    return TASK_WEIGHTS.get(task, 1.0) * (KERAS_WEIGHT if keras else 1.0)


def execute_work(work: NotebookWork) -> NotebookRun:
    """Execute and extract one notebook from its bytes (in whatever process or machine runs this)."""
    with tempfile.TemporaryDirectory(prefix="grader-work-") as folder:
        inbox = Path(folder)
        notebook = inbox / work.path.name
        notebook.write_bytes(work.notebook)
        (inbox / "data").mkdir()
        data = {}
        for name, content in work.data:
            data[name] = inbox / "data" / name
            data[name].write_bytes(content)
        run = execute.run_notebook(notebook, work.task, work.job, work.limits, data)
    return replace(run, path=work.path)


Outcome = tuple[NotebookWork, NotebookRun | None, str]
"""A finished work: its run, or None and the grader's own error (a traceback) when executing failed."""


def longest_first(works: Iterable[NotebookWork]) -> list[NotebookWork]:
    """Heaviest first; ties in a stable order (student, path) so a run is reproducible."""
    return sorted(works, key=lambda w: (-w.weight, w.student, str(w.path)))


def _in_process(work: NotebookWork) -> Outcome:
    import traceback

    try:
        return work, execute_work(work), ""
    except Exception:  # the grader's bug on this notebook: that student's problem only
        return work, None, traceback.format_exc()


class LocalRunner:
    """Runs works on this machine: in this process (jobs=1) or in a pool of `jobs` processes."""

    def __init__(self, jobs: int):
        self.jobs = jobs

    def run(self, works: list[NotebookWork]) -> Iterator[Outcome]:
        ordered = longest_first(works)
        if self.jobs <= 1 or len(ordered) <= 1:
            yield from map(_in_process, ordered)
            return
        with ProcessPoolExecutor(max_workers=self.jobs) as pool:
            futures: dict[Future, NotebookWork] = {pool.submit(execute_work, w): w for w in ordered}
            for future in as_completed(futures):
                yield self._outcome(futures[future], future)

    @staticmethod
    def _outcome(work: NotebookWork, future: Future) -> Outcome:
        try:
            return work, future.result(), ""
        except Exception:  # a worker died (or the grader failed in it): once more, here
            return _in_process(work)

