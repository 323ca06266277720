"""A finished run -> a CSV for Canvas's gradebook import (`grader export canvas`).

Canvas's importer reads a header whose first columns are those of its own export (`Student, ID,
SIS User ID, SIS Login ID, Section`), an optional `    Points Possible` row, then one row per
student, found by ID (Canvas's user id), SIS ids or name. An assignment column named `Title (ID)`,
as Canvas exports it, updates that assignment; any other name creates a new one. So the student
columns are copied from the course's own gradebook export (`--roster`), and one column is added.

Matching: a graded student (the report's id) is the Canvas row whose SIS Login ID is the
`sis_login` of the student's row in roster.csv when that column is there and filled, else the
student id or the roster's email (compared without case). Graded students who match no row (or
several) are listed and make the exit code 1; Canvas students without a report keep an empty cell
(Canvas leaves their grade as it is) and are listed as a warning.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError
from . import grader_failed

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
REQUIRED = ("Student", "ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"
"""Canvas writes the row's label with four leading spaces; its importer looks for 'Points Possible'."""
_WITH_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)$")


@dataclass(frozen=True)
class CanvasStudent:
    """One student row of a Canvas gradebook export: the five columns the import needs."""

    cells: tuple[str, str, str, str, str]
    """Student, ID, SIS User ID, SIS Login ID, Section."""

    @property
    def login(self) -> str:
        return self.cells[3]


@dataclass(frozen=True)
class Gradebook:
    """What `grader export canvas` needs from a Canvas gradebook export."""

    students: tuple[CanvasStudent, ...]
    columns: tuple[str, ...]
    """The export's other columns (assignments, totals), as headed."""
    points: dict[str, str]
    """Column -> its 'Points Possible' cell."""


@dataclass(frozen=True)
class CanvasExport:
    """The CSV's text and who could not be put in it."""

    text: str
    column: str
    exported: int
    unmatched: tuple[str, ...] = ()
    """Graded students with no (or several) Canvas rows: their grade is not in the file."""
    failed: tuple[str, ...] = ()
    """Students the grader failed on: their cell is left empty."""
    without_report: tuple[str, ...] = ()
    """Canvas students with no report: their cell is left empty."""
    provisional: tuple[str, ...] = ()
    """Exported students whose points are provisional (review items) or need the instructor's attention."""
    new_assignment: bool = False
    """The column names no assignment of the export: Canvas will create one."""


def read_gradebook(path: Path) -> Gradebook:
    """A Canvas gradebook export (Grades > Export) -> its students and columns."""
    try:
        rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SettingsError(path, "", f"cannot be read as a CSV ({exc})", "export the gradebook from Canvas again")
    header = [cell.strip() for cell in rows[0]] if rows else []
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise SettingsError(path, "line 1", f"no column {', '.join(missing)}",
                            "pass the CSV Canvas exports (Grades > Export > Export Entire Gradebook)")
    at = {name: header.index(name) for name in CANVAS_COLUMNS if name in header}
    others = tuple(h for h in header[max(at.values()) + 1:])
    students, points = [], {}
    for row in rows[1:]:
        row = row + [""] * (len(header) - len(row))
        if "Points Possible" in row[at["Student"]]:
            points = dict(zip(header, row))
        elif row[at["ID"]].strip():  # rows without an ID are Canvas's "muted"/"manual posting" notes
            students.append(CanvasStudent(tuple(row[at[c]].strip() if c in at else "" for c in CANVAS_COLUMNS)))
    return Gradebook(tuple(students), others, {c: points.get(c, "").strip() for c in others})


def read_logins(roster: Path | None) -> dict[str, tuple[str, ...]]:
    """student -> the SIS logins that may be theirs, from roster.csv (sis_login, else id and email)."""
    if roster is None or not Path(roster).is_file():
        return {}
    try:
        reader = csv.DictReader(io.StringIO(Path(roster).read_text(encoding="utf-8-sig")))
        rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SettingsError(roster, "", f"cannot be read ({exc})", "save it as UTF-8 CSV")
    logins = {}
    for row in rows:
        if row.get("student"):
            login = row.get("sis_login", "")
            logins[row["student"]] = (login,) if login else tuple(v for v in (row["student"], row.get("email", "")) if v)
    return logins


def assignment_column(gradebook: Gradebook, name: str, path: Path) -> tuple[str, bool]:
    """(the column to write, whether Canvas will create a new assignment for it)."""
    exact = [c for c in gradebook.columns if c == name]
    titled = [c for c in gradebook.columns if (m := _WITH_ID.match(c)) and m["title"] == name]
    matches = exact or titled
    if len(matches) > 1:
        raise SettingsError(path, "line 1", f"several columns are named {name}: {', '.join(matches)}",
                            "pass --assignment with the whole column name, e.g. 'HW3 (12345)'")
    return (matches[0], False) if matches else (name, True)


def match_students(reports: list[dict], gradebook: Gradebook, logins: dict[str, tuple[str, ...]],
                   path: Path) -> tuple[dict[int, dict], list[str]]:
    """(Canvas row index -> report, graded students matching no row or several)."""
    by_login: dict[str, list[int]] = {}
    for i, student in enumerate(gradebook.students):
        if student.login:
            by_login.setdefault(student.login.casefold(), []).append(i)
    matched: dict[int, dict] = {}
    unmatched = []
    for report in reports:
        sid = report["student"]
        rows = sorted({i for login in logins.get(sid, (sid,)) for i in by_login.get(login.casefold(), [])})
        if len(rows) != 1:
            unmatched.append(f"{sid} ({'no' if not rows else 'several'} Canvas student(s) with SIS Login ID "
                             f"{' or '.join(logins.get(sid, (sid,)))})")
            continue
        if rows[0] in matched:
            other = matched[rows[0]]["student"]
            raise SettingsError(path, "", f"{sid} and {other} both match the Canvas student "
                                f"{gradebook.students[rows[0]].cells[0]} ({gradebook.students[rows[0]].login})",
                                "give them their own sis_login in roster.csv")
        matched[rows[0]] = report
    return matched, unmatched


def _points(value: float) -> str:
    """Points as Canvas shows them: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _points_possible(reports: list[dict], gradebook: Gradebook, column: str, path: Path) -> float:
    maxima = sorted({float(r["max_total"]) for r in reports})
    if len(maxima) > 1:
        raise SettingsError("--reports", "", f"the reports are out of different maxima ({', '.join(map(_points, maxima))})",
                            "Canvas has one points possible per assignment: grade every level out of the same total")
    canvas = gradebook.points.get(column, "")
    try:
        differs = canvas != "" and float(canvas) != maxima[0]
    except ValueError:
        differs = False
    if differs:
        raise SettingsError(path, f"column {column}", f"Canvas has it out of {canvas} points, the grades are out of "
                            f"{_points(maxima[0])}", f"set the assignment's points to {_points(maxima[0])} in Canvas "
                            "(bonus points go above it) and export the gradebook again")
    return maxima[0]


def export_canvas(reports: list[dict], gradebook_path: Path, roster: Path | None = None,
                  assignment: str = "HW3") -> CanvasExport:
    """Reports (report.json dicts) + a Canvas gradebook export -> the CSV for Canvas's import."""
    gradebook = read_gradebook(gradebook_path)
    column, new = assignment_column(gradebook, assignment, gradebook_path)
    possible = _points_possible(reports, gradebook, column, gradebook_path)
    matched, unmatched = match_students(reports, gradebook, read_logins(roster), gradebook_path)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CANVAS_COLUMNS, column])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", _points(possible)])
    failed, without, provisional = [], [], []
    for i, student in enumerate(gradebook.students):
        report = matched.get(i)
        score = ""
        if report is None:
            without.append(f"{student.cells[0]} ({student.login or 'no SIS login'})")
        elif grader_failed(report):
            failed.append(report["student"])
        else:
            score = _points(float(report["total"]))
            if report.get("needs_review") or report.get("attention"):
                provisional.append(report["student"])
        writer.writerow([*student.cells, score])
    exported = len(matched) - len(failed)
    return CanvasExport(out.getvalue(), column, exported, tuple(unmatched), tuple(failed), tuple(without),
                        tuple(provisional), new)
