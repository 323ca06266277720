"""grader verify: each check's problem is one named line; the real run finds none."""

import shutil
from pathlib import Path

import pytest

from grader.cli import main
from grader.model import CellFailure, Finding, NotebookRun, Settings
from grader.verify import handout_problems, notebook_problems, reference_problems, verify
from tests.conftest import ROOT

REFERENCE = ROOT / "reference"


def _settings(**changes) -> Settings:
    return Settings(submissions=REFERENCE, **changes)


def test_a_broken_rubric_is_the_one_problem_and_exits_1(tmp_path, capsys):
    bad = tmp_path / "r.yaml"
    bad.write_text((ROOT / "rubrics" / "hw3.yaml").read_text().replace("seed:", "sed:", 1))
    assert main(["verify", "--rubric", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("problem: rubric: ") and "r.yaml: key sed: unknown key" in out[0]


def test_training_data_holding_hidden_rows_is_named_as_a_handout_problem(tmp_path, rubric):
    data = tmp_path / "data"
    shutil.copytree(REFERENCE / "data", data)
    hidden_row = (ROOT / "rubrics" / "hidden" / "H3P2T1_test.csv").read_text().splitlines()[1]
    with (data / "H3P2T1_train.csv").open("a") as handle:
        handle.write(hidden_row + "\n")
    problems = handout_problems(rubric, _settings(data=data), REFERENCE)
    assert problems == ["handout: data/H3P2T1_train.csv line 2002: hidden row: H3P2T1_test.csv row 1",
                        "handout: data/H3P2T1_train.csv line 2002: hidden row: the numbers of H3P2T1_test.csv row 1"]


def test_a_missing_hidden_set_is_a_problem_not_a_clean_handout(tmp_path, rubric):
    problems = handout_problems(rubric, _settings(hidden=tmp_path / "nowhere"), REFERENCE)
    assert len(problems) == 1 and "hidden test set not found" in problems[0]


def test_a_reference_folder_without_solutions_is_a_problem(tmp_path, rubric):
    shutil.copyfile(REFERENCE / "H3P1_template.ipynb", tmp_path / "H3P1_template.ipynb")
    problems = reference_problems(rubric, _settings(), tmp_path, progress=lambda line: None)
    assert len(problems) == 1 and "no reference solution" in problems[0]


def test_a_reference_notebook_below_full_marks_names_the_item_and_the_cell():
    run = NotebookRun(Path("H3P2T1_torch.ipynb"), "H3P2T1", "ok",
                      failures=(CellFailure(6, "error", "ValueError", "bad shape", ""),),
                      tampering=("cell 6: note: runs code it builds at run time (eval of a computed string)",))
    findings = [Finding("runs", "fail", 0.0, "cell 7 failed"), Finding("net1_accuracy", "fail", 0.5, "accuracy 0.71"),
                Finding("net2_accuracy", "pass", 1.0, "accuracy 0.92")]
    assert notebook_problems("H3P2T1_torch.ipynb", run, findings) == [
        "reference H3P2T1_torch.ipynb: cell 7 failed: ValueError: bad shape",
        "reference H3P2T1_torch.ipynb: runs: fail, 0% of its points: cell 7 failed",
        "reference H3P2T1_torch.ipynb: net1_accuracy: fail, 50% of its points: accuracy 0.71"]


@pytest.mark.slow
def test_verify_finds_no_problem_in_the_project(rubric_path):
    lines = []
    assert verify(Settings(submissions=REFERENCE, rubric=rubric_path), REFERENCE, progress=lines.append) == []
    assert "reference at the undergrad level: 110 of 110 (bonuses included)" in lines
    assert "reference at the grad level: 105 of 105 (bonuses included)" in lines


def test_the_ci_example_installs_the_grader_verifies_grades_and_uploads_the_reports():
    import yaml

    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "push" in triggers
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = [step.get("run", "") for step in steps]
    order = [next(i for i, run in enumerate(runs) if needle in run)
             for needle in ("apt-get install -y -qq bubblewrap", "pip install -q -e ./.grader", "grader verify",
                            "grader run submissions/")]
    assert order == sorted(order)
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "reports/" and upload["if"] == "always()"
