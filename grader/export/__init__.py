"""Exports of a finished run for an LMS or Gradescope. They read the reports, never the notebooks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError
from ..report import json as json_report


@dataclass(frozen=True)
class Reports:
    """What a reports folder holds: the students with a complete report.json, and the others."""

    found: dict[str, dict]
    """Student folder name -> its report.json, sorted by name."""
    unreadable: tuple[str, ...] = ()
    """Student folders without a complete report.json (listed by the exports, never dropped silently)."""


def read_reports(folder: Path) -> Reports:
    """reports/ (one folder per student) -> Reports; a missing folder or one without any report is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SettingsError(folder, "", "no reports folder", "run grader run first, or pass --reports with its --out folder")
    found: dict[str, dict] = {}
    unreadable: list[str] = []
    for entry in sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")):
        data = json_report.load(entry / "report.json")
        if data is None:
            unreadable.append(entry.name)
        else:
            found[entry.name] = data
    if not found:
        raise SettingsError(folder, "", "holds no student's report.json",
                            "pass --reports with the folder grader run wrote (its --out)")
    return Reports(found, tuple(unreadable))


def grader_failed(report: dict) -> bool:
    """The grader failed on this student: its points are not a grade (a failed result is written
    without a fingerprint, and says so on the attention list)."""
    return not report.get("fingerprint") or any(str(a).startswith("grader error") for a in report.get("attention", []))
