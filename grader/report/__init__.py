"""The only code that writes files: per-student report.md/report.json, grades.csv, summary.md,
and the grader's own tracebacks (grader-errors.log).

Each file is written atomically (temp file + rename), so a run killed at any moment leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import json as jsonlib  # plain `json` is our report/json.py submodule here
import os
import tempfile
from pathlib import Path

from ..model import StudentResult
from . import csv as csv_report
from . import json as json_report
from . import markdown, summary


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
    """report.md first, report.json last: report.json present and current means the student is done."""
    folder = out / result.student
    write_atomic(folder / "report.md", markdown.render(result))
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


def write_class(out: Path, results: list[dict], run_log: list[str]) -> None:
    write_atomic(out / "grades.csv", csv_report.render(results))
    write_atomic(out / "summary.md", summary.render(results, run_log))
