"""HTML and JavaScript in what a student controls renders as text in every HTML page, and runs nothing.

The DOM is checked with the standard library's HTML tokenizer (what a browser's tokenizer sees:
elements and attributes); tests/report/test_browser.py checks a hostile page in Chromium too.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import write_notebook

from grader import report
from grader.model import CellFailure, Finding, HiddenSet, NotebookRun, RunInfo, Submission
from grader.report import html, runlog
from grader.overrides import Override
from grader.score import score_student

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
STYLE = "</style><style>body{display:none}</style>"
JS_URL = "javascript:alert(3)"
EVIL = f"{SCRIPT} {IMG} {STYLE} <a href=\"{JS_URL}\">x</a>"
STUDENT = "<img src=x onerror=alert(4)>"
"""A folder name can hold anything but a slash."""


class Dom(HTMLParser):
    """Elements and attributes of a page as a browser's tokenizer sees them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def dangers(self) -> list[str]:
        """Anything that could run or restyle the page: scripts, event handlers, javascript: URLs,
        a second style element, an image from somewhere."""
        found = [f"<{tag}>" for tag, _ in self.tags if tag in ("script", "iframe", "object", "embed", "base")]
        found += [f"{tag} {name}=" for tag, attrs in self.tags for name in attrs if name.startswith("on")]
        found += [f"{tag} {name}={value}" for tag, attrs in self.tags for name, value in attrs.items()
                  if name in ("href", "src") and (value or "").strip().lower().startswith(("javascript:", "http", "//"))]
        found += ["<style> x" + str(n) for n in [sum(1 for tag, _ in self.tags if tag == "style")] if n != 1]
        return found


def _hostile_result(rubric, student=STUDENT):
    counter = {"point": {"x<script>": 1.0}, "expected": 1.0, "given": SCRIPT}
    found = {"H3P1": [Finding("dL_dw1", "fail", 0.0, f"`dL_dw1` = {EVIL} is not an expression", counter),
                      Finding("q3_explanation", "review", 0.5, f"found: {EVIL}")],
             "H3P2T1": [Finding("net1_accuracy", "fail", 0.5, EVIL, None,
                                {"kind": "accuracy", "label": SCRIPT, "value": 0.7, "full": 0.88, "zero": 0.55})]}
    run = NotebookRun(Path(f"H3P1 {IMG}.ipynb"), "H3P1", "kernel_died",
                      (CellFailure(2, "error", f"Error{IMG}", EVIL, f"Traceback\n{EVIL}\n{STYLE}", hint=EVIL),),
                      2.0, reason=EVIL, sandbox=EVIL, notes=(EVIL,), rerun=EVIL, tampering=(EVIL,),
                      payload={"extra": {"part2": {"task": "H3P2T1", "nets": {"net1": {"present": True,
                                                                                      "framework": SCRIPT}}}}})
    sub = Submission(student, "grad", Path(student), notebooks={"H3P1": (run.path,)}, ignored=(EVIL,),
                     notes=(EVIL,), attention=(EVIL,))
    overrides = {student: {"Q1.dL_dw2": Override(points=1, comment=EVIL)}}
    return score_student(sub, rubric, found, {}, overrides, runs=[run])


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """A class of two hostile students written out, with the run log and the instructor page."""
    from grader.rubric import load_rubric

    rubric = load_rubric(Path(__file__).resolve().parents[2] / "rubrics" / "hw3.yaml")
    tmp_path = tmp_path_factory.mktemp("hostile-reports")
    results = []
    for student in (STUDENT, JS_URL):
        result = _hostile_result(rubric, student)
        report.write_student(result, tmp_path, "fp")
        results.append(result)
    report.write_predictions(tmp_path, STUDENT, "H3P2T2", [[1.0, 2.0], [3.0, 4.0]])
    info = RunInfo("1", "full", 1, (STUDENT, JS_URL), (), (), 1.0, tuple(r for x in results for r in runlog.records_of(x)))
    hidden = {"H3P2T2": HiddenSet("H3P2T2", np.zeros((2, 5)), np.array([[1.0, 2.0], [3.0, 4.0]]))}
    report.write_class(tmp_path, report.read_results(tmp_path, [STUDENT, JS_URL]), [EVIL], info, hidden)
    return tmp_path


def test_hostile_strings_in_a_student_page_are_shown_as_text(rubric):
    page = html.render_student(_hostile_result(rubric))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;/style&gt;&lt;style&gt;body{display:none}&lt;/style&gt;" in page


def test_no_script_or_event_handler_reaches_the_student_pages_dom(out):
    for student in (STUDENT, JS_URL):
        assert Dom((out / student / "report.html").read_text()).dangers() == []


def test_no_script_or_event_handler_reaches_the_dashboards_dom(out):
    assert Dom((out / "index.html").read_text()).dangers() == []


def test_no_script_or_event_handler_reaches_the_instructor_pages_dom(out):
    assert Dom((out / "instructor.html").read_text()).dangers() == []


def test_a_student_named_like_a_javascript_url_is_linked_as_a_relative_path(out):
    links = [attrs["href"] for tag, attrs in Dom((out / "index.html").read_text()).tags if tag == "a"]
    assert "./javascript%3Aalert%283%29/report.html" in links and "./%3Cimg%20src%3Dx%20onerror%3Dalert%284%29%3E/report.html" in links


@pytest.mark.slow
def test_a_notebook_with_html_in_its_answers_and_output_renders_it_as_text(tmp_path):
    from grader.cli import main

    subs = tmp_path / "class"
    write_notebook(subs / STUDENT, f"print({IMG!r})", f"dL_dw1 = {SCRIPT!r}", f"q3_explanation = {STYLE!r}",
                   f"raise ValueError({EVIL!r})")
    (subs / "roster.csv").write_text(f"student,level\n{STUDENT},grad\n")
    assert main(["run", str(subs), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    page = (tmp_path / "out" / STUDENT / "report.html").read_text()
    data = json.loads((tmp_path / "out" / STUDENT / "report.json").read_text())
    assert SCRIPT in json.dumps(data) and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert Dom(page).dangers() == [] and Dom((tmp_path / "out" / "index.html").read_text()).dangers() == []
