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
    assert lines[0] == "student,level,Q1,Q2,Q3,Q4,Q5,H3P2T1,H3P2T2,bonus_frameworks,total,needs_review,attention"
    assert lines[1].startswith("ann,grad,0,0,1,") and lines[1].endswith(",yes,1")
    summary = (tmp_path / "summary.md").read_text()
    assert "## Needs attention" in summary and "- ann: no submission folder" in summary
    assert "- ann: q3_explanation" in summary.split("## Needs review")[1]


def test_grades_csv_columns_add_up_to_the_total(tmp_path, rubric):
    # Thirds of items: rounded once per item, the question columns still sum to the total exactly.
    thirds = {"H3P1": [Finding(item, "fail", 1 / 3, "a third") for q in ("Q1", "Q2", "Q3", "Q4", "Q5")
                       for item in rubric.questions[q].items]}
    sub = Submission("cy", "grad", tmp_path, notebooks={"H3P1": (tmp_path / "H3P1.ipynb",)})
    result = score_student(sub, rubric, thirds, {})
    report.write_student(result, tmp_path, "fp")
    report.write_class(tmp_path, report.read_results(tmp_path, ["cy"]), [])
    row = (tmp_path / "grades.csv").read_text().splitlines()[1].split(",")
    columns, total = [float(v) for v in row[2:10]], float(row[10])
    assert round(sum(columns), 2) == total == result.total
    assert f"**Total: {row[10]} /" in (tmp_path / "cy" / "report.md").read_text()


def test_attention_lists_what_an_instructor_must_look_at(rubric, tmp_path):
    run = NotebookRun(tmp_path / "H3P2T1_torch.ipynb", "H3P2T1", "kernel_died", reason="the kernel died in cell 3",
                      failures=(CellFailure(1, "error", "ModuleNotFoundError", "No module named 'xgboost'", "",
                                            cause="missing_package", hint="the grading environment has no xgboost"),),
                      tampering=("cell 2: registers an IPython hook (events.register)",
                                 "cell 4: note: runs code it builds at run time (exec of a computed string)"))
    sub = Submission("dee", "grad", tmp_path, notebooks={"H3P2T1": (run.path,)}, attention=("untitled.ipynb: is it H3P1?",))
    result = score_student(sub, rubric, {}, {}, runs=[run])
    assert result.attention == (
        "untitled.ipynb: is it H3P1?",
        "no H3P1 notebook was handed in",
        "no H3P2T2 notebook was handed in",
        "H3P2T1_torch.ipynb: kernel died: the kernel died in cell 3",
        "H3P2T1_torch.ipynb: cell 2: the grading environment has no xgboost",
        "H3P2T1_torch.ipynb: signs of tampering, points held until you look: "
        "cell 2: registers an IPython hook (events.register)",
        "H3P2T1_torch.ipynb: to look at: cell 4: note: runs code it builds at run time (exec of a computed string)",
    )


def test_a_counterexample_reaches_report_json(tmp_path, rubric):
    counter = {"point": {"x1": 0.5}, "expected": 1.25, "given": 2.5}
    found = {"H3P1": [Finding("dL_dw1", "fail", 0.0, "does not match", counter)]}
    result = score_student(Submission("ann", "grad", None), rubric, found, {})
    report.write_student(result, tmp_path, "fp")
    item = json.loads((tmp_path / "ann" / "report.json").read_text())["questions"][0]["items"][0]
    assert item["counterexample"] == counter
