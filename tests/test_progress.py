"""Progress: a bar with ETA on a terminal, a line per student elsewhere, nothing with --quiet."""

import io
import json

from grader.progress import WEIGHTS, Progress
from tests.helpers import empty_class


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(progress: Progress) -> None:
    progress.start(["H3P1", "H3P2T1", "H3P2T2", "H3P1"])
    for task in ("H3P1", "H3P2T1", "H3P2T2"):
        progress.notebook_done(task)
    progress.student_done("ann: 90/100 (20.0 s)")
    progress.notebook_done("H3P1")
    progress.student_done("bo: 35/100 (1.0 s)")
    progress.close()


def test_without_a_terminal_there_is_one_line_per_student_and_no_bar():
    stream = io.StringIO()
    _run(Progress(stream=stream))
    assert stream.getvalue() == "ann: 90/100 (20.0 s)\nbo: 35/100 (1.0 s)\n"


def test_on_a_terminal_a_bar_shows_the_notebooks_done_and_an_eta():
    stream = Terminal()
    _run(Progress(stream=stream))
    text = stream.getvalue()
    assert "4/4 notebooks" in text and "ETA" in text and "100%|" in text and "ann: 90/100 (20.0 s)\n" in text


def test_a_part2_notebook_moves_the_bar_by_its_weight():
    progress = Progress(stream=Terminal())
    progress.start(["H3P1", "H3P2T1"])
    progress.notebook_done("H3P1")
    share = progress.bar.n / progress.bar.total
    progress.close()
    assert WEIGHTS["H3P2T1"] == 8 * WEIGHTS["H3P1"] and share == 1 / 9


def test_quiet_shows_nothing_but_warnings():
    stream = Terminal()
    progress = Progress(quiet=True, stream=stream)
    _run(progress)
    progress.message("WARNING: sandbox: reduced", important=True)
    assert stream.getvalue() == "WARNING: sandbox: reduced\n"


def test_a_class_run_off_a_terminal_prints_one_line_per_student(tmp_path, capsys):
    from grader.cli import main

    assert main(["run", str(empty_class(tmp_path, "ann", "bo")), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines if not line.startswith("WARNING")] == ["ann", "bo"]


def test_a_quiet_class_run_prints_no_progress_and_still_writes_the_dashboard_and_run_log(tmp_path, capsys):
    from grader.cli import main

    out = tmp_path / "out"
    assert main(["run", str(empty_class(tmp_path, "ann")), "--out", str(out), "--quiet"]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if not line.startswith("WARNING")] == []
    assert (out / "index.html").exists() and json.loads((out / "run.json").read_text())["run"]["graded"] == ["ann"]
