"""grader export canvas: a synthetic Canvas gradebook export and synthetic report.json files."""

import csv
import io
from pathlib import Path

import pytest

from grader.cli import main
from grader.model import StudentResult
from grader.report import write_student

GRADEBOOK = '''"Student","ID","SIS User ID","SIS Login ID","Section","HW1 (101)","HW3 (12345)","Current Score","Final Score"
,,,,,"Manual Posting","",,
"    Points Possible","","","","","10","100","(read only)","(read only)"
"Anderson, Alice","1001","S1","alice","Section 1","9","","80","80"
"Baker, Bob","1002","S2","bbaker","Section 1","7","","70","70"
"Chen, Carol","1003","S3","carol@example.edu","Section 2","10","","95","95"
"Student, Test","9999","","","Section 1","","","",""
'''
ROSTER = "student,level,name,email,sis_login\nalice,undergrad,Alice,,\nbob,grad,Bob,,bbaker\n" \
         "carol,undergrad,Carol,carol@example.edu,\n"


def _report(reports: Path, student: str, total: float, fingerprint: str = "fp", **extra) -> None:
    result = StudentResult(student, extra.pop("level", "undergrad"), (), total, extra.pop("max_total", 100.0),
                           extra.pop("needs_review", False), **extra)
    write_student(result, reports, fingerprint)


@pytest.fixture
def course(tmp_path):
    """A finished run of alice, bob and carol, Canvas's export of the course, and roster.csv."""
    (tmp_path / "gradebook.csv").write_text(GRADEBOOK, encoding="utf-8-sig")
    (tmp_path / "roster.csv").write_text(ROSTER)
    reports = tmp_path / "reports"
    _report(reports, "alice", 87.5)
    _report(reports, "bob", 100.0, level="grad")
    _report(reports, "carol", 92.25, needs_review=True)
    return tmp_path


def _export(course: Path, *more: str) -> int:
    return main(["export", "canvas", "--roster", str(course / "gradebook.csv"), "--reports", str(course / "reports"),
                 "--class-roster", str(course / "roster.csv"), *more])


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_the_csv_has_canvas_header_points_possible_and_one_row_per_canvas_student(course):
    assert _export(course) == 0
    rows = _rows(course / "reports" / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW3 (12345)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "100"]
    assert [row[0] for row in rows[2:]] == ["Anderson, Alice", "Baker, Bob", "Chen, Carol", "Student, Test"]


def test_students_are_matched_by_id_sis_login_column_or_email(course):
    assert _export(course, "--out", str(course / "out.csv")) == 0
    scores = {row[3]: row[5] for row in _rows(course / "out.csv")[2:]}
    assert scores == {"alice": "87.5", "bbaker": "100", "carol@example.edu": "92.25", "": ""}


def test_a_canvas_student_without_a_report_keeps_an_empty_cell_and_is_named(course, capsys):
    assert _export(course) == 0
    err = capsys.readouterr().err
    assert "no report for 1 Canvas student(s), left empty: Student, Test (no SIS login)" in err


def test_provisional_points_are_named_as_a_warning(course, capsys):
    assert _export(course) == 0
    assert "warning: provisional (review or attention in summary.md): carol" in capsys.readouterr().err


def test_a_graded_student_missing_from_canvas_is_listed_and_the_exit_code_is_1(course, capsys):
    _report(course / "reports", "dave", 55.0)
    assert _export(course) == 1
    captured = capsys.readouterr()
    assert "not in the Canvas gradebook, so not exported: dave (no Canvas student(s) with SIS Login ID dave)" in captured.err
    assert "sis_login column" in captured.err and "wrote " in captured.out
    assert len(_rows(course / "reports" / "canvas.csv")) == 6  # the others are still written


def test_a_student_the_grader_failed_on_is_left_empty_and_the_exit_code_is_1(course, capsys):
    _report(course / "reports", "alice", 0.0, fingerprint="", attention=("grader error: KeyError (graded again)",))
    assert _export(course) == 1
    assert "the grader failed on alice: left empty" in capsys.readouterr().err
    assert _rows(course / "reports" / "canvas.csv")[2][5] == ""


def test_an_assignment_missing_from_the_export_becomes_a_new_column_with_a_warning(course, capsys):
    assert _export(course, "--assignment", "Homework 3") == 0
    assert _rows(course / "reports" / "canvas.csv")[0][5] == "Homework 3"
    assert "the import creates a new assignment" in capsys.readouterr().err


def test_an_assignment_worth_other_points_in_canvas_is_refused(course, capsys):
    assert _export(course, "--assignment", "HW1") == 2
    err = capsys.readouterr().err
    assert "column HW1 (101): Canvas has it out of 10 points, the grades are out of 100" in err
    assert not (course / "reports" / "canvas.csv").exists()


def test_two_students_matching_one_canvas_student_are_refused(course, capsys):
    (course / "roster.csv").write_text(ROSTER + "alice2,grad,Alice again,,alice\n")
    _report(course / "reports", "alice2", 40.0)
    assert _export(course) == 2
    assert "alice2 and alice both match the Canvas student Anderson, Alice (alice)" in capsys.readouterr().err


def test_a_gradebook_without_canvas_columns_is_refused(course, capsys):
    (course / "gradebook.csv").write_text("Name,Login,HW3\nAlice,alice,\n")
    assert _export(course) == 2
    assert "gradebook.csv: line 1: no column Student, ID, SIS Login ID, Section" in capsys.readouterr().err


def test_an_unreadable_report_is_listed_and_the_exit_code_is_1(course, capsys):
    (course / "reports" / "bob" / "report.json").write_text("{not json")
    assert _export(course) == 1
    assert "no complete report.json, so not exported: bob" in capsys.readouterr().err
    assert _rows(course / "reports" / "canvas.csv")[3][5] == ""
