"""Hidden labels never enter a student's kernel: the only path in is the extraction request."""

import json

import numpy as np
import pytest

from grader import extract
from grader.checks import CHECKERS
from grader.datasets import load_hidden
from grader.rubric import load_rubric
from tests.conftest import ROOT


def _arrays(node):
    """Every list of numbers in a JSON tree, as flat float arrays (rows of a matrix included)."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _arrays(value)
    elif isinstance(node, list) and node:
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node):
            yield np.asarray(node, dtype=float)
        else:
            for value in node:
                yield from _arrays(value)
            if all(isinstance(v, list) for v in node):
                try:
                    matrix = np.asarray(node, dtype=float)
                except ValueError:
                    return
                yield from matrix.T  # columns too: a label column hidden in a matrix


@pytest.mark.parametrize("task", ["H3P2T1", "H3P2T2"])
def test_request_carries_hidden_features_but_no_labels(task):
    rubric = load_rubric(ROOT / "rubrics" / "hw3.yaml")
    hidden = load_hidden(ROOT / "rubrics" / "hidden")[task]
    checks = CHECKERS[task]
    request = checks.request(rubric, hidden)
    job = extract.kernel_code(request, checks.kernel_modules)
    spec = json.loads(json.dumps(job.request))  # exactly what the kernel is sent
    arrays = list(_arrays(spec))
    columns = [hidden.y] if hidden.y.ndim == 1 else list(hidden.y.T)
    # The features are there (so this test would see labels if they were)...
    assert any(len(a) == len(hidden.X) and np.allclose(a, hidden.X[:, 0]) for a in arrays)
    # ...the labels are not, in any list, column or the code's text.
    for label in columns:
        assert not any(len(a) == len(label) and np.allclose(a, label) for a in arrays)
    assert "label" not in json.dumps(spec)
    assert str(ROOT / "rubrics") not in json.dumps(job.modules) + json.dumps(spec)
