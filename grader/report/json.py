"""StudentResult <-> report.json (the machine-readable report, also the resume record)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..model import StudentResult

SCHEMA = 1


def to_dict(result: StudentResult, fingerprint: str) -> dict:
    return {
        "schema": SCHEMA,
        "student": result.student,
        "level": result.level,
        "total": result.total,
        "max_total": result.max_total,
        "needs_review": result.needs_review,
        "attention": list(result.attention),
        "questions": [
            {"id": q.id, "points": q.points, "max_points": q.max_points, "bonus": q.bonus,
             "items": [{"id": i.item, "points": i.points, "max_points": i.max_points, "status": i.status,
                        "message": i.message, **({"override": i.override} if i.override else {}),
                        **({"counterexample": i.counterexample} if i.counterexample else {}),
                        **({"chart": i.chart} if i.chart else {})}
                       for i in q.items]}
            for q in result.questions
        ],
        "notebooks": [
            {"path": run.path.name, "task": run.task, "status": run.status, "reason": run.reason,
             "seconds": run.seconds, "sandbox": run.sandbox, "notes": list(run.notes),
             "rerun": run.rerun, "tampering": list(run.tampering),
             "failures": [asdict(f) for f in run.failures]}
            for run in result.runs
        ],
        "ignored": list(result.ignored),
        "notes": list(result.notes),
        "fingerprint": fingerprint,
    }


def load(path: Path) -> dict | None:
    """A complete report.json, or None (absent, unreadable or from another schema)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None
