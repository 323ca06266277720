"""The rubric is data checked against a schema: every mistake names the file and the key."""

import pytest
import yaml

from grader.errors import RubricError
from grader.rubric import load_rubric


def test_shipped_rubric_matches_the_handout(rubric):
    # CONTRACT.md §4, by hand.
    expected = {"Q1": (10, 10), "Q2": (10, 10), "Q3": (10, 10), "Q4": (10, 10), "Q5": (5, 10),
                "H3P2T1": (30, 25), "H3P2T2": (30, 25), "bonus_frameworks": (5, 5)}
    got = {q: (s.points.undergrad, s.points.grad) for q, s in rubric.questions.items()}
    assert got == expected
    assert rubric.questions["Q5"].bonus_for == ("undergrad",)
    assert set(rubric.questions["bonus_frameworks"].bonus_for) == {"undergrad", "grad"}
    assert rubric.frameworks_bonus.task == "H3P2T2"
    assert set(rubric.questions["Q1"].items) == {f"dL_d{n}" for n in "w1 w2 w3 w4 b1 b2 b3 x".split()}


def _broken(tmp_path, rubric_path, edit):
    data = yaml.safe_load(rubric_path.read_text())
    edit(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    return info.value.line()


def test_typo_in_a_key_is_named(tmp_path, rubric_path):
    line = _broken(tmp_path, rubric_path, lambda d: d["questions"]["Q2"].update(pionts=d["questions"]["Q2"].pop("points")))
    assert "broken.yaml" in line and "questions.Q2.pionts" in line and "typo" in line


def test_missing_level_is_named(tmp_path, rubric_path):
    line = _broken(tmp_path, rubric_path, lambda d: d["questions"]["Q1"]["points"].pop("grad"))
    assert "questions.Q1.points.grad" in line and "add this key" in line


def test_items_that_do_not_add_up_are_named(tmp_path, rubric_path):
    line = _broken(tmp_path, rubric_path, lambda d: d["questions"]["Q2"]["items"]["dy_dz"].update(grad=4))
    assert "questions.Q2" in line and "add up to 11" in line


def test_unknown_question_and_bad_total(tmp_path, rubric_path):
    line = _broken(tmp_path, rubric_path, lambda d: d["max_total"].update(grad=90))
    assert "max_total is 90" in line


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\nquestions: [\n")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert "bad.yaml: line" in info.value.line()


def test_missing_file(tmp_path):
    with pytest.raises(RubricError, match="file not found"):
        load_rubric(tmp_path / "nope.yaml")
