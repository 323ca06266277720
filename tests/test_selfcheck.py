"""grader check: the public checks name each flaw they can see, and never show a score or a verdict
on correctness."""

import re
from pathlib import Path

import nbformat
import pytest

from grader import selfcheck
from grader.cli import main
from grader.model import Answers, Finding, NotebookRun, Settings, Value
from grader.selfcheck import (PART1_ITEMS, PART2_LATER, PART2_PUBLIC, NotebookCheck, form_problems, probe_set,
                              problem_lines, public_rubric, public_view, render, resolve)
from tests.conftest import ROOT

REFERENCE = ROOT / "reference"
SCORE_LIKE = re.compile(r"points|score|/ ?100|\d+(\.\d+)? ?/ ?\d+|\d+ ?%", re.I)


def _rendered(task: str, findings: list[Finding], form: dict | None = None) -> str:
    items = tuple(public_view(task, findings, form or {}))
    run = NotebookRun(Path(f"{task}.ipynb"), task, "ok", payload={"values": {}})
    return "\n".join(render(NotebookCheck(run.path, task, run, items, tuple(problem_lines(run, items)))))


# ----------------------------------------------------------------------------- the public rubric


def test_the_public_items_are_the_shipped_rubrics_items(rubric):
    shipped = {q: tuple(spec.items) for q, spec in rubric.questions.items() if q != "bonus_frameworks"}
    public = {**PART1_ITEMS, **{t: PART2_PUBLIC[t] + PART2_LATER[t] for t in PART2_PUBLIC}}
    assert {q: sorted(items) for q, items in public.items()} == {q: sorted(items) for q, items in shipped.items()}


def test_callables_are_called_where_the_shipped_rubric_calls_them(rubric):
    assert public_rubric().checks == rubric.checks


def test_the_part2_probe_settings_are_the_shipped_rubrics(rubric):
    bars = {"H3P2T1": {"accuracy"}, "H3P2T2": {"mae"}}
    assert public_rubric().part2.model_dump(exclude=bars) == rubric.part2.model_dump(exclude=bars)


def test_the_public_rubric_has_no_points_and_no_keywords():
    rubric = public_rubric()
    points = {p for q in rubric.questions.values() for p in (q.points, *q.items.values())}
    assert {(p.undergrad, p.grad) for p in points} == {(0, 0)} and rubric.keywords == {}


def test_the_training_features_stand_in_for_the_hidden_ones_without_labels():
    from grader.datasets import read_task

    train = read_task(REFERENCE / "data" / "H3P2T1_train.csv", "H3P2T1")
    probe = probe_set(train)
    assert probe.y is None and probe.X.shape == (1000, train.X.shape[1]) and probe.features == train.features


# ----------------------------------------------------------------------------- the filter


def test_a_wrong_part1_answer_is_only_said_to_be_present():
    text = _rendered("H3P1", [Finding("dL_dw1", "fail", 0.0, "`dL_dw1` does not match the derivative.")])
    assert "does not match" not in text and "1 answer(s) present, graded after the deadline" in text


def test_a_part1_answer_of_the_wrong_form_is_named_with_the_checkers_message():
    form = {"dy_dz": Finding("dy_dz", "fail", 0.0, "`dy_dz` = 'x +' could not be read as an expression")}
    text = _rendered("H3P1", [Finding("dy_dz", "fail", 0.0, "`dy_dz` = 'x +' could not be read")], form)
    assert "- Q2 dy_dz: `dy_dz` = 'x +' could not be read as an expression" in text


def test_a_missing_part1_name_is_a_problem():
    text = _rendered("H3P1", [Finding("q4_explanation", "missing", 0.0, "No answer for `q4_explanation`.")])
    assert "1 problem(s) that would lose points" in text and "- Q4 q4_explanation: No answer" in text


def test_a_free_text_answer_is_never_judged():
    text = _rendered("H3P1", [Finding("q3_explanation", "review", 0.25, "Provisional score from key ideas: found 1 of 4")])
    assert "key ideas" not in text and "no problem found" in text


def test_a_part2_structural_problem_is_named_and_a_pass_is_only_counted():
    text = _rendered("H3P2T1", [Finding("net1_output_units", "pass", 1.0, "net1 has 1 output unit"),
                                Finding("net2_output_units", "fail", 0.0, "net2 has 1 output unit; cross-entropy...")])
    assert "- H3P2T1 net2_output_units: net2 has 1 output unit" in text and "net1 has 1" not in text
    assert "1 public check(s) found nothing wrong" in text


def test_a_hidden_set_item_is_never_shown_however_it_was_judged():
    text = _rendered("H3P2T1", [Finding("net1_accuracy", "pass", 1.0, "net1: accuracy 0.923 (full marks at >= 0.88)"),
                                Finding("net2_accuracy", "fail", 0.4, "net2: accuracy 0.61 (full marks at >= 0.88)")])
    assert "accuracy 0" not in text and "0.88" not in text and "no problem found" in text
    assert "graded after the deadline, on the hidden test set: net1_accuracy, net2_accuracy" in text


def test_what_is_printed_has_nothing_that_looks_like_a_score():
    findings = [Finding("income_error", "fail", 0.5, "income: mean absolute error 900, 50% of the points"),
                Finding("output_units", "pass", 1.0, "the model has 2 output units (3/3 points)"),
                Finding("predict_shape", "pass", 1.0, "predict returned shape (N, 2)")]
    assert not SCORE_LIKE.search(_rendered("H3P2T2", findings) + selfcheck.NOT_A_GRADE)


def test_an_unparsable_expression_is_a_form_problem_and_a_wrong_one_is_not():
    answers = Answers("H3P1", values={"dy_dz": Value("str", "x +", "str"), "dL_db3": Value("none")})
    assert set(form_problems(answers, public_rubric())) == {"dy_dz"}
    wrong = Answers("H3P1", values={"dy_dz": Value("str", "2*x", "str")})
    assert form_problems(wrong, public_rubric()) == {}


# ----------------------------------------------------------------------------- files and the sandbox


def test_a_notebook_not_named_by_the_contract_is_one_line_and_exit_2(tmp_path, capsys):
    notebook = tmp_path / "homework3.ipynb"
    notebook.write_text("{}")
    assert main(["check", str(notebook)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "homework3.ipynb: is not named as a notebook of the contract" in err
    assert "Traceback" not in err


def test_a_missing_notebook_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "H3P1.ipynb")]) == 2
    assert "H3P1.ipynb: file not found" in capsys.readouterr().err


def test_a_part2_notebook_without_training_data_names_the_fix(tmp_path, capsys):
    notebook = tmp_path / "H3P2T1_torch.ipynb"
    notebook.write_text("{}")
    assert main(["check", str(notebook), "--data", str(tmp_path / "nowhere")]) == 2
    assert "H3P2T1_train.csv: training data not found" in capsys.readouterr().err


def test_a_notebook_that_is_not_json_says_so_once_not_per_item(tmp_path, capsys):
    (tmp_path / "H3P1.ipynb").write_text("not json")
    assert main(["check", str(tmp_path / "H3P1.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "- the notebook could not be read: not a valid notebook (not JSON" in out
    assert "2 problem(s)" in out and "none of its items can be checked" in out


def test_names_as_browsers_save_them_are_checked_as_their_task(tmp_path):
    notebook = tmp_path / "H3P1 (1).ipynb"
    notebook.write_text("{}")
    assert resolve(notebook, None)[0] == "H3P1"


def test_training_data_next_to_the_notebook_is_used_first(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "H3P2T2_train.csv").write_text("x1,income,age\n")
    (tmp_path / "H3P2T2_keras.ipynb").write_text("{}")
    assert resolve(tmp_path / "H3P2T2_keras.ipynb", None) == ("H3P2T2", tmp_path / "data")


def test_without_bubblewrap_it_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(selfcheck, "bwrap_status", lambda: (None, "bubblewrap is not installed"))
    line = selfcheck.sandbox_line()
    assert line.startswith("sandbox: reduced (bubblewrap is not installed)") and "\n" not in line


# ----------------------------------------------------------------------------- real kernels


@pytest.mark.slow
def test_the_reference_has_no_problem_and_no_score(capsys):
    assert main(["check", str(REFERENCE / "H3P1.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "no problem found by the public checks" in out and not SCORE_LIKE.search(out)


@pytest.mark.slow
def test_mallory_hears_of_her_failing_cell_and_each_name_it_left_undefined(capsys):
    assert main(["check", str(ROOT / "submissions" / "mallory" / "H3P1.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "- cell 7 failed (error): NameError: name 'sigmoid' is not defined" in out
    for name in PART1_ITEMS["Q3"]:
        assert f"- Q3 {name}: No answer for `{name}`: `{name}` is not defined: cell 7, which defines it, failed" in out


FLAWS = '''
dL_dw1 = "dL_dy_hat * df3(z3 * h1"       # does not parse
dL_dw2 = "dL_dy_hat * df3(z3) * h2"      # wrong, but an expression
net1_output_units = 2                    # wrong, but an int
graph_edges = 42                         # not a graph

def f_nonneg(z):
    raise ValueError("not done yet")

del q4_explanation
'''


@pytest.fixture(scope="module")
def flawed(tmp_path_factory):
    """The reference with a cell of flaws and a failing last cell, through the self-check."""
    nb = nbformat.read(REFERENCE / "H3P1.ipynb", as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(FLAWS), nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path_factory.mktemp("student") / "H3P1.ipynb"
    nbformat.write(nb, path)
    check = selfcheck.check_notebook(path, "H3P1", Settings(submissions=path.parent), public_rubric())
    return check, "\n".join(render(check)), len(nb.cells)


@pytest.mark.slow
def test_a_failing_cell_is_named_with_its_number_and_error(flawed):
    _, text, last = flawed
    assert f"- cell {last} failed (error): ZeroDivisionError: division by zero" in text


@pytest.mark.slow
def test_an_unparsable_expression_is_named(flawed):
    assert "- Q1 dL_dw1: `dL_dw1` = 'dL_dy_hat * df3(z3 * h1' could not be read as an expression" in flawed[1]


@pytest.mark.slow
def test_a_callable_that_raises_is_named(flawed):
    assert "- Q5 f_nonneg: Calling `f_nonneg` on z = " in flawed[1] and "ValueError: not done yet" in flawed[1]


@pytest.mark.slow
def test_an_answer_of_the_wrong_type_is_named(flawed):
    assert "- Q2 graph_edges: `graph_edges` must be a list of (source, target) pairs" in flawed[1]


@pytest.mark.slow
def test_a_deleted_name_is_named(flawed):
    assert "- Q4 q4_explanation: No answer for `q4_explanation`: `q4_explanation` is not defined" in flawed[1]


@pytest.mark.slow
def test_wrong_answers_of_the_right_form_are_not_judged(flawed):
    check, text, _ = flawed
    assert len(check.problems) == 5 and "dL_dw2" not in text and "net1_output_units" not in text


@pytest.mark.slow
def test_softmax_before_cross_entropy_is_named_on_bobs_torch_classifier(capsys):
    assert main(["check", str(ROOT / "submissions" / "bob" / "H3P2T1_torch.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "- H3P2T1 net2_loss: net2 applies softmax before nn.CrossEntropyLoss" in out
    assert "1 problem(s)" in out and not SCORE_LIKE.search(out.replace("would lose points", ""))
