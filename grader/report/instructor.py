"""instructor.html: H3P2T2 predicted vs true on the hidden set, per output, for the class.

Students' predictions are stored, numbers only, in reports/.instructor/<student>.json (never in a
student's own folder). The hidden labels are not stored anywhere: they are passed in when the page
is drawn and appear only inside its PNG images (not as numbers in the page's text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..model import HiddenSet
from . import plots
from .html import ENV

FOLDER = ".instructor"
PAGE = "instructor.html"
TASK = "H3P2T2"
OUTPUTS = ("income", "age")
SCHEMA = 1


def predictions_path(out: Path, student: str) -> Path:
    if not student or "/" in student or "\\" in student or student.startswith("."):
        raise ValueError(f"not a student id usable as a file name: {student!r}")
    return out / FOLDER / f"{student}.json"


def clean_rows(predicted: Any) -> list[list[float | None]] | None:
    """Predictions -> rows of two numbers (None for a non-finite one), or None when they are not
    an (N, 2) table of numbers."""
    if predicted is None:
        return None
    try:
        table = np.asarray(predicted, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if table.ndim != 2 or table.shape[1] != len(OUTPUTS) or table.shape[0] == 0:
        return None
    return [[float(v) if np.isfinite(v) else None for v in row] for row in table]


def load_predictions(path: Path) -> dict[str, list]:
    """task -> rows from one student's file ({} when absent or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("predictions"), dict):
        return {}
    return {task: rows for task, rows in data["predictions"].items() if isinstance(rows, list)}


def updated(path: Path, student: str, task: str, predicted: Any) -> str | None:
    """The file's new text with this task's predictions set (or dropped when there are none usable);
    None when no task is left (the file goes)."""
    data = load_predictions(path)
    rows = clean_rows(predicted)
    if rows is None:
        data.pop(task, None)
    else:
        data[task] = rows
    if not data:
        return None
    return json.dumps({"schema": SCHEMA, "student": student, "predictions": data}, separators=(",", ":")) + "\n"


def _series(out: Path, students: list[str], hidden: HiddenSet) -> tuple[list, list[dict]]:
    """Per student with usable predictions: (student, predicted (N, 2)); plus a table row for everyone."""
    truth = np.asarray(hidden.y, dtype=np.float64)
    found, rows = [], []
    for student in sorted(students):
        try:
            raw = load_predictions(predictions_path(out, student)).get(TASK)
        except ValueError:  # a roster id no file may be named after has no stored predictions
            continue
        if raw is None:
            continue
        table = np.array([[np.nan if v is None else v for v in row] for row in raw], dtype=np.float64) \
            if all(isinstance(row, list) and len(row) == 2 for row in raw) else None
        if table is None or table.shape != truth.shape:
            rows.append({"student": student, "rows": len(raw), "mae": None,
                         "problem": f"{len(raw)} prediction rows for {truth.shape[0]} hidden rows"})
            continue
        found.append((student, table))
        rows.append({"student": student, "rows": len(raw), "problem": "",
                     "mae": [float(np.nanmean(np.abs(table[:, k] - truth[:, k]))) for k in range(len(OUTPUTS))],
                     "nonfinite": int(np.sum(~np.isfinite(table)))})
    return found, rows


def render_instructor(out: Path, students: list[str], hidden: HiddenSet) -> str:
    """The instructor page from the stored predictions and the hidden labels given now."""
    truth = np.asarray(hidden.y, dtype=np.float64)
    found, rows = _series(out, students, hidden)
    figures = []
    for k, output in enumerate(OUTPUTS):
        low, high = float(np.min(truth[:, k])), float(np.max(truth[:, k]))
        pad = 0.05 * (high - low or 1.0)
        uri = plots.predicted_vs_true([(s, t[:, k], truth[:, k]) for s, t in found], output, (low - pad, high + pad))
        if uri:
            figures.append({"output": output, "uri": uri})
    return ENV.get_template("instructor.html.j2").render(task=TASK, figures=figures, rows=rows, outputs=OUTPUTS,
                                                         hidden_rows=int(truth.shape[0]))
