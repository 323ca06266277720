"""Roster + folders -> submissions; roster problems name the line and the fix."""

import pytest

from grader.discover import find_submissions
from grader.errors import RosterError, SettingsError


def _class(tmp_path, roster="student,level\nann,undergrad\nbo,grad\n", folders=("ann", "bo")):
    (tmp_path / "roster.csv").write_text(roster)
    for name in folders:
        (tmp_path / name).mkdir()
        (tmp_path / name / "H3P1.ipynb").write_text("{}")
    return tmp_path


def test_notebooks_by_task_and_ignored_files(tmp_path):
    root = _class(tmp_path)
    (root / "ann" / "H3P2T2_torch.ipynb").write_text("{}")
    (root / "ann" / "h3p2t2_keras.ipynb").write_text("{}")
    (root / "ann" / "notes.txt").write_text("x")
    (root / "ann" / ".ipynb_checkpoints").mkdir()
    (root / "ann" / ".ipynb_checkpoints" / "H3P1-checkpoint.ipynb").write_text("{}")
    subs = {s.student: s for s in find_submissions(root)}
    ann = subs["ann"]
    assert ann.level == "undergrad" and subs["bo"].level == "grad"
    assert [p.name for p in ann.notebooks["H3P2T2"]] == ["H3P2T2_torch.ipynb", "h3p2t2_keras.ipynb"]
    assert ann.ignored == ("notes.txt",)


def test_roster_student_without_folder_gets_a_submission(tmp_path):
    root = _class(tmp_path, roster="student,level\nann,undergrad\nbo,grad\ncy,grad\n")
    cy = [s for s in find_submissions(root) if s.student == "cy"][0]
    assert cy.folder is None and "no submission folder found" in cy.notes


def test_student_missing_from_roster_is_an_error_naming_them(tmp_path):
    root = _class(tmp_path, roster="student,level\nann,undergrad\n")
    with pytest.raises(RosterError) as info:
        find_submissions(root)
    assert "bo" in info.value.line() and "--default-level" in info.value.line()
    bo = [s for s in find_submissions(root, default_level="grad") if s.student == "bo"][0]
    assert bo.level == "grad" and "not in the roster" in bo.notes[0]


@pytest.mark.parametrize("roster, expect", [
    ("student,level\nann,undergrad\nann,grad\n", "line 3: student ann is listed twice"),
    ("student,level\nann,phd\n", "line 2: unknown level 'phd'"),
    ("name,email\nann,a@x\n", "line 1: the header is name,email"),
    ("student,level\nann\n", "line 2: too few columns"),
], ids=["duplicate", "unknown-level", "no-header", "short-row"])
def test_roster_errors_name_the_line(tmp_path, roster, expect):
    root = _class(tmp_path, roster=roster, folders=("ann",))
    with pytest.raises(RosterError) as info:
        find_submissions(root)
    assert "roster.csv" in info.value.line() and expect in info.value.line() and "Fix:" in info.value.line()


def test_missing_roster_and_missing_folder(tmp_path):
    (tmp_path / "ann").mkdir()
    with pytest.raises(RosterError, match="no roster found"):
        find_submissions(tmp_path)
    assert [s.student for s in find_submissions(tmp_path, default_level="undergrad")] == ["ann"]
    with pytest.raises(SettingsError, match="is not a folder"):
        find_submissions(tmp_path / "nope")


def test_only_selected_students(tmp_path):
    root = _class(tmp_path)
    assert [s.student for s in find_submissions(root, only=("bo",))] == ["bo"]
    with pytest.raises(SettingsError, match="no student zed"):
        find_submissions(root, only=("zed",))
