from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rubric_path():
    return ROOT / "rubrics" / "hw3.yaml"


@pytest.fixture
def rubric(rubric_path):
    from grader.rubric import load_rubric

    return load_rubric(rubric_path)
