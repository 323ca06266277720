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


QUANTILES = [0, 4, 9, 15, 22, 30, 40, 52, 66, 82, 100, 121, 145, 172, 203, 240, 285, 340, 420, 560, 2900]
"""Absolute errors at 0 %, 5 %, ..., 100 % for a synthetic H3P2T2 income chart."""


def make_graded_result(rubric, student: str = "ann", level: str = "grad"):
    """A StudentResult holding what the HTML report shows: a Q1 counterexample, an override,
    provisional points, Part 2 charts, a failing cell and a notebook stopped by a limit."""
    from grader.model import CellFailure, Finding, NotebookRun, Submission
    from grader.overrides import Override
    from grader.score import score_student

    counter = {"point": {"x": 0.5, "w1": -1.25}, "f1": "tanh", "f2": "sin", "f3": "sigmoid", "loss": "bce",
               "expected": 0.123456, "given": 0.654321}
    found = {
        "H3P1": [Finding("dL_dw1", "fail", 0.0, "`dL_dw1` does not match the derivative. "
                         "It looks like your answer misses the factor df1(z1).", counter),
                 Finding("graph_edges", "fail", 0.0, "the graph misses x→z"),
                 Finding("q3_explanation", "review", 0.5, "Provisional score from key ideas: found 2 of 4")],
        "H3P2T1": [Finding("net1_accuracy", "fail", 0.75, "net1: accuracy 0.8 on the 1000 hidden rows", {"accuracy": 0.8},
                           {"kind": "accuracy", "label": "net1", "value": 0.8, "full": 0.88, "zero": 0.55}),
                   Finding("net2_accuracy", "pass", 1.0, "net2: accuracy 0.93", {"accuracy": 0.93},
                           {"kind": "accuracy", "label": "net2", "value": 0.93, "full": 0.88, "zero": 0.55})],
        "H3P2T2": [Finding("income_error", "pass", 1.0, "income: mean absolute error 193", None,
                           {"kind": "abs_error", "label": "income", "quantiles": QUANTILES, "mae": 193.0,
                            "full": 400, "zero": 2500}),
                   Finding("age_error", "fail", 0.5, "age: mean absolute error 14.5", None,
                           {"kind": "abs_error", "label": "age", "quantiles": [q / 20 for q in QUANTILES],
                            "mae": 14.5, "full": 4, "zero": 25})],
    }
    traceback = "\n".join(f"frame {k}" for k in range(100)) + "\nNameError: name 'q' is not defined"
    runs = [NotebookRun(Path("H3P1.ipynb"), "H3P1", "ok", (CellFailure(6, "error", "NameError",
                        "name 'q' is not defined", traceback),), 1.5, sandbox="full: bubblewrap"),
            NotebookRun(Path("H3P2T1_torch.ipynb"), "H3P2T1", "ok", (), 8.25, sandbox="full: bubblewrap",
                        payload={"extra": {"part2": {"task": "H3P2T1", "nets": {"net1": {"present": True,
                                                                                          "framework": "torch"}}}}}),
            NotebookRun(Path("H3P2T2_keras.ipynb"), "H3P2T2", "limit_exceeded",
                        (CellFailure(4, "limit", "memory limit", "memory limit (4 GiB) in cell 5; the kernel was "
                                     "stopped", ""),), 30.5, reason="memory limit (4 GiB) in cell 5; the kernel "
                        "was stopped", sandbox="full: bubblewrap", rerun="run again without cell 5")]
    sub = Submission(student, level, Path(student), notebooks={run.task: (run.path,) for run in runs},
                     ignored=("notes.txt",))
    overrides = {student: {"Q2.graph_edges": Override(points=7, comment="drawn on paper, correct")}}
    return score_student(sub, rubric, found, {}, overrides, runs=runs)


@pytest.fixture(scope="session")
def graded_result():
    """(student id, level) -> make_graded_result's StudentResult; session-wide, so tests of
    rendered pages can share one rendering per module."""
    from grader.rubric import load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "hw3.yaml")
    return lambda student="ann", level="grad": make_graded_result(rubric, student, level)
