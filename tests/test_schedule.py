"""Notebooks as the unit of work, with the cache: what runs again after what change.

A small class of quick Part 1 notebooks graded in real kernels: an unchanged class starts no kernel,
a rubric points change re-scores without running a notebook, a changed notebook re-runs only itself,
a killed run resumes with the notebooks that had not finished, and --jobs 1 and --jobs 2 agree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.model import Settings
from grader.pipeline import grade_class
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

ANSWERS = {
    "ann": 'dL_dw3 = "dL_dy_hat * df3(z3) * h1"\nnet1_output_units = 1\nnet2_output_units = 2',
    "bo": 'dL_dw3 = "dL_dy_hat * h1"\nnet1_output_units = 1\nnet2_output_units = 1',
    "cy": 'net1_output_units = 2\nnet2_output_units = 2\nq3_explanation = "sigmoid for one unit, softmax"',
}


def _class(folder: Path) -> Path:
    subs = folder / "subs"
    subs.mkdir()
    (subs / "roster.csv").write_text("student,level\n" + "".join(f"{s},grad\n" for s in ANSWERS))
    for student, code in ANSWERS.items():
        (subs / student).mkdir()
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), subs / student / "H3P1.ipynb")
    return subs


def _run(subs: Path, out: Path, rubric: Path = ROOT / "rubrics" / "hw3.yaml", **settings):
    return grade_class(Settings(submissions=subs, out=out, rubric=rubric, quiet=True, **settings))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schedule")
    subs = _class(folder)
    first = _run(subs, folder / "out", jobs=2)
    return folder, subs, first


def test_the_first_run_executes_every_notebook(graded):
    _, _, first = graded
    assert (first.executed, sorted(first.graded)) == (3, ["ann", "bo", "cy"])


def test_an_unchanged_class_starts_no_kernel(graded):
    folder, subs, _ = graded
    again = _run(subs, folder / "out", jobs=2)
    assert (again.executed, sorted(again.skipped)) == (0, ["ann", "bo", "cy"])


def test_a_points_change_rescores_without_running_a_notebook(graded, tmp_path):
    folder, subs, _ = graded
    data = yaml.safe_load((ROOT / "rubrics" / "hw3.yaml").read_text(encoding="utf-8"))
    items = data["questions"]["Q3"]["items"]
    items["net1_output_units"]["grad"] += 1
    items["net2_output_units"]["grad"] -= 1
    moved = tmp_path / "rubric.yaml"
    moved.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    shutil.copytree(folder / "out", out)
    rescored = _run(subs, out, moved, jobs=2, cache=folder / "out" / ".cache")
    assert (rescored.executed, sorted(rescored.graded)) == (0, ["ann", "bo", "cy"])
    assert (out / "grades.csv").read_text() != (folder / "out" / "grades.csv").read_text()


def test_a_changed_notebook_runs_again_alone(graded, tmp_path):
    folder, subs, _ = graded
    copy = tmp_path / "subs"
    shutil.copytree(subs, copy)
    nb = nbformat.read(copy / "bo" / "H3P1.ipynb", as_version=4)
    nb.cells[0].source += "\nnet2_output_units = 2"
    nbformat.write(nb, copy / "bo" / "H3P1.ipynb")
    out = tmp_path / "out"
    shutil.copytree(folder / "out", out)
    changed = _run(copy, out, jobs=2, cache=folder / "out" / ".cache")
    assert (changed.executed, changed.graded) == (1, ["bo"])


def test_a_killed_run_resumes_with_the_notebooks_that_had_not_finished(graded, tmp_path):
    folder, subs, _ = graded
    out = tmp_path / "out"
    shutil.copytree(folder / "out", out)
    # As if killed while cy's notebook ran: cy has no report and no cache entry; ann's notebook had
    # finished (its cache entry is there) but its report was not written yet.
    (out / "cy" / "report.json").unlink()
    (out / "ann" / "report.json").unlink()
    cy_key = next(k for k in _keys(out) if _is_cy(out, k))
    next((out / ".cache").rglob(f"{cy_key}.json")).unlink()
    resumed = _run(subs, out, jobs=2)
    assert (resumed.executed, sorted(resumed.graded)) == (1, ["ann", "cy"])


def _keys(out: Path) -> list[str]:
    return [p.stem for p in (out / ".cache").rglob("*.json")]


def _is_cy(out: Path, key: str) -> bool:
    import json

    entry = json.loads(next((out / ".cache").rglob(f"{key}.json")).read_text())
    return "q3_explanation" in json.dumps(entry["payload"])


def test_one_job_and_two_jobs_give_the_same_gradebook(graded, tmp_path):
    folder, subs, _ = graded
    serial = _run(subs, tmp_path / "serial", jobs=1, no_cache=True)
    assert serial.executed == 3
    assert (tmp_path / "serial" / "grades.csv").read_bytes() == (folder / "out" / "grades.csv").read_bytes()
