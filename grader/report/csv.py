"""grades.csv: one row per student, rebuilt from the per-student report.json files."""

from __future__ import annotations

import csv
import io

from ..model import QUESTION_IDS

COLUMNS = ("student", "level", *QUESTION_IDS, "total", "needs_review")


def fmt(points: float) -> str:
    """Fixed formatting so that the same grades give byte-identical files."""
    return f"{round(points, 2):g}"


def render(results: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for data in sorted(results, key=lambda d: d["student"]):
        by_id = {q["id"]: q["points"] for q in data["questions"]}
        writer.writerow([data["student"], data["level"], *(fmt(by_id.get(q, 0.0)) for q in QUESTION_IDS),
                         fmt(data["total"]), "yes" if data["needs_review"] else "no"])
    return buffer.getvalue()
