"""grades.csv: one row per student, rebuilt from the per-student report.json files."""

from __future__ import annotations

import csv
import io

from ..model import QUESTION_IDS

COLUMNS = ("student", "level", *QUESTION_IDS, "total", "needs_review", "attention")
"""attention: how many things an instructor must look at (summary.md and report.json say which)."""


def fmt(points: float) -> str:
    """Points are rounded once, in score.rounded; this only prints them the same way everywhere."""
    return f"{points:g}"


def render(results: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for data in sorted(results, key=lambda d: d["student"]):
        by_id = {q["id"]: q["points"] for q in data["questions"]}
        writer.writerow([data["student"], data["level"], *(fmt(by_id.get(q, 0.0)) for q in QUESTION_IDS),
                         fmt(data["total"]), "yes" if data["needs_review"] else "no", len(data.get("attention", []))])
    return buffer.getvalue()
