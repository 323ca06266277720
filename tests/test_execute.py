"""execute.py: reading notebooks, tracebacks, payloads, limit outcomes; a few real kernels (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader import execute, extract
from grader.model import Request
from grader.sandbox import Limits, Trip, describe, folder_usage

REQUEST = Request(names=("answer",))
FAST = Limits(cell_seconds=3, notebook_seconds=10, interrupt_grace_seconds=2, extraction_seconds=20)


def _write(tmp_path: Path, text: str | bytes, name: str = "H3P1.ipynb") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _nb(*cells: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]))


@pytest.mark.parametrize("text, reason", [
    ('{"cells": [', "not a valid notebook (not JSON: Expecting value at line 1 column 12); open it in Jupyter"),
    (b"\xff\xfe{}", "not a valid notebook (not UTF-8 text)"),
    ("[1, 2]", "not a Jupyter notebook (JSON without an 'nbformat' version)"),
    ('{"nbformat": 2, "cells": []}', "nbformat 2 is not supported (only 3 and 4)"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 5}', "not a valid notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [5]}', "not a valid notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}', "the notebook has no cells; hand in"),
], ids=["not-json", "not-utf8", "json-list", "nbformat-2", "cells-not-list", "cell-not-dict", "no-cells"])
def test_read_notebook_gives_a_one_line_reason(tmp_path, text, reason):
    nb, problem = execute.read_notebook(_write(tmp_path, text))
    assert nb is None
    assert problem.startswith(reason)
    assert "\n" not in problem


def test_read_notebook_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "MAX_NOTEBOOK_BYTES", 100)
    nb, problem = execute.read_notebook(_write(tmp_path, _nb("x = '" + "a" * 200 + "'")))
    assert nb is None
    assert problem.startswith("the notebook's cells are ")
    assert problem.endswith(" without their outputs (limit 100 bytes); remove the data pasted into cells and "
                            "hand it in again")


def test_saved_outputs_do_not_count_against_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "MAX_NOTEBOOK_BYTES", 2000)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "A" * 100_000})]
    read, problem = execute.read_notebook(_write(tmp_path, nbformat.writes(nb)))
    assert problem == "" and read.cells[0].outputs == []


def test_raw_file_has_a_hard_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "MAX_RAW_BYTES", 100)
    nb, problem = execute.read_notebook(_write(tmp_path, _nb("x = '" + "a" * 200 + "'")))
    assert nb is None and "(limit 100 bytes even with outputs); clear the outputs" in problem


def test_a_symbolic_link_is_not_read(tmp_path):
    target = _write(tmp_path, _nb("x = 1"), "other.ipynb")
    (tmp_path / "H3P1.ipynb").symlink_to(target)
    nb, problem = execute.read_notebook(tmp_path / "H3P1.ipynb")
    assert nb is None
    assert problem == "the file is a symbolic link: links are not followed; hand in the file itself"


def test_assigned_in_points_to_the_last_defining_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Q3"),
        nbformat.v4.new_code_cell("import numpy as np\n%matplotlib inline\nnet1 = None"),
        nbformat.v4.new_code_cell("def f_nonneg(z):\n    return z\nif True:\n    net1, (a, b) = 1, (2, 3)"),
        nbformat.v4.new_code_cell("this is not python"),
    ])
    assert execute.assigned_in(nb) == {"np": 1, "net1": 2, "f_nonneg": 2, "a": 2, "b": 2}


def test_read_notebook_missing_file(tmp_path):
    nb, problem = execute.read_notebook(tmp_path / "nope.ipynb")
    assert nb is None and problem.startswith("the file cannot be read")


def test_read_notebook_upgrades_v3_with_a_note(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "answer = 7", "language": "python", "outputs": [], "metadata": {}}]}]}
    nb, problem, notes = execute.read_notebook_notes(_write(tmp_path, json.dumps(v3)))
    assert problem == ""
    assert [c.source for c in nb.cells] == ["answer = 7"]
    assert notes == ["the notebook was in nbformat 3; it was upgraded to 4 to run it"]


def test_read_notebook_drops_unknown_cell_types_with_a_note(tmp_path):
    raw = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "widget", "source": "?", "metadata": {}},
        {"cell_type": "code", "source": ["a = 1\n", "b = 2"], "metadata": {}, "outputs": [{"junk": 1}],
         "execution_count": None}]}
    nb, problem, notes = execute.read_notebook_notes(_write(tmp_path, json.dumps(raw)))
    assert problem == ""
    assert [(c.cell_type, c.source) for c in nb.cells] == [("raw", ""), ("code", "a = 1\nb = 2")]
    assert nb.cells[1].outputs == []
    assert notes == ["cells of unknown type were ignored: 1 ('widget')"]


def test_trim_traceback_keeps_the_end_without_ansi():
    lines = ["\x1b[0;31mTraceback\x1b[0m"] + [f"frame {i}" for i in range(30)] + ["ValueError: bad"]
    text = execute.trim_traceback(lines, keep=3)
    assert text == "...\nframe 28\nframe 29\nValueError: bad"


def _signed(payload_text: str, key: bytes) -> dict:
    import hashlib
    import hmac
    return {"data": {"payload": payload_text, "mac": hmac.new(key, payload_text.encode(), hashlib.sha256).hexdigest()}}


def test_answer_message_must_carry_the_runs_signature():
    key, other = b"k" * 32, b"o" * 32
    assert execute._verified(_signed('{"values": {}}', key), key) == ({"values": {}}, "")
    assert execute._verified(_signed('{"values": {}}', other), key) == (
        None, "an answer message whose signature does not verify (forged or altered)")
    assert execute._verified({"data": {"payload": "{}"}}, key) == (None, "an answer message without the grader's signature")
    assert execute._verified(_signed("[1]", key), key) == (None, "a signed answer that is not a JSON object")


def test_guard_report_becomes_tampering_lines():
    payload = {"values": {}, "integrity": ["json.dumps was replaced or deleted", 3]}
    assert execute._integrity_problems(payload) == ("changed in the kernel: json.dumps was replaced or deleted",)
    assert payload == {"values": {}}


@pytest.mark.parametrize("trip, status, reason, kind", [
    (Trip("memory", "memory limit (4 GiB) exceeded", 2), "limit_exceeded",
     "memory limit (4 GiB) exceeded in cell 3; the kernel was stopped", "limit"),
    (Trip("time", "time limit (3 s per cell) exceeded and the interrupt ignored", 0), "timed_out",
     "time limit (3 s per cell) exceeded and the interrupt ignored in cell 1; the kernel was stopped", "timeout"),
    (Trip("disk", "disk limit (2 GiB) exceeded", 5), "limit_exceeded",
     "disk limit (2 GiB) exceeded in the grader's answer-reading step; the kernel was stopped", None),
], ids=["memory", "time", "during-extraction"])
def test_limit_outcome(trip, status, reason, kind):
    got_status, got_reason, failure = execute._limit_outcome(trip, 5, Limits())
    assert (got_status, got_reason) == (status, reason)
    assert (failure.kind if failure else None) == kind


def test_describe_and_folder_usage(tmp_path):
    assert (describe(4 * 2**30), describe(64 * 2**20), describe(100)) == ("4 GiB", "64 MiB", "100 bytes")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * 10000)
    used, count = folder_usage(tmp_path, 100)
    assert count == 2 and used >= 10000


def test_required_sandbox_means_not_run(tmp_path):
    run = execute.run_notebook(_write(tmp_path, _nb("answer = 1")), "H3P1", extract.kernel_code(REQUEST),
                               Limits(confine=False, require_sandbox=True))
    assert run.status == "not_run"
    assert "reduced (confinement switched off)" in run.reason


# --- real kernels ------------------------------------------------------------------------------

def _grade(path: Path, limits: Limits = FAST):
    run = execute.run_notebook(path, "H3P1", extract.kernel_code(REQUEST), limits)
    return run, extract.read_answers(run, REQUEST)


@pytest.mark.slow
def test_raise_and_continue(tmp_path):
    run, answers = _grade(_write(tmp_path, _nb("answer = 1", "raise ValueError('boom')", "answer = answer + 1")))
    assert run.status == "ok"
    assert [(f.index, f.kind, f.ename, f.evalue) for f in run.failures] == [(1, "error", "ValueError", "boom")]
    assert "ValueError: boom" in run.failures[0].traceback
    assert answers.values["answer"].value == 2
    assert run.sandbox.startswith(("full: bubblewrap", "sandbox: reduced"))


@pytest.mark.slow
def test_cell_timeout_then_later_cells_run(tmp_path):
    run, answers = _grade(_write(tmp_path, _nb("import time; time.sleep(30)", "answer = 3")))
    assert run.status == "ok"
    assert [(f.index, f.kind) for f in run.failures] == [(0, "timeout")]
    assert answers.values["answer"].value == 3


@pytest.mark.slow
def test_kernel_death_reruns_without_the_killing_cell(tmp_path):
    run, answers = _grade(_write(tmp_path, _nb("answer = 1", "import os; os._exit(1)", "answer = answer + 1")))
    assert run.status == "kernel_died"
    assert [(f.number, f.kind) for f in run.failures] == [(2, "kernel_died")]
    assert answers.values["answer"].value == 2
    assert run.rerun == "the kernel died in cell 2; the notebook was run again without cell 2 and its answers were graded"


@pytest.mark.slow
def test_kernel_that_dies_again_fails_closed(tmp_path):
    run, answers = _grade(_write(tmp_path, _nb("answer = 1", "import os; os._exit(1)", "import os; os._exit(2)")))
    assert run.status == "kernel_died"
    assert [(f.number, f.kind) for f in run.failures] == [(2, "kernel_died"), (3, "kernel_died")]
    assert run.payload is None
    assert answers.missing == {"answer": "not graded: the kernel died (its process exited or was killed) in cell 2"}
    assert run.rerun.endswith("did not give answers either (the kernel died (its process exited or was killed) "
                              "in cell 3)")


@pytest.mark.slow
def test_unconfined_kernel_runs_and_says_reduced(tmp_path):
    from dataclasses import replace
    run, answers = _grade(_write(tmp_path, _nb("answer = 5")), replace(FAST, confine=False))
    assert run.status == "ok"
    assert run.sandbox.startswith("sandbox: reduced (confinement switched off)")
    assert answers.values["answer"].value == 5


@pytest.mark.slow
def test_kernel_is_deterministic_and_single_threaded(tmp_path):
    cell = ("import os, random, numpy\nanswer = [hash('abc'), random.random(), float(numpy.random.rand()),"
            " os.environ['OMP_NUM_THREADS'], os.getcwd().endswith('/work')]")
    first = _grade(_write(tmp_path, _nb(cell)))[1].values["answer"].value
    second = _grade(_write(tmp_path, _nb(cell)))[1].values["answer"].value
    assert first == second
    assert first[3:] == ["1", True]


@pytest.mark.parametrize("ename, evalue, tb, cause, hint", [
    ("ModuleNotFoundError", "No module named 'sklearn'", "", "missing_package",
     "the grading environment has no package 'scikit-learn' (import sklearn); "
     "the instructor can add it to environment/requirements.txt"),
    ("ModuleNotFoundError", "No module named 'cv2.foo'", "", "missing_package",
     "the grading environment has no package 'opencv-python' (import cv2); "
     "the instructor can add it to environment/requirements.txt"),
    ("ImportError", "No module named 'lightgbm'", "", "missing_package",
     "the grading environment has no package 'lightgbm' (import lightgbm); "
     "the instructor can add it to environment/requirements.txt"),
    ("URLError", "<urlopen error [Errno -3] Temporary failure in name resolution>", "", "no_network",
     execute.NO_NETWORK_HINT),
    ("gaierror", "[Errno -3] Temporary failure in name resolution", "", "no_network", execute.NO_NETWORK_HINT),
    ("Exception", "URL fetch failure on https://storage.googleapis.com/mnist.npz", "", "no_network",
     execute.NO_NETWORK_HINT),
    ("AssertionError", "Torch not compiled with CUDA enabled", "", "needs_gpu", execute.NO_GPU_HINT),
    ("RuntimeError", "Found no NVIDIA driver on your system.", "", "needs_gpu", execute.NO_GPU_HINT),
    ("ValueError", "shapes (3,) and (4,) not aligned", "", "", ""),
    ("ImportError", "cannot import name 'foo' from 'numpy'", "", "", ""),
], ids=["sklearn", "cv2-submodule", "unknown-package", "urlerror", "gaierror", "keras-download", "cuda",
        "nvidia", "plain-error", "import-name"])
def test_failure_cause(ename, evalue, tb, cause, hint):
    assert execute.failure_cause(ename, evalue, tb) == (cause, hint)


def test_failed_pip_install_is_recorded_as_no_network():
    cell = nbformat.v4.new_code_cell("!pip install lightgbm")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "WARNING: Retrying ... Failed to establish a new connection: [Errno -3] Temporary failure\n"
        "ERROR: Could not find a version that satisfies the requirement lightgbm\n"))]
    failure = execute.pip_failure(4, cell)
    assert (failure.index, failure.number, failure.kind, failure.ename, failure.cause) == (
        4, 5, "error", "pip install", "no_network")
    assert failure.evalue == ("WARNING: Retrying ... Failed to establish a new connection: "
                              "[Errno -3] Temporary failure")


def test_successful_pip_install_is_no_failure():
    cell = nbformat.v4.new_code_cell("%pip install numpy")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Requirement already satisfied: numpy\n")]
    assert execute.pip_failure(0, cell) is None


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


def test_tracebacks_name_cells_by_their_place_in_the_notebook():
    text = "Cell In[3], line 2\n----> 2 f()\nCell In[1], line 4, in f()\nCell In[9], line 1"
    assert execute.number_cells(text, {1: 2, 3: 6}) == (
        "cell 7, line 2\n----> 2 f()\ncell 3, line 4, in f()\nCell In[9], line 1")


@pytest.mark.slow
def test_failures_are_numbered_as_in_jupyter_and_classified(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Part 1"),
        nbformat.v4.new_code_cell("def f():\n    raise ValueError('boom')"),
        nbformat.v4.new_markdown_cell("call it"),
        nbformat.v4.new_code_cell("f()"),
        nbformat.v4.new_code_cell("import surely_not_installed_pkg"),
    ])
    run, _ = _grade(_write(tmp_path, nbformat.writes(nb)))
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
    run = execute._rerun_without(first, nb, None, Limits(), None, None, [])
    assert [c.source for c in seen[0].cells] == ["answer = 1", "", "answer = 2"]
    assert (run.status, run.failures, run.payload, run.seconds) == ("kernel_died", first.failures, {"values": {}}, 5.0)
    assert run.notes == ("output was cut to 1 MiB in cell(s) 1", "nbformat 3 was upgraded")
    assert run.rerun == ("the kernel died in cell 2; the notebook was run again without cell 2 "
                         "and its answers were graded")


def test_pip_refused_by_the_environment_is_recorded_without_colour_codes():
    # What `!pip install lightgbm` printed in the sandbox: the system pip, no network sign.
    cell = nbformat.v4.new_code_cell("!pip install lightgbm")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "\x1b[1;31merror\x1b[0m: \x1b[1mexternally-managed-environment\x1b[0m\r\n\r\n"
        "\x1b[31m×\x1b[0m This environment is externally managed\r\n"))]
    failure = execute.pip_failure(2, cell)
    assert (failure.ename, failure.evalue, failure.cause, failure.hint) == (
        "pip install", "error: externally-managed-environment", "no_network", execute.NO_NETWORK_HINT)
    assert "\x1b" not in failure.traceback


@pytest.mark.parametrize("source, text, command", [
    ("!wget -q https://x.org/data.csv", "wget: unable to resolve host address 'x.org'\n", "!wget"),
    ("!curl -O https://x.org/d.zip", "curl: (6) Could not resolve host: x.org\n", "!curl"),
    ("!git  clone https://github.com/a/b", "/usr/bin/sh: 1: git: not found\n", "!git clone"),
], ids=["wget", "curl", "git-missing"])
def test_failed_shell_download_is_a_note_naming_the_cell(source, text, command):
    # A note, not a failure: the cell raised nothing, so Part 2's "runs" item must not count it.
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    assert execute.pip_failure(3, cell) is None
    assert execute.download_note(3, cell) == (f"cell 4: {command} did not download ({text.strip()}); "
                                              + execute.NO_NETWORK_HINT)


def test_a_download_that_worked_is_no_failure():
    cell = nbformat.v4.new_code_cell("!wget https://x.org/data.csv")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="'data.csv' saved [1024/1024]\n")]
    assert execute.download_note(0, cell) is None


def test_the_students_own_source_in_a_traceback_is_no_sign_of_a_gpu():
    tb = ('Cell 3, line 2\n      1 device = "cuda" if torch.cuda.is_available() else "cpu"\n'
          '----> 2 x = 1 / 0\nZeroDivisionError: division by zero')
    assert execute.failure_cause("ZeroDivisionError", "division by zero", tb) == ("", "")
    gpu = "AssertionError: Torch not compiled with CUDA enabled"
    assert execute.failure_cause("AssertionError", "Torch not compiled with CUDA enabled", gpu)[0] == "needs_gpu"
