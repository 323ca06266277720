"""The reference solutions score full marks at both levels, notebook by notebook, in real kernels."""

from pathlib import Path

import pytest

from grader.datasets import load_hidden
from grader.model import Settings, Submission
from grader.pipeline import run_task
from grader.rubric import load_rubric
from grader.score import score_student
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
REFERENCE = ROOT / "reference"
NOTEBOOKS = {"H3P1": ["H3P1.ipynb"], "H3P2T1": ["H3P2T1_torch.ipynb", "H3P2T1_keras.ipynb"],
             "H3P2T2": ["H3P2T2_torch.ipynb", "H3P2T2_keras.ipynb"]}


@pytest.fixture(scope="module")
def graded():
    rubric = load_rubric(ROOT / "rubrics" / "hw3.yaml")
    hidden = load_hidden(ROOT / "rubrics" / "hidden")
    settings = Settings(submissions=REFERENCE, data=REFERENCE / "data", hidden=ROOT / "rubrics" / "hidden")
    runs = {name: run_task(task, REFERENCE / name, rubric, hidden.get(task), settings)
            for task, names in NOTEBOOKS.items() for name in names}
    return rubric, runs


@pytest.mark.parametrize("name", [n for names in NOTEBOOKS.values() for n in names])
def test_each_reference_notebook_passes_every_item(graded, name):
    _, runs = graded
    run, findings = runs[name].run, runs[name].findings
    assert run.status == "ok" and not run.failures, run.reason
    wrong = [(f.item, f.status, f.message) for f in findings if f.fraction < 1 or f.status not in ("pass", "review")]
    assert wrong == []


@pytest.mark.parametrize("level, total", [("undergrad", 110), ("grad", 105)])
def test_reference_scores_full_marks_and_both_bonuses(graded, level, total):
    from grader.checks import check_frameworks_bonus

    rubric, runs = graded
    findings = {"H3P1": list(runs["H3P1.ipynb"].findings), "H3P2T1": list(runs["H3P2T1_torch.ipynb"].findings),
                "H3P2T2": list(runs["H3P2T2_keras.ipynb"].findings),
                "bonus_frameworks": [check_frameworks_bonus([runs["H3P2T2_torch.ipynb"],
                                                             runs["H3P2T2_keras.ipynb"]], rubric)]}
    result = score_student(Submission("reference", level, Path(".")), rubric, findings, {})
    assert result.total == pytest.approx(total)
