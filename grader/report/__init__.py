"""The only code that writes files: per-student report.md/report.html/report.json, grades.csv,
summary.md, the class dashboard (index.html), the instructor page with the stored predictions it
draws from, the run log (run.json, run.log) and the grader's own tracebacks (grader-errors.log).

Each file is written atomically (temp file + rename), so a run killed at any moment leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import json as jsonlib  # plain `json` is our report/json.py submodule here
import os
import tempfile
from pathlib import Path

from typing import Any

from ..model import HiddenSet, RunInfo, StudentResult
from . import csv as csv_report
from . import json as json_report
from . import markdown, runlog, summary

# html, dashboard and instructor (Jinja2, matplotlib: a second to import) are imported where a page
# is written, so a regrade of an unchanged class, which writes none, does not pay for them.


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_student(result: StudentResult, out: Path, fingerprint: str) -> None:
    """report.md and report.html first, report.json last: report.json present and current means the
    student is done."""
    from . import html

    folder = out / result.student
    write_atomic(folder / "report.md", markdown.render(result))
    write_atomic(folder / "report.html", html.render_student(result))
    write_atomic(folder / "report.json", jsonlib.dumps(json_report.to_dict(result, fingerprint), indent=2) + "\n")


def read_results(out: Path, students: list[str]) -> list[dict]:
    """The per-student report.json files of these students that exist (the gradebook's source)."""
    found = []
    for student in students:
        data = json_report.load(out / student / "report.json")
        if data is not None:
            found.append(data)
    return found


ERRORS_LOG = "grader-errors.log"


def write_errors(out: Path, traces: list[str]) -> None:
    """The grader's own tracebacks, for whoever maintains it (the terminal gets one line each);
    a run without any removes the last run's, so the file never speaks of a fixed failure."""
    if traces:
        write_atomic(out / ERRORS_LOG, "\n\n".join(traces) + "\n")
    else:
        (out / ERRORS_LOG).unlink(missing_ok=True)


def write_predictions(out: Path, student: str, task: str, predicted: Any) -> None:
    """A student's predictions on a task's hidden set (rows of [income, age]; numbers only) for the
    instructor page, in out/.instructor/<student>.json, never in the student's folder. None, or
    anything that is not an (N, 2) table of numbers, drops that task's stored predictions."""
    from . import instructor

    path = instructor.predictions_path(out, student)
    text = instructor.updated(path, student, task, predicted)
    if text is None:
        path.unlink(missing_ok=True)
    else:
        write_atomic(path, text)


def write_class(out: Path, results: list[dict], run_log: list[str], run_info: RunInfo | None = None,
                hidden: dict[str, HiddenSet] | None = None) -> None:
    """The class's files from the report.json dicts of the whole class. run_info: this run (None: no
    new run log, the dashboard reads the last one); hidden: the hidden sets, for the instructor page
    (without H3P2T2's, the last page stays as it is)."""
    from . import dashboard, instructor

    write_atomic(out / "grades.csv", csv_report.render(results))
    write_atomic(out / "summary.md", summary.render(results, run_log))
    students = [r["student"] for r in results]
    previous = runlog.load(out)
    records = runlog.merged_records(previous, run_info, students)
    run = (previous or {}).get("run")
    if run_info is not None:
        data = runlog.to_json(run_info, records, results)
        write_atomic(out / runlog.RUN_JSON, jsonlib.dumps(data, indent=2) + "\n")
        write_atomic(out / runlog.RUN_LOG, runlog.render_log(data))
        run = data["run"]
    if hidden and instructor.TASK in hidden:
        write_atomic(out / instructor.PAGE, instructor.render_instructor(out, students, hidden[instructor.TASK]))
    write_atomic(out / "index.html", dashboard.render_index(results, records, run, (out / instructor.PAGE).exists()))
