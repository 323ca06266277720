"""The bundled sample class through `grader run` in real kernels; expectations written by hand."""

import csv
import json
import shutil

import pytest

from grader.cli import main
from tests.conftest import ROOT
from tests.e2e.expected_part1 import EXPECTED as PART1
from tests.e2e.expected_part2 import CHAOTIC_TOL, EXPECTED as PART2, MEASURED_TOL, MESSAGES

pytestmark = pytest.mark.slow
TOL = 0.005 + 1e-9  # reports round each item's points to 0.01 (score.rounded)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    code = main(["run", str(ROOT / "submissions"), "--rubric", str(ROOT / "rubrics" / "hw3.yaml"),
                 "--out", str(out), "--data", str(ROOT / "reference" / "data"),
                 "--hidden", str(ROOT / "rubrics" / "hidden"), "--jobs", "2"])
    assert code == 0
    return out


def _report(reports, student):
    return json.loads((reports / student / "report.json").read_text())


def _items(data):
    return {(q["id"], i["id"]): i for q in data["questions"] for i in q["items"]}


@pytest.mark.parametrize("student", sorted(PART1))
def test_part1_points_per_question_and_item(reports, student):
    want, data = PART1[student], _report(reports, student)
    assert data["level"] == want["level"]
    points = {q["id"]: q["points"] for q in data["questions"]}
    for q in ("Q1", "Q2", "Q3", "Q4", "Q5"):
        n_items = sum(1 for (qid, _) in _items(data) if qid == q)
        assert points[q] == pytest.approx(want[q], abs=TOL * n_items), q  # a sum of rounded items
    items = {item: i for (q, item), i in _items(data).items() if q.startswith("Q")}
    for item, pts in want["items"].items():
        assert items[item]["points"] == pytest.approx(pts, abs=TOL), item
    for item, i in items.items():
        if i["points"] < i["max_points"] - TOL:
            assert i["message"], f"{item} lost points without a message"
    assert sorted(i for i, v in items.items() if v["status"] == "review") == sorted(want["review"])
    for item in want.get("missing", []):
        assert items[item]["status"] == "missing" and item in items[item]["message"]
    for name in want.get("ignored", []):
        assert name in data["ignored"]
    if want.get("cell_errors"):
        h3p1 = [n for n in data["notebooks"] if n["task"] == "H3P1"][0]
        assert [f["index"] for f in h3p1["failures"]] == want["cell_errors"]


def test_grades_csv_has_one_row_per_roster_student(reports):
    rows = list(csv.DictReader((reports / "grades.csv").open()))
    assert sorted(r["student"] for r in rows) == sorted(PART1)
    assert "## Needs review" in (reports / "summary.md").read_text()


def test_rerun_skips_current_students_and_gives_identical_grades(reports, tmp_path):
    before = (reports / "grades.csv").read_bytes()
    copy = tmp_path / "out"
    shutil.copytree(reports, copy)
    (copy / "alice" / "report.json").unlink()  # as if the run had been killed before alice finished
    code = main(["run", str(ROOT / "submissions"), "--rubric", str(ROOT / "rubrics" / "hw3.yaml"),
                 "--out", str(copy), "--data", str(ROOT / "reference" / "data"),
                 "--hidden", str(ROOT / "rubrics" / "hidden"), "--student", "alice", "--student", "bob"])
    assert code == 0
    assert (copy / "grades.csv").read_bytes() == before


@pytest.mark.parametrize("student", sorted(PART2))
def test_part2_points_per_task_and_item(reports, student):
    want, data = PART2[student], _report(reports, student)
    tol = CHAOTIC_TOL.get(student, MEASURED_TOL)
    points = {q["id"]: q["points"] for q in data["questions"]}
    for q in ("H3P2T1", "H3P2T2", "bonus_frameworks"):
        assert points[q] == pytest.approx(want[q], abs=tol), q
    items = _items(data)
    for key, kept in want["lost"].items():
        assert items[key]["points"] == pytest.approx(kept, abs=tol), key
        assert items[key]["message"], key
    for (name, q, item), words in MESSAGES.items():
        if name == student:
            assert words in items[(q, item)]["message"]


def test_better_of_two_notebooks_is_scored_and_both_are_shown(reports):
    ivan = _report(reports, "ivan")
    t2 = [n for n in ivan["notebooks"] if n["task"] == "H3P2T2"]
    assert sorted(n["path"] for n in t2) == ["H3P2T2_keras.ipynb", "H3P2T2_torch.ipynb"]
    assert any("scored H3P2T2_torch.ipynb" in note for note in ivan["notes"])
    bonus = _items(ivan)[("bonus_frameworks", "both_frameworks")]
    assert bonus["points"] == 0 and "keras" in bonus["message"].lower()
