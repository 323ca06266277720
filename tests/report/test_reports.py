"""Reports: the JSON shape of the issue, byte-stable grades.csv, explained lost points."""

import json

from grader import report
from grader.model import Finding, NotebookRun, CellFailure, Submission
from grader.score import score_student


def _result(rubric, student="ann", level="grad"):
    found = {"H3P1": [Finding("dL_dw1", "fail", 0.0, "missing the factor df1(z1)"),
                      Finding("q3_explanation", "review", 0.5, "2 of 4 ideas")]}
    run = NotebookRun(__import__("pathlib").Path("H3P1.ipynb"), "H3P1", "ok",
                      (CellFailure(3, "error", "NameError", "name 'q' is not defined", "NameError: ..."),), 1.5)
    return score_student(Submission(student, level, None, ignored=("notes.txt",)), rubric, found, {}, runs=[run])


def test_report_json_has_the_issue_schema(tmp_path, rubric):
    report.write_student(_result(rubric), tmp_path, "fp")
    data = json.loads((tmp_path / "ann" / "report.json").read_text())
    assert {"student", "level", "total", "max_total", "questions"} <= set(data)
    assert [q["id"] for q in data["questions"]] == ["Q1", "Q2", "Q3", "Q4", "Q5", "H3P2T1", "H3P2T2",
                                                    "bonus_frameworks"]
    item = data["questions"][0]["items"][0]
    assert item == {"id": "dL_dw1", "points": 0.0, "max_points": 1.25, "status": "fail",
                    "message": "missing the factor df1(z1)"}


def test_markdown_explains_lost_points_failures_and_ignored(tmp_path, rubric):
    report.write_student(_result(rubric), tmp_path, "fp")
    text = (tmp_path / "ann" / "report.md").read_text()
    assert "missing the factor df1(z1)" in text and "cell 4 failed" in text and "notes.txt" in text
    assert "an instructor will review" in text


def test_grades_csv_is_stable_and_rebuilt_from_reports(tmp_path, rubric):
    for name, level in (("bo", "undergrad"), ("ann", "grad")):
        report.write_student(_result(rubric, name, level), tmp_path, "fp")
    results = report.read_results(tmp_path, ["ann", "bo", "cy"])
    report.write_class(tmp_path, results, [])
    first = (tmp_path / "grades.csv").read_bytes()
    report.write_class(tmp_path, report.read_results(tmp_path, ["bo", "ann"]), [])
    assert (tmp_path / "grades.csv").read_bytes() == first
    lines = first.decode().splitlines()
    assert lines[0] == "student,level,Q1,Q2,Q3,Q4,Q5,H3P2T1,H3P2T2,bonus_frameworks,total,needs_review"
    assert lines[1].startswith("ann,grad,0,0,1,") and lines[1].endswith(",yes")
    assert "ann" in (tmp_path / "summary.md").read_text()
