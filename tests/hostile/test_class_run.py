"""Hostile students in a class: the run finishes, the others get exactly their solo scores, and a
run killed with SIGKILL finishes on restart without losing or changing a result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = nbformat.read(ROOT / "reference" / "H3P1.ipynb", as_version=4)
HOSTILE_FIRST_CELL = {
    "looper": "while True:\n    pass",  # interrupted at the cell limit; the answers after it still count
    "bomb": "hog = []\nwhile True:\n    hog.append(b'x' * (256 * 2**20))",
    # In its own pid namespace the kernel sees no grader to kill: it survives its own attack.
    "killer": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)",
    "exiter": "import os\nos._exit(0)",
    "faker": "print('{\"score\": 100, \"total\": 100}')",
}


def _class(root: Path, students: dict[str, str | None]) -> Path:
    """Each student hands in the reference H3P1, after a first cell of their own (None: no extra cell)."""
    root.mkdir(parents=True)
    (root / "roster.csv").write_text("student,level\n" + "".join(f"{s},grad\n" for s in students))
    for student, first in students.items():
        nb = nbformat.v4.new_notebook(cells=list(REFERENCE.cells))
        if first:
            nb.cells.insert(0, nbformat.v4.new_code_cell(first))
        (root / student).mkdir()
        nbformat.write(nb, root / student / "H3P1.ipynb")
    return root


def _args(subs: Path, out: Path, *more: str) -> list[str]:
    return ["run", str(subs), "--rubric", str(ROOT / "rubrics" / "hw3.yaml"), "--out", str(out),
            "--cell-timeout", "4", "--timeout", "30", "--memory-gib", "1", *more]


def _points(out: Path, student: str) -> dict:
    data = json.loads((out / student / "report.json").read_text())
    return {(q["id"], i["id"]): i["points"] for q in data["questions"] for i in q["items"]}


def test_hostile_classmates_change_nothing_for_the_others(tmp_path):
    subs = _class(tmp_path / "class", {"good": None, **HOSTILE_FIRST_CELL})
    started = time.monotonic()
    assert main(_args(subs, tmp_path / "out")) == 0
    took = time.monotonic() - started
    solo = _class(tmp_path / "solo", {"good": None})
    assert main(_args(solo, tmp_path / "solo-out")) == 0
    assert _points(tmp_path / "out", "good") == _points(tmp_path / "solo-out", "good")
    assert sum(_points(tmp_path / "out", "good").values()) == 50  # Part 1, graduate: full marks

    # The loop is interrupted and the rest of the notebook is graded: full marks too.
    assert _points(tmp_path / "out", "looper") == _points(tmp_path / "out", "good")
    looper = (tmp_path / "out" / "looper" / "report.md").read_text()
    assert "cell 1 failed (timeout)" in looper
    # The fake score is just printed text: the faker gets the grade of the answers they defined.
    assert _points(tmp_path / "out", "faker") == _points(tmp_path / "out", "good")
    assert _points(tmp_path / "out", "killer") == _points(tmp_path / "out", "good")
    for student, words in (("bomb", "memory limit"), ("exiter", "kernel died")):
        # The notebook is run again without the killing cell 1: the rest is the reference solution.
        report = json.loads((tmp_path / "out" / student / "report.json").read_text())
        assert _points(tmp_path / "out", student) == _points(tmp_path / "out", "good")
        assert words in report["notebooks"][0]["reason"]
        assert report["notebooks"][0]["rerun"].endswith(
            "in cell 1; the notebook was run again without cell 1 and its answers were graded")
    assert took < 30 + 60  # one notebook limit + the normal time of the rest, with room for a slow machine


def test_sigkill_mid_run_then_rerun_loses_nothing(tmp_path):
    students = {f"s{i}": None for i in range(5)}
    subs = _class(tmp_path / "class", students)
    assert main(_args(subs, tmp_path / "clean")) == 0
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grader.cli", *_args(subs, out)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.glob("*/report.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name for p in out.glob("*/report.json")}
    assert 1 <= len(done_before) < len(students)

    assert main(_args(subs, out)) == 0
    assert {p.parent.name for p in out.glob("*/report.json")} == set(students)
    assert (out / "grades.csv").read_bytes() == (tmp_path / "clean" / "grades.csv").read_bytes()
    assert not list(out.rglob(".report.json.*"))  # no half-written file left behind


def test_notebook_holding_the_wrong_task_is_named_in_the_report(tmp_path):
    subs = tmp_path / "class"
    (subs / "amy").mkdir(parents=True)
    (subs / "roster.csv").write_text("student,level\namy,grad\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def preprocess(X):\n    return X")])
    nbformat.write(nb, subs / "amy" / "H3P1.ipynb")
    assert main(_args(subs, tmp_path / "out")) == 0
    report = json.loads((tmp_path / "out" / "amy" / "report.json").read_text())
    assert any("is it the notebook of another task" in note for note in report["notes"])
    assert report["total"] == 0
