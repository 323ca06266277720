"""The CLI in-process: exit codes and one-line messages, never a traceback."""

from grader.cli import main


def test_validate_rubric_ok(capsys, rubric_path):
    assert main(["validate-rubric", str(rubric_path)]) == 0
    assert "grad: max 100" in capsys.readouterr().out


def test_broken_rubric_is_one_line_with_exit_1(tmp_path, capsys):
    bad = tmp_path / "r.yaml"
    bad.write_text("seed: [\n")
    assert main(["validate-rubric", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "r.yaml: line" in err and "Traceback" not in err


def test_missing_roster_stops_the_run_with_the_fix(tmp_path, capsys, rubric_path):
    (tmp_path / "ann").mkdir()
    assert main(["run", str(tmp_path), "--rubric", str(rubric_path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "roster.csv: no roster found" in err and "--default-level" in err


def test_unreadable_folder_is_a_usage_error(tmp_path, capsys, rubric_path):
    code = main(["run", str(tmp_path / "nope"), "--rubric", str(rubric_path)])
    assert code == 2 and "is not a folder" in capsys.readouterr().err


def test_bad_flag_is_a_usage_error(capsys):
    assert main(["run", "x", "--jobs", "0"]) == 2
    assert "Traceback" not in capsys.readouterr().err
