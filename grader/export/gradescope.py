"""report.json -> Gradescope's results.json: one test per rubric item (Gradescope's autograder
specification, gradescope-autograders.readthedocs.io/en/latest/specs/).

Used by `grader export gradescope` for a finished run and by the Gradescope autograder
(grader/gradescope.py) for its one submission. Nothing a test does not show is told elsewhere:
the summary names the tests students cannot see yet, never their outcome.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..report import write_atomic
from ..report.csv import fmt
from ..rubric import GradescopeSettings, Rubric
from . import read_reports

RESULTS = "results.json"
WHEN = {"hidden": "never shown to students", "after_due_date": "shown after the due date",
        "after_published": "shown when grades are published"}
# A note like "H3P2T1: scored a.ipynb, the better of a.ipynb (21.5), b.ipynb (9)" gives a task's points,
# hidden-set items included: it stays out of the summary while any of those items is not visible.
POINTS_NOTE = re.compile(r"the better of")


def results_json(report: dict, rubric: Rubric, seconds: float | None = None, preface: tuple[str, ...] = ()) -> dict:
    """One student's report.json -> the results.json document (preface: first lines of its summary)."""
    tests = tests_of(report, rubric)
    if seconds is None:
        seconds = sum(nb.get("seconds", 0.0) for nb in report.get("notebooks", []))
    return {
        "score": report["total"],
        "execution_time": round(seconds),
        "output": summary(report, tests, rubric, preface),
        "output_format": "text",
        "stdout_visibility": "hidden",  # the grader's log, for the instructor
        "extra_data": {"student": report["student"], "level": report["level"], "max_total": report["max_total"],
                       "needs_review": report["needs_review"], "attention": len(report.get("attention", [])),
                       "sandbox": sorted({nb.get("sandbox", "") for nb in report.get("notebooks", [])} - {""})},
        "tests": tests,
    }


def last_ditch(problem: str, detail: str = "") -> dict:
    """The results.json of a submission that could not be graded: score 0, said plainly, visible."""
    text = (f"This submission could not be graded: {problem}. This is not a verdict on your work: "
            "tell your instructor, who can see what went wrong and grade it again.")
    return {"score": 0.0, "output": text, "output_format": "text", "visibility": "visible",
            "stdout_visibility": "hidden", "extra_data": {"error": detail} if detail else {},
            "tests": [{"name": "The submission could not be graded", "status": "failed",
                       "output": f"Not graded: {problem}.", "visibility": "visible"}]}


def tests_of(report: dict, rubric: Rubric) -> list[dict]:
    """Every item of report.json as a Gradescope test, numbered "question.item" in the rubric's order."""
    settings = rubric.gradescope or GradescopeSettings()
    tests = []
    for q_number, question in enumerate(report["questions"], start=1):
        spec = rubric.questions.get(question["id"])
        title = f": {spec.title}" if spec else ""
        bonus = " (bonus)" if question["bonus"] else ""
        for i_number, item in enumerate(question["items"], start=1):
            passed = item["points"] >= item["max_points"] - 1e-9
            tags = [question["id"]] + (["bonus"] if question["bonus"] else []) + (["review"] if item["status"] == "review" else [])
            tests.append({
                "name": f"{question['id']} {item['id']}{title}{bonus}",
                "number": f"{q_number}.{i_number}",
                "score": item["points"],
                "max_score": item["max_points"],
                "status": "passed" if passed else "failed",
                "output": test_output(item, passed),
                "visibility": settings.visibility_of(question["id"], item["id"]),
                "tags": tags,
            })
    return tests


def test_output(item: dict, passed: bool) -> str:
    """What the student reads under a test: the instructor's word, then the checker's reason."""
    lines = []
    if item.get("override"):
        lines.append(item["override"][:1].upper() + item["override"][1:] + ".")
    if item["status"] == "review" and not item.get("override"):
        lines.append("Provisional points: an instructor will review this answer.")
    lines.append(item.get("message") or ("ok" if passed else "no points (no reason was recorded; ask the instructor)"))
    return "\n".join(lines)


def summary(report: dict, tests: list[dict], rubric: Rubric, preface: tuple[str, ...] = ()) -> str:
    """The text above the tests: what needs a look, what is provisional, which tests come later."""
    lines = list(preface)
    if report.get("attention"):
        lines += ["An instructor will look at this submission:"] + [f"- {a}" for a in report["attention"]]
    if report.get("needs_review"):
        lines.append("Some points are provisional (free-text answers): an instructor will review them.")
    later = [t for t in tests if t["visibility"] != "visible"]
    for when in WHEN:
        some = [t for t in later if t["visibility"] == when]
        if some:
            worth = sum(t["max_score"] for t in some)
            lines.append(f"Graded, but {WHEN[when]}: {len(some)} test(s) worth {fmt(worth)} points "
                         f"({', '.join(t['name'].split(':')[0] for t in some)}). Until then the tests you see "
                         "are not the whole grade, even when all of them pass.")
    withheld = {rubric.questions[t["tags"][0]].task for t in later if t["tags"][0] in rubric.questions}
    lines += [note for note in report.get("notes", [])
              if not (POINTS_NOTE.search(note) and note.split(":")[0] in withheld)]
    lines += _notebook_lines(report)
    if report.get("ignored"):
        lines.append("Not graded (not part of the submission contract): " + ", ".join(report["ignored"]))
    return "\n".join(lines)


def _notebook_lines(report: dict) -> list[str]:
    lines = []
    for nb in report.get("notebooks", []):
        reason = f": {nb['reason']}" if nb.get("reason") else ""
        lines.append(f"{nb['path']} ({nb['task']}): {nb['status'].replace('_', ' ')}{reason}")
        for failure in nb.get("failures", []):
            hint = f" {failure['hint']}" if failure.get("hint") else ""
            lines.append(f"  cell {failure['index'] + 1} failed: {failure['ename']}: {failure['evalue']}{hint}")
    return lines


@dataclass(frozen=True)
class Exported:
    written: tuple[str, ...]
    """Students whose OUT/<student>/results.json was written."""
    unreadable: tuple[str, ...]
    """Student folders in the reports without a complete report.json (not exported)."""


def export_reports(reports: Path, out: Path, rubric: Rubric) -> Exported:
    """reports/<student>/report.json -> OUT/<student>/results.json, for every student with a complete report."""
    found = read_reports(reports)
    for student, data in found.found.items():
        write_atomic(Path(out) / student / RESULTS, json.dumps(results_json(data, rubric), indent=2) + "\n")
    return Exported(tuple(found.found), found.unreadable)
