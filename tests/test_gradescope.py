"""Gradescope: the autograder zip, results.json from a finished run, and run_autograder in a
simulated /autograder layout, each results.json checked against the fields Gradescope documents."""

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from grader import report
from grader.cli import main
from grader.errors import RubricError
from grader.gradescope import AutograderConfig, Layout, RosterRow, identify, run
from grader.model import CellFailure, Finding, NotebookRun, Submission
from grader.rubric import load_rubric
from grader.score import score_student

ROOT = Path(__file__).resolve().parents[1]

# Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/):
# every field it documents for results.json, with its type and, where it has them, its values.
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
NUMBER = (int, float)
TOP_FIELDS = {"score": NUMBER, "execution_time": NUMBER, "output": str, "output_format": FORMATS,
              "test_output_format": FORMATS, "test_name_format": FORMATS, "visibility": VISIBILITY,
              "stdout_visibility": VISIBILITY, "extra_data": dict, "tests": list, "leaderboard": list}
TEST_FIELDS = {"score": NUMBER, "max_score": NUMBER, "status": {"passed", "failed"}, "name": str,
               "name_format": FORMATS, "number": str, "output": str, "output_format": FORMATS,
               "tags": list, "visibility": VISIBILITY, "extra_data": dict}


def _field_problems(where: str, data: dict, fields: dict) -> list[str]:
    problems = []
    for key, value in data.items():
        if key not in fields:
            problems.append(f"{where}: undocumented field {key!r}")
        elif isinstance(fields[key], set):
            if value not in fields[key]:
                problems.append(f"{where}.{key}: {value!r} is not one of {sorted(fields[key])}")
        elif not isinstance(value, fields[key]) or isinstance(value, bool):
            problems.append(f"{where}.{key}: {type(value).__name__} is not {fields[key]}")
    return problems


def gradescope_problems(doc) -> list[str]:
    """What in a results.json Gradescope's specification does not allow ([] when it is valid)."""
    if not isinstance(doc, dict):
        return ["the top level is not an object"]
    problems = _field_problems("results", doc, TOP_FIELDS)
    tests = doc.get("tests", [])
    if "score" not in doc and not all(isinstance(t, dict) and "score" in t for t in tests):
        problems.append("no top-level score and a test without one")
    for n, test in enumerate(tests):
        if not isinstance(test, dict):
            problems.append(f"tests[{n}] is not an object")
            continue
        problems += _field_problems(f"tests[{n}]", test, TEST_FIELDS)
        if not all(isinstance(tag, str) for tag in test.get("tags", [])):
            problems.append(f"tests[{n}].tags: not all strings")
    return problems


def _tests(doc: dict) -> dict[str, dict]:
    """Tests by "QUESTION item"."""
    return {t["name"].split(":")[0]: t for t in doc["tests"]}


# Export of a finished run ------------------------------------------------------------------------

def _write_report(rubric, out: Path, student: str, level: str, notes=()) -> None:
    found = {"H3P1": [Finding("dL_dw1", "fail", 0.0, "missing the factor df1(z1)"),
                      Finding("q3_explanation", "review", 0.5, "2 of 4 ideas")],
             "H3P2T1": [Finding("net1_accuracy", "fail", 0.5, "accuracy 0.7 on the hidden set")]}
    run_ = NotebookRun(Path("H3P1.ipynb"), "H3P1", "ok",
                       (CellFailure(3, "error", "NameError", "name 'q' is not defined", "NameError: ..."),), 1.5)
    sub = Submission(student, level, out, notebooks={"H3P1": (Path("H3P1.ipynb"),)})
    report.write_student(score_student(sub, rubric, found, {}, runs=[run_], notes=notes), out, "fp")


def test_the_export_writes_one_valid_results_json_per_student_with_one_test_per_item(tmp_path, rubric):
    for student, level in (("ann", "grad"), ("bo", "undergrad")):
        _write_report(rubric, tmp_path / "reports", student, level)
    assert main(["export", "gradescope", "--reports", str(tmp_path / "reports"), "--out", str(tmp_path / "gs")]) == 0
    for student in ("ann", "bo"):
        doc = json.loads((tmp_path / "gs" / student / "results.json").read_text())
        assert gradescope_problems(doc) == []
        assert len(doc["tests"]) == sum(len(q.items) for q in rubric.questions.values())
        report_json = json.loads((tmp_path / "reports" / student / "report.json").read_text())
        assert doc["score"] == report_json["total"]
    tests = _tests(json.loads((tmp_path / "gs" / "ann" / "results.json").read_text()))
    assert tests["Q1 dL_dw1"] | {"output": ""} == {
        "name": "Q1 dL_dw1: Backpropagation", "number": "1.1", "score": 0.0, "max_score": 1.25,
        "status": "failed", "output": "", "visibility": "visible", "tags": ["Q1"]}
    assert tests["Q1 dL_dw1"]["output"] == "missing the factor df1(z1)"
    assert tests["Q1 dL_dw2"]["status"] == "failed" and tests["Q1 dL_dw2"]["output"].startswith("not graded")
    assert "Provisional points" in tests["Q3 q3_explanation"]["output"]
    assert tests["H3P2T1 net1_accuracy"]["visibility"] == "after_published"
    assert "bonus" in tests["bonus_frameworks both_frameworks"]["tags"]


def test_a_student_folder_without_a_report_is_listed_not_dropped(tmp_path, rubric, capsys):
    _write_report(rubric, tmp_path / "reports", "ann", "grad")
    (tmp_path / "reports" / "cy").mkdir()
    assert main(["export", "gradescope", "--reports", str(tmp_path / "reports"), "--out", str(tmp_path / "gs")]) == 1
    assert "no complete report.json: cy" in capsys.readouterr().err
    assert (tmp_path / "gs" / "ann" / "results.json").exists() and not (tmp_path / "gs" / "cy").exists()


def test_the_summary_names_later_tests_but_never_their_points(tmp_path, rubric):
    note = "H3P2T1: scored a.ipynb, the better of a.ipynb (21.5), b.ipynb (9)"
    _write_report(rubric, tmp_path / "reports", "ann", "grad", notes=[note])
    main(["export", "gradescope", "--reports", str(tmp_path / "reports"), "--out", str(tmp_path / "gs")])
    output = json.loads((tmp_path / "gs" / "ann" / "results.json").read_text())["output"]
    assert "shown when grades are published: 4 test(s) worth 17 points" in output
    assert "21.5" not in output and "0.7" not in output
    assert "cell 4 failed: NameError" in output


def test_gradescope_visibility_keys_are_checked_against_the_rubric(tmp_path):
    data = yaml.safe_load((ROOT / "rubrics" / "hw3.yaml").read_text())
    data["gradescope"] = {"visibility": {"H3P2T1.net9_accuracy": "after_published"}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError, match="key gradescope: visibility key 'H3P2T1.net9_accuracy' is neither"):
        load_rubric(tmp_path / "r.yaml")
    data["gradescope"] = {"visibility": {"Q1": "later"}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError, match="key gradescope.visibility.Q1: Input should be 'visible'"):
        load_rubric(tmp_path / "r.yaml")


# The autograder zip ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    assert main(["gradescope-autograder", str(out), "--roster", str(ROOT / "submissions" / "roster.csv")]) == 0
    return out


def test_the_zip_holds_executable_scripts_the_grader_and_no_student_work(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        config = json.loads(archive.read("gradescope.json"))
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(modes[script]) == 0o755
    assert {"pyproject.toml", "environment/requirements.txt", "grader/gradescope.py", "grader/pipeline.py",
            "rubrics/hw3.yaml", "rubrics/hidden/H3P2T1_test.csv", "reference/data/H3P2T2_train.csv"} <= set(modes)
    assert not [n for n in modes if n.endswith((".ipynb", ".pyc")) or n.split("/")[0] in ("submissions", "reports", "tests")]
    assert [row["student"] for row in config["roster"]][:2] == ["alice", "bob"]


def test_a_zip_without_the_hidden_set_is_refused_with_the_fix(tmp_path, capsys):
    code = main(["gradescope-autograder", str(tmp_path / "ag.zip"), "--hidden", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "H3P2T1_test.csv: hidden test set not found" in err and "--hidden" in err
    assert not (tmp_path / "ag.zip").exists()


def test_setup_installs_the_pinned_cpu_torch_before_the_course_environment(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        setup = archive.read("setup.sh").decode()
    torch, course, grader = (setup.index(s) for s in ("install -q torch==2.13.0", "requirements.txt", "-e \"$SOURCE\""))
    assert torch < course < grader and "bubblewrap" in setup and "python3.11" in setup


def test_the_roster_gives_the_level_and_unknown_submitters_get_the_default(tmp_path):
    config = AutograderConfig(default_level="grad", roster=(RosterRow(student="carol", level="undergrad",
                                                                       email="carol@example.edu", name="Carol Chen"),))
    meta = tmp_path / "submission_metadata.json"
    for user in ({"email": "CAROL@example.edu", "name": "C"}, {"email": "c@other.org", "name": "carol  chen"}):
        meta.write_text(json.dumps({"users": [user]}))
        assert identify(meta, config)[:2] == ("carol", "undergrad")
    meta.write_text(json.dumps({"users": [{"email": "zed@example.edu", "name": "Zed"}]}))
    student, level, how = identify(meta, config)
    assert (student, level) == ("submission", "grad") and "not found in the course roster" in how
    assert identify(tmp_path / "absent.json", config)[1] == "grad"


# run_autograder in a simulated /autograder -------------------------------------------------------

def _layout(tmp_path: Path, autograder_zip: Path, notebook: Path | None = None, email: str = "") -> Path:
    """/autograder in tmp_path: source/ (the zip, with its file modes), submission/, metadata."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, root / "source"))
            path.chmod(stat.S_IMODE(info.external_attr >> 16))
    (root / "submission").mkdir()
    if notebook is not None:
        (root / "submission" / "H3P1.ipynb").write_bytes(notebook.read_bytes())
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": email, "name": "", "id": 1}]}))
    return root


def _run_autograder(root: Path, python: str = sys.executable) -> dict:
    env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_AUTOGRADER_PYTHON": python}
    subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True, timeout=600)
    return json.loads((root / "results" / "results.json").read_text())


def test_a_grader_that_cannot_start_still_leaves_a_valid_results_json(tmp_path, autograder_zip):
    doc = _run_autograder(_layout(tmp_path, autograder_zip), python=str(tmp_path / "no-python"))
    assert gradescope_problems(doc) == []
    assert doc["score"] == 0 and doc["visibility"] == "visible" and "could not be graded" in doc["output"]


def test_a_broken_zip_is_graded_as_not_graded_with_the_reason_for_the_instructor(tmp_path, autograder_zip):
    root = _layout(tmp_path, autograder_zip)
    (root / "source" / "rubrics" / "hw3.yaml").write_text("seed: [\n")
    run(Layout.from_env({"GRADER_AUTOGRADER_ROOT": str(root)}), log=lambda line: None)
    doc = json.loads((root / "results" / "results.json").read_text())
    assert gradescope_problems(doc) == [] and doc["score"] == 0
    assert "not set up right" in doc["output"] and "hw3.yaml: line 2, column 1: not valid YAML" in doc["extra_data"]["error"]


def _crashing_notebook(path: Path) -> Path:
    cells = [nbformat.v4.new_code_cell("import os\nos._exit(1)"), nbformat.v4.new_code_cell("dL_dw1 = 'x'")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


@pytest.mark.slow
def test_run_autograder_grades_a_good_a_flawed_and_a_crashing_part1_notebook(tmp_path, autograder_zip):
    cases = {"good": (ROOT / "reference" / "H3P1.ipynb", "bob@example.edu"),
             "flawed": (ROOT / "submissions" / "carol" / "H3P1.ipynb", "carol@example.edu"),
             "crash": (_crashing_notebook(tmp_path / "crash.ipynb"), "nobody@example.edu")}
    docs = {name: _run_autograder(_layout(tmp_path / name, autograder_zip, nb, email)) for name, (nb, email) in cases.items()}
    for doc in docs.values():
        assert gradescope_problems(doc) == [] and len(doc["tests"]) == 40
        assert all(t["status"] == ("passed" if t["score"] >= t["max_score"] else "failed") for t in doc["tests"])
    good, flawed, crash = (_tests(docs[n]) for n in ("good", "flawed", "crash"))
    assert docs["good"]["score"] == 50 and "graded as grad (the course roster lists bob" in docs["good"]["output"]
    assert all(t["status"] == "passed" for name, t in good.items() if name.startswith("Q"))
    assert docs["flawed"]["score"] == 42.5 and "graded as undergrad" in docs["flawed"]["output"]
    assert {n for n, t in flawed.items() if n.startswith("Q") and t["status"] == "failed"} == {"Q1 dL_dw1", "Q1 dL_db1"}
    assert "missing the factor df1(z1)" in flawed["Q1 dL_dw1"]["output"]
    assert docs["crash"]["score"] == 0 and "kernel died" in docs["crash"]["output"]
    assert all(t["output"] for t in crash.values()) and crash["Q2 graph_edges"]["status"] == "failed"
