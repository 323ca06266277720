"""The pipeline as an instructor meets it: grader errors, settings checked up front, run from anywhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from grader import pipeline
from grader.cli import GRADER_FAILED, main
from grader.model import Settings
from grader.sandbox import kernel_python_problem
from tests.helpers import empty_class


def test_defaults_are_the_projects_files_wherever_the_grader_runs():
    defaults = Settings(submissions=Path("."))
    for path in (defaults.rubric, defaults.data, defaults.hidden):
        assert path.is_absolute() and path.exists()


def test_run_from_another_folder_needs_no_path_flags(tmp_path, monkeypatch, capsys):
    subs = empty_class(tmp_path, "ann")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(subs)]) == 0
    data = json.loads((tmp_path / "reports" / "ann" / "report.json").read_text())
    assert data["attention"] == ["no H3P1 notebook was handed in", "no H3P2T1 notebook was handed in",
                                 "no H3P2T2 notebook was handed in"]


def test_a_grader_error_exits_3_is_on_the_attention_list_and_is_graded_again(tmp_path, monkeypatch, capsys):
    subs = empty_class(tmp_path, "ann", "bo")
    out = tmp_path / "out"
    real = pipeline.score_runs

    def broken_for_ann(sub, *args):
        if sub.student == "ann":
            raise RuntimeError("checker exploded")
        return real(sub, *args)

    monkeypatch.setattr(pipeline, "score_runs", broken_for_ann)
    assert main(["run", str(subs), "--out", str(out)]) == GRADER_FAILED
    err = capsys.readouterr().err
    assert "ann: grader error (RuntimeError: checker exploded)" in err and "Traceback" not in err
    assert "Traceback" in (out / "grader-errors.log").read_text()
    data = json.loads((out / "ann" / "report.json").read_text())
    assert data["attention"][0] == "grader error: RuntimeError: checker exploded (graded again on the next run)"
    assert "- ann: grader error" in (out / "summary.md").read_text()
    monkeypatch.setattr(pipeline, "score_runs", real)
    assert main(["run", str(subs), "--out", str(out)]) == 0
    assert "skipping 1 student(s)" in capsys.readouterr().err  # bo was current, ann graded again
    assert not (out / "grader-errors.log").exists()
    assert json.loads((out / "ann" / "report.json").read_text())["attention"][0] == "no H3P1 notebook was handed in"


def test_missing_training_data_stops_the_run_before_any_notebook(tmp_path, capsys):
    subs = empty_class(tmp_path, "ann")
    (subs / "ann" / "H3P2T1.ipynb").write_text("{}")
    code = main(["run", str(subs), "--out", str(tmp_path / "out"), "--data", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "H3P2T1_train.csv: training data not found" in err
    assert not (tmp_path / "out" / "ann").exists()


@pytest.mark.parametrize("python, problem", [
    ("/nonexistent/python3", "cannot be run (FileNotFoundError"),
    ("/bin/false", "cannot start a kernel (no output)"),
], ids=["missing", "not-python"])
def test_a_kernel_interpreter_that_cannot_run_kernels_is_named(python, problem):
    assert kernel_python_problem(Path(python)).startswith(problem)


def test_the_graders_own_interpreter_can_run_kernels():
    assert kernel_python_problem(Path(sys.executable)) == ""


def test_version():
    assert main(["--version"]) == 0


@pytest.mark.slow
def test_the_kernel_runs_the_interpreter_it_is_given(tmp_path):
    import nbformat

    from grader import execute, extract
    from grader.model import Request
    from grader.sandbox import Limits

    path = tmp_path / "H3P1.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys\nanswer = sys.executable")]), path)
    request = Request(names=("answer",))
    run = execute.run_notebook(path, "H3P1", extract.kernel_code(request), Limits(python=sys.executable))
    assert extract.read_answers(run, request).values["answer"].value == sys.executable
