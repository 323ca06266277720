"""The handout: what students receive, and the scan that shows it holds no solution.

Rule for "a line of a reference solution" (see grader/handout.py): a stripped line of a reference
code cell that no blank template holds, at least 20 characters long or a one-line assignment.
"""

import json
import shutil
from pathlib import Path

import pytest

from grader import handout
from grader.cli import main
from grader.errors import GraderError
from tests.conftest import ROOT

REFERENCE = ROOT / "reference"
HIDDEN = ROOT / "rubrics" / "hidden"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return handout.build_handout(tmp_path_factory.mktemp("h") / "handout", REFERENCE, REFERENCE / "data")


@pytest.fixture(scope="module")
def secrets():
    from grader.rubric import load_rubric

    return handout.gather_secrets(REFERENCE, HIDDEN, load_rubric(ROOT / "rubrics" / "hw3.yaml"))


def _collapsed_text(folder: Path) -> str:
    """Every file of the folder as text, notebooks as their cells' sources, whitespace collapsed."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells)
        elif path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            continue
        parts += [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(parts)


def _planted(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "planted"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_the_handout_holds_no_solution_line_hidden_row_keyword_list_or_bar(built, secrets):
    assert [leak.describe() for leak in handout.scan_handout(built.folder, secrets)] == []


def test_no_reference_line_or_hidden_row_is_anywhere_in_the_handout(built, secrets):
    # Independent of the scanner's own matching: plain substring search over all the handout's text.
    text = _collapsed_text(built.folder)
    assert [line for line in secrets.solution_lines if line in text] == []
    rows = [row for path in HIDDEN.glob("*.csv") for row in path.read_text().splitlines()[1:] if row.strip()]
    assert len(rows) == 2000 and [row for row in rows if row in text] == []


def test_the_scan_looks_for_the_answers_the_hidden_rows_the_keywords_and_the_bars(secrets):
    # Guards the two tests above against a scan that looks for nothing.
    assert 'dL_dw1 = "dL_dy_hat * df3(z3) * w3 * df1(z1) * x"' in secrets.solution_lines
    assert "q5_4_answer = False" in secrets.solution_lines and "dy_dz = 0" in secrets.solution_lines
    assert "import numpy as np" not in secrets.solution_lines  # a template has it too
    assert len(secrets.hidden_numbers) == 2000 and len(secrets.keyword_groups) >= 8
    assert {(full, zero) for _, full, zero in secrets.bars} == {(0.88, 0.55), (400, 2500), (4, 25)}


def test_handout_holds_the_templates_under_the_contract_names_data_and_environment(built):
    folder = built.folder
    assert sorted(built.files) == sorted(["README.md", "assignment.md", "CONTRACT.md", "H3P1.ipynb", "H3P2T1.ipynb",
                                          "H3P2T2.ipynb", "requirements.txt", "data/H3P2T1_train.csv",
                                          "data/H3P2T2_train.csv"])
    assert (folder / "H3P2T1.ipynb").read_bytes() == (REFERENCE / "H3P2T1_template.ipynb").read_bytes()
    assert (folder / "data" / "H3P2T2_train.csv").read_bytes() == (REFERENCE / "data" / "H3P2T2_train.csv").read_bytes()
    assert (folder / "requirements.txt").read_bytes() == (ROOT / "environment" / "requirements.txt").read_bytes()
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == sorted(Path(f).name for f in built.files)


def test_the_students_contract_leaves_out_the_expected_answers_and_keeps_the_names(built):
    contract = (built.folder / "CONTRACT.md").read_text()
    for answer in ("x→h, x→z, h→y", "one unit, sigmoid", "The expected answer is No", "such as a plain sigmoid",
                   "Min-max scaling, division", "not in handout"):
        assert answer not in contract
    assert "`graph_edges`" in contract and "`q5_4_answer` (bool" in contract and "## 5. The grading environment" in contract


def test_an_unclosed_not_in_handout_passage_is_an_error():
    with pytest.raises(GraderError, match="not closed"):
        handout.student_contract("a <!-- not in handout --> secret\n")


def test_the_readme_says_how_to_install_and_run_grader_check(built):
    text = handout.readme("git+https://example.edu/hw3-grader.git")
    assert "pip install git+https://example.edu/hw3-grader.git" in text and "pip install -r requirements.txt" in text
    assert "grader check H3P1.ipynb" in (built.folder / "README.md").read_text()


def test_a_folder_that_is_not_empty_is_refused_without_force(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["handout", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "the folder is not empty" in err and "--force" in err and "Traceback" not in err
    assert not (tmp_path / "README.md").exists()


def test_force_writes_the_handout_and_names_what_else_is_there(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["handout", str(tmp_path), "--force"]) == 0
    captured = capsys.readouterr()
    assert "notes.txt was there already and is not part of the handout" in captured.err
    assert (tmp_path / "H3P1.ipynb").is_file() and "no solution line" in captured.out


def test_the_command_fails_when_a_solution_is_left_in_the_folder(tmp_path, capsys):
    shutil.copyfile(REFERENCE / "H3P2T2_torch.ipynb", tmp_path / "H3P2T2_torch.ipynb")
    assert main(["handout", str(tmp_path), "--force"]) == 1
    err = capsys.readouterr().err
    assert "H3P2T2_torch.ipynb cell" in err and "solution line" in err and "do not hand it out" in err


def test_a_solution_line_in_prose_is_named_with_its_source(tmp_path, secrets):
    folder = _planted(tmp_path, "hints.md", 'Hint: `dL_dw3 = "dL_dy_hat * df3(z3) * h1"`\n')
    leaks = handout.scan_handout(folder, secrets)
    assert [(leak.file, leak.where, leak.kind) for leak in leaks] == [("hints.md", "line 1", "solution line")]
    assert "H3P1.ipynb cell" in leaks[0].detail


def test_a_solution_saved_as_a_template_is_found(tmp_path, secrets):
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE, reference, ignore=shutil.ignore_patterns("*.py"))
    shutil.copyfile(REFERENCE / "H3P2T1_torch.ipynb", reference / "H3P2T1_template.ipynb")
    built = handout.build_handout(tmp_path / "out", reference, REFERENCE / "data")
    found = handout.gather_secrets(reference, HIDDEN, _rubric())
    leaks = [leak for leak in handout.scan_handout(built.folder, found) if leak.file == "H3P2T1.ipynb"]
    assert len(leaks) > 20 and {leak.kind for leak in leaks} == {"solution line"}


def test_an_answer_filled_in_a_template_is_found(tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE, reference, ignore=shutil.ignore_patterns("*.py"))
    nb = json.loads((reference / "H3P1_template.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                        "source": ["net2_output_activation = \"softmax\"\n"]})
    (reference / "H3P1_template.ipynb").write_text(json.dumps(nb))
    built = handout.build_handout(tmp_path / "out", reference, REFERENCE / "data")
    leaks = handout.scan_handout(built.folder, handout.gather_secrets(reference, HIDDEN, _rubric()))
    assert [(leak.file, leak.kind) for leak in leaks] == [("H3P1.ipynb", "solution line")]


def test_a_hidden_row_is_found_as_csv_text_and_as_its_numbers(tmp_path, secrets):
    row = (HIDDEN / "H3P2T1_test.csv").read_text().splitlines()[5]
    numbers = ", ".join(f"{float(v):.5g}" for v in row.split(",")[:5])  # reformatted, label dropped
    folder = _planted(tmp_path, "extra.csv", f"x1,x2,x3,x4,x5,label\n{row}\n")
    _planted(tmp_path, "notes.txt", f"X_test = np.array([[{numbers}]])\n")
    found = sorted((leak.file, leak.where, leak.detail) for leak in handout.scan_handout(folder, secrets))
    assert found == [("extra.csv", "line 2", "H3P2T1_test.csv row 5"),
                     ("extra.csv", "line 2", "the numbers of H3P2T1_test.csv row 5"),
                     ("notes.txt", "line 1", "the numbers of H3P2T1_test.csv row 5")]


def test_a_keyword_list_is_found_also_as_a_yaml_block(tmp_path, secrets):
    folder = _planted(tmp_path, "rubric.yaml", "q4:\n  - - scale\n    - range\n    - magnitude\n    - larger\n    - dominate\n")
    leaks = handout.scan_handout(folder, secrets)
    assert [(leak.kind, leak.where) for leak in leaks] == [("keyword list", "line 2")]
    assert "q4_explanation" in leaks[0].detail


def test_a_bar_is_found_when_both_its_values_are_on_one_line(tmp_path, secrets):
    folder = _planted(tmp_path, "notes.md", "Full marks for accuracy 0.88 and above, none at 0.55.\n0.88 alone is fine.\n")
    assert [(leak.kind, leak.where) for leak in handout.scan_handout(folder, secrets)] == [("bar", "line 1")]


def _rubric():
    from grader.rubric import load_rubric

    return load_rubric(ROOT / "rubrics" / "hw3.yaml")


def test_the_project_folder_is_refused_even_with_force(capsys):
    assert main(["handout", str(ROOT), "--force"]) == 2
    assert "is a folder the handout is made from" in capsys.readouterr().err
