"""failures.py: how a failing cell reads in the report (trimmed tracebacks, causes and their hints)."""

from __future__ import annotations

import nbformat
import pytest

from grader import failures
from grader.failures import NO_GPU_HINT, NO_NETWORK_HINT


def test_trim_traceback_keeps_the_end_without_ansi():
    lines = ["\x1b[0;31mTraceback\x1b[0m"] + [f"frame {i}" for i in range(30)] + ["ValueError: bad"]
    text = failures.trim_traceback(lines, keep=3)
    assert text == "...\nframe 28\nframe 29\nValueError: bad"


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
     NO_NETWORK_HINT),
    ("gaierror", "[Errno -3] Temporary failure in name resolution", "", "no_network", NO_NETWORK_HINT),
    ("Exception", "URL fetch failure on https://storage.googleapis.com/mnist.npz", "", "no_network",
     NO_NETWORK_HINT),
    ("AssertionError", "Torch not compiled with CUDA enabled", "", "needs_gpu", NO_GPU_HINT),
    ("RuntimeError", "Found no NVIDIA driver on your system.", "", "needs_gpu", NO_GPU_HINT),
    ("ValueError", "shapes (3,) and (4,) not aligned", "", "", ""),
    ("ImportError", "cannot import name 'foo' from 'numpy'", "", "", ""),
], ids=["sklearn", "cv2-submodule", "unknown-package", "urlerror", "gaierror", "keras-download", "cuda",
        "nvidia", "plain-error", "import-name"])
def test_failure_cause(ename, evalue, tb, cause, hint):
    assert failures.failure_cause(ename, evalue, tb) == (cause, hint)


def test_the_students_own_source_in_a_traceback_is_no_sign_of_a_gpu():
    tb = ('Cell 3, line 2\n      1 device = "cuda" if torch.cuda.is_available() else "cpu"\n'
          '----> 2 x = 1 / 0\nZeroDivisionError: division by zero')
    assert failures.failure_cause("ZeroDivisionError", "division by zero", tb) == ("", "")
    gpu = "AssertionError: Torch not compiled with CUDA enabled"
    assert failures.failure_cause("AssertionError", "Torch not compiled with CUDA enabled", gpu)[0] == "needs_gpu"


def _cell_with_output(source: str, text: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def test_failed_pip_install_is_recorded_as_no_network():
    cell = _cell_with_output("!pip install lightgbm", (
        "WARNING: Retrying ... Failed to establish a new connection: [Errno -3] Temporary failure\n"
        "ERROR: Could not find a version that satisfies the requirement lightgbm\n"))
    failure = failures.pip_failure(4, cell)
    assert (failure.index, failure.number, failure.kind, failure.ename, failure.cause) == (
        4, 5, "error", "pip install", "no_network")
    assert failure.evalue == ("WARNING: Retrying ... Failed to establish a new connection: "
                              "[Errno -3] Temporary failure")


def test_successful_pip_install_is_no_failure():
    cell = _cell_with_output("%pip install numpy", "Requirement already satisfied: numpy\n")
    assert failures.pip_failure(0, cell) is None


def test_pip_refused_by_the_environment_is_recorded_without_colour_codes():
    # What `!pip install lightgbm` printed in the sandbox: the system pip, no network sign.
    cell = _cell_with_output("!pip install lightgbm", (
        "\x1b[1;31merror\x1b[0m: \x1b[1mexternally-managed-environment\x1b[0m\r\n\r\n"
        "\x1b[31m×\x1b[0m This environment is externally managed\r\n"))
    failure = failures.pip_failure(2, cell)
    assert (failure.ename, failure.evalue, failure.cause, failure.hint) == (
        "pip install", "error: externally-managed-environment", "no_network", NO_NETWORK_HINT)
    assert "\x1b" not in failure.traceback


@pytest.mark.parametrize("source, text, command", [
    ("!wget -q https://x.org/data.csv", "wget: unable to resolve host address 'x.org'\n", "!wget"),
    ("!curl -O https://x.org/d.zip", "curl: (6) Could not resolve host: x.org\n", "!curl"),
    ("!git  clone https://github.com/a/b", "/usr/bin/sh: 1: git: not found\n", "!git clone"),
], ids=["wget", "curl", "git-missing"])
def test_failed_shell_download_is_a_note_naming_the_cell(source, text, command):
    # A note, not a failure: the cell raised nothing, so Part 2's "runs" item must not count it.
    cell = _cell_with_output(source, text)
    assert failures.pip_failure(3, cell) is None
    assert failures.download_note(3, cell) == (f"cell 4: {command} did not download ({text.strip()}); "
                                               + NO_NETWORK_HINT)


def test_a_download_that_worked_is_no_failure():
    cell = _cell_with_output("!wget https://x.org/data.csv", "'data.csv' saved [1024/1024]\n")
    assert failures.download_note(0, cell) is None
