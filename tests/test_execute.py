"""execute.py: limit outcomes, the re-run past a killing cell; a few real kernels (slow).

The run's steps on recorded kernel replies are in test_executor_replies.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader import execute, extract
from grader.model import Request
from grader.sandbox import Limits, bwrap_status
from grader.watchdog import Trip
from tests.helpers import REQUEST, grade, notebook_text, write_file

# The time limits are far off: each test is decided by the one thing it is about, however slowly a
# busy machine runs (the test of the cell limit sets its own).
FAST = Limits(cell_seconds=30, notebook_seconds=60, interrupt_grace_seconds=2, extraction_seconds=20)


@pytest.mark.parametrize("trip, status, reason, kind", [
    (Trip("memory", "memory limit (4 GiB) exceeded", 2), "limit_exceeded",
     "memory limit (4 GiB) exceeded in cell 3; the kernel was stopped", "limit"),
    (Trip("time", "time limit (3 s per cell) exceeded and the interrupt ignored", 0), "timed_out",
     "time limit (3 s per cell) exceeded and the interrupt ignored in cell 1; the kernel was stopped", "timeout"),
    (Trip("disk", "disk limit (2 GiB) exceeded", 5), "limit_exceeded",
     "disk limit (2 GiB) exceeded in the grader's answer-reading step; the kernel was stopped", None),
], ids=["memory", "time", "during-extraction"])
def test_a_limit_hit_is_named_with_the_cell_it_stopped(trip, status, reason, kind):
    got_status, got_reason, failure = execute.limit_outcome(trip, 5)
    assert (got_status, got_reason) == (status, reason)
    assert (failure.kind if failure else None) == kind


def test_required_sandbox_means_not_run(tmp_path):
    run = execute.run_notebook(write_file(tmp_path, notebook_text("answer = 1")), "H3P1", extract.kernel_code(REQUEST),
                               Limits(confine=False, require_sandbox=True))
    assert run.status == "not_run"
    assert "reduced (confinement switched off)" in run.reason


# --- real kernels ------------------------------------------------------------------------------

def _grade(path: Path, limits: Limits = FAST):
    return grade(path, limits)


@pytest.mark.slow
def test_raise_and_continue(tmp_path):
    run, answers = _grade(write_file(tmp_path, notebook_text("answer = 1", "raise ValueError('boom')", "answer = answer + 1")))
    assert run.status == "ok"
    assert [(f.index, f.kind, f.ename, f.evalue) for f in run.failures] == [(1, "error", "ValueError", "boom")]
    assert "ValueError: boom" in run.failures[0].traceback
    assert answers.values["answer"].value == 2
    assert run.sandbox.startswith("full: bubblewrap" if bwrap_status()[0] else "sandbox: reduced")


@pytest.mark.slow
def test_cell_timeout_then_later_cells_run(tmp_path):
    run, answers = _grade(write_file(tmp_path, notebook_text("import time; time.sleep(300)", "answer = 3")),
                          replace(FAST, cell_seconds=3))
    assert run.status == "ok"
    assert [(f.index, f.kind) for f in run.failures] == [(0, "timeout")]
    assert answers.values["answer"].value == 3


@pytest.mark.slow
def test_kernel_death_reruns_without_the_killing_cell(tmp_path):
    run, answers = _grade(write_file(tmp_path, notebook_text("answer = 1", "import os; os._exit(1)", "answer = answer + 1")))
    assert run.status == "kernel_died"
    assert [(f.number, f.kind) for f in run.failures] == [(2, "kernel_died")]
    assert answers.values["answer"].value == 2
    assert run.rerun == "the kernel died in cell 2; the notebook was run again without cell 2 and its answers were graded"


@pytest.mark.slow
def test_kernel_that_dies_again_fails_closed(tmp_path):
    run, answers = _grade(write_file(tmp_path, notebook_text("answer = 1", "import os; os._exit(1)", "import os; os._exit(2)")))
    assert run.status == "kernel_died"
    assert [(f.number, f.kind) for f in run.failures] == [(2, "kernel_died"), (3, "kernel_died")]
    assert run.payload is None
    assert answers.missing == {"answer": "not graded: the kernel died (its process exited or was killed) in cell 2"}
    assert run.rerun.endswith("did not give answers either (the kernel died (its process exited or was killed) "
                              "in cell 3)")


@pytest.mark.slow
def test_unconfined_kernel_runs_and_says_reduced(tmp_path):
    run, answers = _grade(write_file(tmp_path, notebook_text("answer = 5")), replace(FAST, confine=False))
    assert run.status == "ok"
    assert run.sandbox.startswith("sandbox: reduced (confinement switched off)")
    assert answers.values["answer"].value == 5


@pytest.mark.slow
def test_kernel_is_deterministic_and_single_threaded(tmp_path):
    cell = ("import os, random, numpy\nanswer = [hash('abc'), random.random(), float(numpy.random.rand()),"
            " os.environ['OMP_NUM_THREADS'], os.getcwd().endswith('/work')]")
    first = _grade(write_file(tmp_path, notebook_text(cell)))[1].values["answer"].value
    second = _grade(write_file(tmp_path, notebook_text(cell)))[1].values["answer"].value
    assert first == second
    assert first[3:] == ["1", True]


def test_missing_name_says_which_failing_cell_defines_it():
    from grader.model import CellFailure, NotebookRun
    run = NotebookRun(Path("H3P1.ipynb"), "H3P1", "ok", payload={"values": {}},
                      failures=(CellFailure(11, "error", "ValueError", "bad\nshape", "tb"),),
                      assigned_in={"net1": 11, "net2": 12})
    answers = extract.read_answers(run, Request(names=("net1", "net2")))
    assert answers.missing == {"net1": "`net1` is not defined: cell 12, which defines it, failed (ValueError: bad shape)",
                               "net2": "`net2` is not defined when the notebook has run"}


def test_rerun_budget_is_what_is_left_but_never_less_than_a_fair_share():
    assert execute.rerun_budget(Limits(notebook_seconds=900), 100) == 800
    assert execute.rerun_budget(Limits(notebook_seconds=900, cell_seconds=300), 890) == 300
    assert execute.rerun_budget(Limits(notebook_seconds=900, cell_seconds=30), 890) == 60
    assert execute.rerun_budget(Limits(notebook_seconds=10, cell_seconds=3), 9) == 5
    assert execute.rerun_budget(Limits(notebook_seconds=10, cell_seconds=60), 9) == 10


@pytest.mark.slow
def test_failures_are_numbered_as_in_jupyter_and_classified(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Part 1"),
        nbformat.v4.new_code_cell("def f():\n    raise ValueError('boom')"),
        nbformat.v4.new_markdown_cell("call it"),
        nbformat.v4.new_code_cell("f()"),
        nbformat.v4.new_code_cell("import surely_not_installed_pkg"),
    ])
    run, _ = _grade(write_file(tmp_path, nbformat.writes(nb)))
    assert [(f.number, f.ename, f.cause) for f in run.failures] == [
        (4, "ValueError", ""), (5, "ModuleNotFoundError", "missing_package")]
    assert "cell 4, line 1" in run.failures[0].traceback and "cell 2, line 2, in f()" in run.failures[0].traceback
    assert "Cell In[" not in run.failures[0].traceback


def test_rerun_keeps_the_first_runs_failures_and_notes(tmp_path, monkeypatch):
    # Recorded runs instead of kernels: the first dies in cell 2, the re-run (cell 2 emptied) answers.
    from grader.model import CellFailure, NotebookRun
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (
        "answer = 1", "import os; os._exit(1)", "answer = 2")])
    first = NotebookRun(Path("H3P1.ipynb"), "H3P1", "kernel_died", seconds=3.0,
                                reason="the kernel died (its process exited or was killed) in cell 2",
                                failures=(CellFailure(1, "kernel_died", "DeadKernel", "died", ""),),
                                notes=("output was cut to 1 MiB in cell(s) 1",))
    second = NotebookRun(Path("H3P1.ipynb"), "H3P1", "ok", seconds=2.0, payload={"values": {}},
                                 notes=("nbformat 3 was upgraded",))
    seen = []
    monkeypatch.setattr(execute, "_run_copy", lambda trimmed, *a: seen.append(trimmed) or second)
    run = execute._rerun_without(first, nb, None, Limits(), None, [])
    assert [c.source for c in seen[0].cells] == ["answer = 1", "", "answer = 2"]
    assert (run.status, run.failures, run.payload, run.seconds) == ("kernel_died", first.failures, {"values": {}}, 5.0)
    assert run.notes == ("output was cut to 1 MiB in cell(s) 1", "nbformat 3 was upgraded")
    assert run.rerun == ("the kernel died in cell 2; the notebook was run again without cell 2 "
                         "and its answers were graded")
