"""What bench/bench.py runs in other interpreters: the plain-nbclient floor, nbgrader's Execute
preprocessor, otter-grader's `otter run` and its Python API over staged notebook copies, and the
profiled runs (the floor, and `grader run --jobs 1`, with timestamps at the kernel's start, each
cell and shutdown).

    python bench/drivers.py floor|nbgrader|otter|otter_api MANIFEST.json
    python bench/drivers.py profile-floor MANIFEST.json EVENTS.json
    python bench/drivers.py profile-grader EVENTS.json -- GRADER_ARGS...

A manifest is a JSON list of {"name", "notebook", "kernel", "zip"}: each notebook is a fresh copy in
its own folder (with data/), run there in a fresh kernel of the named kernelspec, one after the other.
Prints one JSON line: per notebook its seconds and the number of error outputs (so a run whose
kernel lacked torch shows up as errors, not as a fast time). Only the standard library at the top:
each driver imports its tool when it runs.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

CELL_TIMEOUT = 300
"""Seconds per cell, as the grader's default: nbgrader's own default of 30 s would cut Keras training."""


def errors_in(nb) -> int:
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []) if out.get("output_type") == "error")


def run_floor(item: dict) -> int:
    """Plain nbclient: a fresh kernel, the notebook's cells, nothing else."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(item["notebook"], as_version=4)
    NotebookClient(nb, kernel_name=item["kernel"], timeout=CELL_TIMEOUT, allow_errors=True,
                   resources={"metadata": {"path": str(Path(item["notebook"]).parent)}}).execute()
    return errors_in(nb)


def run_nbgrader(item: dict) -> int:
    """nbgrader autograde's execution step: its Execute preprocessor (one kernel per notebook)."""
    import nbformat
    from nbgrader.preprocessors import Execute

    nb = nbformat.read(item["notebook"], as_version=4)
    nb, _ = Execute(timeout=CELL_TIMEOUT, kernel_name=item["kernel"]).preprocess(
        nb, {"metadata": {"path": str(Path(item["notebook"]).parent)}})
    return errors_in(nb)


def run_otter(item: dict) -> int:
    """`otter run -a ZIP NOTEBOOK`: otter-grader's non-containerized grading as its documentation
    has an instructor grade a submission outside Docker, one command (one process) per notebook."""
    import subprocess

    import dill

    folder = Path(item["notebook"]).parent
    otter = Path(sys.executable).with_name("otter")
    subprocess.run([str(otter), "run", "-a", item["zip"], "-o", str(folder), "--no-logo", "--pickle-results",
                    item["notebook"]], cwd=folder, check=True, capture_output=True)
    with open(folder / "results.pkl", "rb") as f:  # --pickle-results writes it to the working folder
        results = dill.load(f)
    return errors_in(results.notebook) if results.notebook is not None else -1


def run_otter_api(item: dict) -> int:
    """The same grading through otter's Python API, in this one process for every notebook."""
    import otter.api

    results = otter.api.grade_submission(item["notebook"], item["zip"], quiet=True)
    return errors_in(results.notebook) if results.notebook is not None else -1


RUNNERS = {"floor": run_floor, "nbgrader": run_nbgrader, "otter": run_otter, "otter_api": run_otter_api}


def drive(kind: str, manifest: Path, marks: list | None = None) -> dict:
    """Runs every notebook of the manifest with one tool -> {"notebooks": [{name, seconds, errors}]}."""
    done = []
    for item in json.loads(manifest.read_text()):
        started = time.perf_counter()
        if marks is not None:
            marks.append(("notebook:start", time.monotonic(), item["name"]))
        errors = RUNNERS[kind](item)
        if marks is not None:
            marks.append(("notebook:end", time.monotonic(), item["name"]))
        done.append({"name": item["name"], "seconds": round(time.perf_counter() - started, 3), "errors": errors})
    return {"notebooks": done}


# ----------------------------------------------------------------------------------- profiling

def _wrap(owner, attr: str, name: str, marks: list, label=None) -> None:
    """Records name:start / name:end around owner.attr (sync or async); absent attributes are skipped
    (the grader's internals may move: the profile then just has fewer rows)."""
    import inspect

    original = getattr(owner, attr, None)
    if original is None:
        return

    def note(edge, args):
        marks.append((f"{name}:{edge}", time.monotonic(), label(args) if label else ""))

    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(*args, **kwargs):
            note("start", args)
            try:
                return await original(*args, **kwargs)
            finally:
                note("end", args)
    else:
        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            note("start", args)
            try:
                return original(*args, **kwargs)
            finally:
                note("end", args)
    setattr(owner, attr, wrapper)


def install_kernel_probes(marks: list) -> None:
    """Timestamps at library seams every nbclient-based runner goes through."""
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    _wrap(AsyncKernelManager, "start_kernel", "spawn", marks)
    _wrap(AsyncKernelClient, "wait_for_ready", "ready", marks)
    _wrap(AsyncKernelClient, "execute_interactive", "setup", marks)
    # execute_cell is run_sync(the original coroutine), so wrapping both never counts a cell twice.
    _wrap(NotebookClient, "execute_cell", "cell", marks)
    _wrap(NotebookClient, "async_execute_cell", "cell", marks)
    _wrap(AsyncKernelManager, "shutdown_kernel", "shutdown", marks)


def install_grader_probes(marks: list) -> None:
    """Timestamps around the grader's own steps (jobs 1: everything runs in this process)."""
    import importlib

    def module(name):
        try:
            return importlib.import_module(name)
        except ImportError:
            return None

    work, pipeline, cache = module("grader.work"), module("grader.pipeline"), module("grader.cache")
    execute = module("grader.execute")
    if execute is not None:
        _wrap(execute, "kill_tree", "kill", marks)
    if work is not None:
        _wrap(work, "execute_work", "notebook", marks, lambda args: f"{args[0].student}/{args[0].path.name}")
    if pipeline is not None:
        _wrap(pipeline, "judge", "judge", marks)
        _wrap(pipeline, "write_result", "student_report", marks)
        _wrap(pipeline, "_write_class", "class_reports", marks)
        _wrap(pipeline, "_plan_students", "plan", marks)
    if cache is not None:
        _wrap(cache, "environment", "environment", marks)


def profile_floor(manifest: Path, events: Path) -> None:
    marks = [("main:start", time.monotonic(), "")]
    install_kernel_probes(marks)
    drive("floor", manifest, marks)
    marks.append(("main:end", time.monotonic(), ""))
    events.write_text(json.dumps(marks))


def profile_grader(events: Path, argv: list[str]) -> int:
    marks = [("main:start", time.monotonic(), "")]
    install_kernel_probes(marks)
    install_grader_probes(marks)
    from grader.cli import main

    try:
        return main(argv)
    finally:
        marks.append(("main:end", time.monotonic(), ""))
        events.write_text(json.dumps(marks))


def main(argv: list[str]) -> int:
    kind = argv[0]
    if kind in RUNNERS:
        print(json.dumps(drive(kind, Path(argv[1]))))
        return 0
    if kind == "profile-floor":
        profile_floor(Path(argv[1]), Path(argv[2]))
        return 0
    if kind == "profile-grader":
        return profile_grader(Path(argv[1]), argv[argv.index("--") + 1:])
    print(f"unknown driver {kind!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
