"""Roster + folders -> submissions; roster problems name the line and the fix."""

import os
from pathlib import Path

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


def _one(tmp_path, *names, extra=()):
    (tmp_path / "roster.csv").write_text("student,level\nann,undergrad\n")
    for name in names:
        path = tmp_path / "ann" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    return find_submissions(tmp_path)[0]


@pytest.mark.parametrize("name", ["H3P1 (1).ipynb", "H3P1-Copy1.ipynb", "h3p1_final.ipynb", "H3P1 .ipynb",
                                  "hw3p1.ipynb", "H3P1_v2.ipynb"])
def test_saved_name_variants_are_accepted_as_h3p1_with_a_note(tmp_path, name):
    sub = _one(tmp_path, name)
    assert [p.name for p in sub.notebooks["H3P1"]] == [name]
    assert sub.notes == (f"{name} accepted as H3P1 (the contract's name is H3P1.ipynb)",)
    assert sub.attention == ()


def test_exact_name_wins_over_a_variant(tmp_path):
    sub = _one(tmp_path, "H3P1.ipynb", "H3P1 (1).ipynb")
    assert [p.name for p in sub.notebooks["H3P1"]] == ["H3P1.ipynb"]
    assert sub.ignored == ("H3P1 (1).ipynb",)


def test_several_variants_are_all_graded_and_need_attention(tmp_path):
    sub = _one(tmp_path, "H3P1 (1).ipynb", "H3P1-Copy1.ipynb")
    assert [p.name for p in sub.notebooks["H3P1"]] == ["H3P1 (1).ipynb", "H3P1-Copy1.ipynb"]
    assert sub.attention == ("several notebooks for H3P1 (H3P1 (1).ipynb, H3P1-Copy1.ipynb): each was graded "
                             "and the better one scored; check which one the student meant",)


def test_unrecognised_notebook_where_a_task_is_missing_needs_attention(tmp_path):
    sub = _one(tmp_path, "H3P1.ipynb", "H3P2T1_torch.ipynb", "regression.ipynb")
    assert "H3P2T2" not in sub.notebooks
    assert sub.ignored == ("regression.ipynb",)
    assert sub.attention == ("no notebook for H3P2T2, but unrecognised notebook(s) regression.ipynb: "
                             "check whether one of them is the missing task",)


def test_notebooks_in_one_subfolder_are_read_with_a_note(tmp_path):
    sub = _one(tmp_path, "submission/H3P1.ipynb", "submission/H3P2T1_torch.ipynb")
    assert [p.name for p in sub.notebooks["H3P1"]] == ["H3P1.ipynb"]
    assert [p.name for p in sub.notebooks["H3P2T1"]] == ["H3P2T1_torch.ipynb"]
    assert sub.notes == ("the notebooks were read from the subfolder submission/",)


def test_symbolic_links_are_never_followed(tmp_path):
    (tmp_path / "roster.csv").write_text("student,level\nann,undergrad\nbo,undergrad\neve,undergrad\nmal,grad\n")
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "H3P1.ipynb").write_text("{}")
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "H3P1.ipynb").symlink_to(tmp_path / "ann" / "H3P1.ipynb")
    (tmp_path / "eve" / "part2").symlink_to(tmp_path / "ann", target_is_directory=True)
    (tmp_path / "bo").symlink_to(tmp_path / "ann", target_is_directory=True)
    (tmp_path / "mal").mkdir()
    mal_target = Path(__file__).parents[1] / "reference" / "H3P2T2_torch.ipynb"
    (tmp_path / "mal" / "H3P2T2_torch.ipynb").symlink_to(mal_target)
    subs = {s.student: s for s in find_submissions(tmp_path)}
    eve, bo, mal = subs["eve"], subs["bo"], subs["mal"]
    assert eve.notebooks == {} and mal.notebooks == {} and bo.notebooks == {} and bo.folder is None
    link = f"a symbolic link (to {tmp_path / 'ann' / 'H3P1.ipynb'}); links are not followed, hand in the file itself"
    assert eve.ignored == (f"H3P1.ipynb: {link}",
                           f"part2: a symbolic link (to {tmp_path / 'ann'}); links are not followed, "
                           "hand in the file itself")
    assert eve.attention == eve.ignored
    assert mal.attention == (f"H3P2T2_torch.ipynb: a symbolic link (to {mal_target}); links are not followed, "
                             "hand in the file itself",)
    assert bo.ignored == (f"bo/: a symbolic link (to {tmp_path / 'ann'}); links are not followed, "
                          "hand in the file itself",)
    assert bo.attention == (f"the student folder {bo.ignored[0]}",)


@pytest.mark.parametrize("name", ["H3P1.ipynb.ipynb", "Copy of H3P1.ipynb", "Copy of H3P1 (1).ipynb"])
def test_doubled_extension_and_drive_copies_are_accepted_as_h3p1(tmp_path, name):
    sub = _one(tmp_path, name)
    assert [p.name for p in sub.notebooks["H3P1"]] == [name]
    assert sub.notes == (f"{name} accepted as H3P1 (the contract's name is H3P1.ipynb)",)


def test_part2_variant_next_to_a_contract_name_is_graded_too(tmp_path):
    # One notebook per framework: the misspelt one may be the other framework (and the +5).
    sub = _one(tmp_path, "H3P2T2_keras.ipynb", "h3p2-t2 torch.ipynb")
    assert [p.name for p in sub.notebooks["H3P2T2"]] == ["H3P2T2_keras.ipynb", "h3p2-t2 torch.ipynb"]
    assert sub.ignored == ()
    assert sub.notes == ("h3p2-t2 torch.ipynb graded as H3P2T2 too (the contract's name is H3P2T2*.ipynb)",)


def test_a_mac_zip_subfolder_is_read_and_its_metadata_ignored(tmp_path):
    sub = _one(tmp_path, "submission/H3P1.ipynb", "__MACOSX/submission/._H3P1.ipynb")
    assert [p.name for p in sub.notebooks["H3P1"]] == ["H3P1.ipynb"]
    assert sub.ignored == ("__MACOSX/submission/._H3P1.ipynb",)
    assert sub.notes == ("the notebooks were read from the subfolder submission/",)
    assert sub.attention == ()


def test_a_pipe_is_listed_not_read(tmp_path):
    # Opening a FIFO without a writer blocks: discovery must not hand it on as a notebook.
    (tmp_path / "roster.csv").write_text("student,level\nann,undergrad\n")
    (tmp_path / "ann").mkdir()
    os.mkfifo(tmp_path / "ann" / "H3P1.ipynb")
    sub = find_submissions(tmp_path)[0]
    why = "H3P1.ipynb: not a regular file (a pipe, socket or device); hand in the file itself"
    assert (sub.notebooks, sub.ignored, sub.attention) == ({}, (why,), (why,))


def test_folders_nested_too_deep_are_not_read(tmp_path):
    deep = "/".join(["d"] * 21)
    sub = _one(tmp_path, "H3P1.ipynb", f"{deep}/x.txt")
    why = f"{deep}/: nested more than 20 folders deep, not read"
    assert sub.ignored == (why,) and sub.attention == (why,)
    assert [p.name for p in sub.notebooks["H3P1"]] == ["H3P1.ipynb"]
