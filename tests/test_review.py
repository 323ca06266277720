"""`grader review`: scripted answers -> overrides.yaml that the next scoring applies."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader import report
from grader.cli import cli, main
from grader.model import Finding, Submission
from grader.overrides import load_overrides
from grader.score import score_student

ROOT = Path(__file__).resolve().parents[1]
REVIEWED = {"q3_explanation": 0.75, "q4_explanation": 2 / 3, "q5_4_answer": 0.5, "q5_4_explanation": 1 / 3}
# In the rubric's order: Q3, Q4, Q5 (undergraduate maxima 2, 2, 0.5, 0.5).
ORDER = ["q3_explanation", "q4_explanation", "q5_4_answer", "q5_4_explanation"]


def _findings(rubric, review=REVIEWED):
    h3p1 = [Finding(item, "review", review[item], f"provisional: {item}") if item in review
            else Finding(item, "pass", 1.0) for q in ("Q1", "Q2", "Q3", "Q4", "Q5")
            for item in rubric.questions[q].items]
    return {"H3P1": h3p1}


def _notebook(folder: Path, q3_text="Sigmoid gives one probability; softmax over two units."):
    folder.mkdir(parents=True)
    cells = [nbformat.v4.new_markdown_cell("# HW3 Part 1"),
             nbformat.v4.new_code_cell(f"net1_output_units = 1\nq3_explanation = '{q3_text}'"),
             nbformat.v4.new_code_cell("q4_explanation = ('the ranges differ, '\n                  'so the loss is dominated')"),
             nbformat.v4.new_code_cell("q5_4_answer = True\nq5_4_explanation = 'a clip only helps'")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "H3P1.ipynb")


@pytest.fixture
def graded(tmp_path, rubric):
    """A class of one (ann, undergrad) graded synthetically: her notebook, her report.json."""
    subs, out = tmp_path / "subs", tmp_path / "reports"
    _notebook(subs / "ann")
    (subs / "roster.csv").write_text("student,level\nann,undergrad\n")
    result = score_student(Submission("ann", "undergrad", subs / "ann"), rubric, _findings(rubric), {})
    report.write_student(result, out, "fp")
    return subs, out


def _review(graded, rubric_path, text, *extra, color=False):
    subs, out = graded
    args = ["review", "--reports", str(out), "--submissions", str(subs), "--rubric", str(rubric_path), *extra]
    result = CliRunner().invoke(cli, args, input=text, color=color)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def _items(result, question):
    return {i.item: i for q in result.questions if q.id == question for i in q.items}


def test_scripted_answers_write_overrides_that_scoring_applies(graded, rubric, rubric_path):
    _review(graded, rubric_path, "2\nnames both\n0.5\nscale only\n0.25\nhalf a case\n\n\n")
    overrides = load_overrides(graded[0] / "overrides.yaml", rubric)
    result = score_student(Submission("ann", "undergrad", None), rubric, _findings(rubric), {}, overrides)
    q3, q4, q5 = _items(result, "Q3"), _items(result, "Q4"), _items(result, "Q5")
    assert (q3["q3_explanation"].points, q4["q4_explanation"].points, q5["q5_4_answer"].points) == (2, 0.5, 0.25)
    assert "instructor: names both" in q3["q3_explanation"].override
    assert not result.needs_review


def test_enter_keeps_the_provisional_points_and_clears_the_review(graded, rubric, rubric_path):
    _review(graded, rubric_path, "\n\n" * 4)
    overrides = load_overrides(graded[0] / "overrides.yaml", rubric)
    assert overrides["ann"]["Q3.q3_explanation"].points == 1.5
    assert overrides["ann"]["Q3.q3_explanation"].comment == "reviewed"
    before = score_student(Submission("ann", "undergrad", None), rubric, _findings(rubric), {})
    after = score_student(Submission("ann", "undergrad", None), rubric, _findings(rubric), {}, overrides)
    assert not after.needs_review and after.total == before.total


def test_invalid_points_are_asked_again(graded, rubric, rubric_path):
    output = _review(graded, rubric_path, "abc\n2.5\n-1\nnan\n1\nok\nq\n")
    assert output.count("is not a number from 0 to 2") == 4
    assert load_overrides(graded[0] / "overrides.yaml", rubric)["ann"]["Q3.q3_explanation"].points == 1


def test_lowering_the_points_needs_a_written_comment(graded, rubric, rubric_path):
    output = _review(graded, rubric_path, "0\n\n  \nmixes up the two nets\nq\n")
    assert output.count("comment (required") == 3
    entry = load_overrides(graded[0] / "overrides.yaml", rubric)["ann"]["Q3.q3_explanation"]
    assert (entry.points, entry.comment) == (0, "mixes up the two nets")


def test_existing_entries_and_comments_survive(graded, rubric, rubric_path):
    path = graded[0] / "overrides.yaml"
    path.write_text("# HW3 manual points, fall term\n"
                    "bob:  # regrade request of 3 Dec\n"
                    "  Q3.net1_output_units: {points: 1, comment: said 'one or two'}\n"
                    "ann:\n"
                    "  # TA read it twice\n"
                    "  q4_explanation: {points: 1, comment: scale only}\n")
    _review(graded, rubric_path, "2\nfull\nq\n", "--student", "ann")
    text = path.read_text()
    for kept in ("# HW3 manual points, fall term", "# regrade request of 3 Dec", "# TA read it twice",
                 "Q3.net1_output_units: {points: 1, comment: said 'one or two'}",
                 "q4_explanation: {points: 1, comment: scale only}"):
        assert kept in text
    overrides = load_overrides(path, rubric)
    assert overrides["ann"]["Q3.q3_explanation"].points == 2 and overrides["bob"]["Q3.net1_output_units"].points == 1


def test_a_file_of_comments_only_keeps_them_above_the_entries(graded, rubric, rubric_path):
    path = graded[0] / "overrides.yaml"
    path.write_text("# HW3 manual points: student: {item: {points, comment}}\n")
    _review(graded, rubric_path, "2\nfull\nq\n")
    assert path.read_text().startswith("# HW3 manual points: student: {item: {points, comment}}\nann:\n")
    assert load_overrides(path, rubric)["ann"]["Q3.q3_explanation"].points == 2


def test_decided_items_are_left_out_unless_all_is_given(graded, rubric, rubric_path):
    path = graded[0] / "overrides.yaml"
    path.write_text("ann:\n  q3_explanation: {points: 2, comment: full}\n")
    first = _review(graded, rubric_path, "q\n")
    assert "[1/3] ann (undergrad) · Q4 · q4_explanation" in first
    _review(graded, rubric_path, "1\nhalf after all\nq\n", "--all")
    assert path.read_text().count("q3_explanation") == 1  # changed in place, not added twice
    assert load_overrides(path, rubric)["ann"]["Q3.q3_explanation"].comment == "half after all"


def test_skip_and_quit_leave_the_items_for_the_next_review(graded, rubric, rubric_path):
    output = _review(graded, rubric_path, "s\n2\nfull\nq\n")
    assert "1 override(s) saved" in output and "1 skipped; 2 not reached" in output
    assert list(load_overrides(graded[0] / "overrides.yaml", rubric)["ann"]) == ["Q4.q4_explanation"]
    again = _review(graded, rubric_path, "q\n")
    assert "[1/3]" in again and "Q3 · q3_explanation" in again


def test_the_end_of_input_stops_with_what_was_entered_saved(graded, rubric, rubric_path):
    _review(graded, rubric_path, "2\nfull\n")
    assert list(load_overrides(graded[0] / "overrides.yaml", rubric)["ann"]) == ["Q3.q3_explanation"]


def test_the_students_code_is_shown_with_its_cell(graded, rubric_path):
    output = _review(graded, rubric_path, "s\ns\ns\nq\n")
    assert "H3P1.ipynb, cell 2:\n    q3_explanation = 'Sigmoid gives one probability" in output
    assert "H3P1.ipynb, cell 3:\n    q4_explanation = ('the ranges differ, '\n" in output
    q5_4 = output.split("[3/4]")[1].split("[4/4]")[0]
    assert "q5_4_answer = True" in q5_4 and "q5_4_explanation = 'a clip only helps'" in q5_4


def test_control_characters_in_a_students_answer_never_reach_the_terminal(tmp_path, rubric, rubric_path):
    subs, out = tmp_path / "subs", tmp_path / "reports"
    _notebook(subs / "ann", q3_text="\x1b[2J\x1b]0;owned\x07 sigmoid")
    result = score_student(Submission("ann", "undergrad", subs / "ann"), rubric, _findings(rubric), {})
    report.write_student(result, out, "fp")
    output = _review((subs, out), rubric_path, "q\n", color=True)  # click strips no escape then
    assert "q3_explanation = '[2J]0;owned sigmoid'" in output and "\x07" not in output
    assert "\x1b[2J" not in output and "\x1b]" not in output


def test_an_item_two_questions_share_is_written_with_its_question(tmp_path, rubric, rubric_path):
    subs, out = tmp_path / "subs", tmp_path / "reports"
    _notebook(subs / "ann")
    found = _findings(rubric, {"net1_output_units": 0.0})
    report.write_student(score_student(Submission("ann", "undergrad", subs / "ann"), rubric, found, {}), out, "fp")
    _review((subs, out), rubric_path, "2\nthe 1 is the count\n")
    assert "Q3.net1_output_units:" in (subs / "overrides.yaml").read_text()
    assert load_overrides(subs / "overrides.yaml", rubric)["ann"]["Q3.net1_output_units"].points == 2


def test_nothing_to_review_says_so(tmp_path, rubric, rubric_path):
    out = tmp_path / "reports"
    report.write_student(score_student(Submission("ann", "undergrad", None), rubric, _findings(rubric, {}), {}),
                         out, "fp")
    assert "nothing to review" in _review((tmp_path, out), rubric_path, "")


def test_a_missing_reports_folder_is_one_line_with_the_fix(tmp_path, capsys, rubric_path):
    code = main(["review", "--reports", str(tmp_path / "nope"), "--submissions", str(tmp_path),
                 "--rubric", str(rubric_path)])
    assert code == 2 and "no reports folder. Fix: run grader run first" in capsys.readouterr().err


@pytest.mark.slow
def test_a_following_grader_run_applies_the_review(tmp_path, rubric_path):
    """oscar (Part 1 only, undergrad): q3 and q4 explanations are provisional until reviewed."""
    subs, out = tmp_path / "subs", tmp_path / "reports"
    shutil.copytree(ROOT / "submissions" / "oscar", subs / "oscar")
    (subs / "roster.csv").write_text("student,level\noscar,undergrad\n")
    run = ["run", str(subs), "--out", str(out), "--rubric", str(rubric_path)]
    assert main(run) == 0
    _review((subs, out), rubric_path, "2\nclear\n0.5\nonly names the scales\n")
    assert main(run) == 0
    data = json.loads((out / "oscar" / "report.json").read_text())
    items = {(q["id"], i["id"]): i for q in data["questions"] for i in q["items"]}
    assert items[("Q3", "q3_explanation")]["points"] == 2 and "instructor: clear" in items[("Q3", "q3_explanation")]["override"]
    assert items[("Q4", "q4_explanation")]["points"] == 0.5
    assert not data["needs_review"]


def test_a_duplicate_entry_in_overrides_is_one_line_naming_it(graded, capsys, rubric_path):
    subs, out = graded
    (subs / "overrides.yaml").write_text("ann:\n  q3_explanation: {points: 1, comment: a}\n"
                                         "  q3_explanation: {points: 2, comment: b}\n")
    code = main(["review", "--reports", str(out), "--submissions", str(subs), "--rubric", str(rubric_path)])
    assert code == 1 and "overrides.yaml: line 3: cannot be edited (found duplicate key" in capsys.readouterr().err
