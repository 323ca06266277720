"""Findings -> points by level; overrides replace provisional points; bonuses sit on top of 100."""

import pytest

from grader.model import Finding, Submission
from grader.errors import OverridesError
from grader.overrides import load_overrides
from grader.score import points_of, score_student


def _all_pass(rubric, task):
    return [Finding(item, "pass", 1.0) for q in rubric.questions.values() if q.task == task
            and q is not rubric.questions["bonus_frameworks"] for item in q.items]


def _findings(rubric):
    found = {t: _all_pass(rubric, t) for t in ("H3P1", "H3P2T1", "H3P2T2")}
    found["bonus_frameworks"] = [Finding("both_frameworks", "pass", 1.0)]
    return found


@pytest.mark.parametrize("level, total", [("undergrad", 110), ("grad", 105)])
def test_full_marks_and_bonuses_by_level(rubric, level, total):
    result = score_student(Submission("ann", level, None), rubric, _findings(rubric), {})
    assert result.total == total and result.max_total == 100
    q5 = [q for q in result.questions if q.id == "Q5"][0]
    assert q5.bonus == (level == "undergrad") and q5.points == (5 if level == "undergrad" else 10)


def test_missing_findings_are_missing_with_the_reason(rubric):
    result = score_student(Submission("ann", "grad", None), rubric, {}, {"H3P1": "not graded: kernel died"})
    q1 = [q for q in result.questions if q.id == "Q1"][0]
    assert q1.points == 0 and {i.status for i in q1.items} == {"missing"}
    assert q1.items[0].message == "not graded: kernel died"
    t1 = [q for q in result.questions if q.id == "H3P2T1"][0]
    assert "no H3P2T1 notebook was handed in" in t1.items[0].message


def test_fractions_scale_item_points_and_review_flags(rubric):
    found = _findings(rubric)
    found["H3P1"] = [f if f.item != "q3_explanation" else Finding(f.item, "review", 0.5, "2 of 4 ideas")
                     for f in found["H3P1"]]
    result = score_student(Submission("ann", "undergrad", None), rubric, found, {})
    q3 = [q for q in result.questions if q.id == "Q3"][0]
    assert q3.points == 9 and result.needs_review


def test_overrides_replace_points_and_clear_review(tmp_path, rubric):
    path = tmp_path / "overrides.yaml"
    path.write_text("ann:\n  q3_explanation: {points: 2, comment: clear and complete}\n"
                    "  Q3.net1_output_units: {points: 1, comment: said 'one or two'}\n")
    overrides = load_overrides(path, rubric)
    found = _findings(rubric)
    found["H3P1"] = [f if f.item != "q3_explanation" else Finding(f.item, "review", 0.5, "2 of 4 ideas")
                     for f in found["H3P1"]]
    result = score_student(Submission("ann", "undergrad", None), rubric, found, {}, overrides)
    items = {i.item: i for q in result.questions if q.id == "Q3" for i in q.items}
    assert items["q3_explanation"].points == 2 and "clear and complete" in items["q3_explanation"].override
    assert items["net1_output_units"].points == 1 and "checker gave 2" in items["net1_output_units"].override
    assert not result.needs_review


@pytest.mark.parametrize("text, expect", [
    ("ann:\n  net1_output_units: {points: 1, comment: x}\n", "ambiguous"),
    ("ann:\n  q3_explanation: {points: 9, comment: x}\n", "more than the item's 2"),
    ("ann:\n  q3_explanation: {points: 1}\n", "comment"),
    ("ann:\n  nope: {points: 1, comment: x}\n", "unknown or ambiguous item"),
], ids=["ambiguous-item", "too-many-points", "no-comment", "unknown-item"])
def test_bad_overrides_name_the_key(tmp_path, rubric, text, expect):
    path = tmp_path / "overrides.yaml"
    path.write_text(text)
    with pytest.raises(OverridesError) as info:
        load_overrides(path, rubric)
    assert "overrides.yaml" in info.value.line() and expect in info.value.line()


def test_points_of_picks_the_better_notebook(rubric):
    good = [Finding("runs", "pass", 1.0), Finding("output_units", "pass", 1.0)]
    bad = [Finding("runs", "fail", 0.0), Finding("output_units", "pass", 1.0)]
    assert points_of(good, rubric, "H3P2T2", "undergrad") == 7
    assert points_of(bad, rubric, "H3P2T2", "undergrad") == 3
