"""Submissions folder + roster -> list[Submission]. Reads names and folders only, never notebooks."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .errors import RosterError, SettingsError
from .model import Level, Submission

LEVELS = ("undergrad", "grad")
ROSTER = "roster.csv"
# Contract file names, matched case-insensitively (a student's "h3p1.ipynb" is still Part 1).
PATTERNS = {
    "H3P1": re.compile(r"^h3p1\.ipynb$", re.I),
    "H3P2T1": re.compile(r"^h3p2t1[^/]*\.ipynb$", re.I),
    "H3P2T2": re.compile(r"^h3p2t2[^/]*\.ipynb$", re.I),
}
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__"}


def read_roster(folder: Path) -> dict[str, Level]:
    """student -> level, from roster.csv; every problem names the line and the fix."""
    path = folder / ROSTER
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(path, "", "no roster found",
                          "add roster.csv with the header 'student,level', or pass --default-level")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(path, "", f"cannot be read ({exc})", "save it as UTF-8 CSV")
    rows = list(csv.reader(text.splitlines()))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "student" not in header or "level" not in header:
        raise RosterError(path, "line 1", f"the header is {','.join(header) or 'empty'}",
                          "start the file with the header 'student,level' (name and email may follow)")
    col_student, col_level = header.index("student"), header.index("level")
    roster: dict[str, Level] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(col_student, col_level):
            raise RosterError(path, f"line {number}", "too few columns", "give each row a student and a level")
        student, level = row[col_student].strip(), row[col_level].strip().lower()
        if not student:
            raise RosterError(path, f"line {number}", "empty student id", "write the student's folder name")
        if level not in LEVELS:
            raise RosterError(path, f"line {number}", f"unknown level '{row[col_level].strip()}' for {student}",
                              "write undergrad or grad")
        if student in roster:
            raise RosterError(path, f"line {number}", f"student {student} is listed twice",
                              "keep one row per student")
        roster[student] = level  # type: ignore[assignment]
    return roster


def classify_files(folder: Path) -> tuple[dict[str, tuple[Path, ...]], tuple[str, ...]]:
    """Notebooks by task, and every other file (relative path) as ignored."""
    notebooks: dict[str, list[Path]] = {}
    ignored: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or any(part in SKIP_DIRS for part in rel.parts):
            continue
        task = next((t for t, pat in PATTERNS.items() if len(rel.parts) == 1 and pat.match(rel.name)), None)
        if task:
            notebooks.setdefault(task, []).append(path)
        else:
            ignored.append(rel.as_posix())
    return {t: tuple(p) for t, p in notebooks.items()}, tuple(ignored)


def find_submissions(folder: Path, default_level: Level | None = None,
                     only: tuple[str, ...] = ()) -> list[Submission]:
    """Every roster student and every student folder, sorted by id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SettingsError(folder, "", "is not a folder", "pass the folder that holds roster.csv and one folder per student")
    if (folder / ROSTER).exists() or default_level is None:
        roster = read_roster(folder)
    else:
        roster = {}
    folders = {p.name: p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    unknown = sorted(set(folders) - set(roster))
    if unknown and default_level is None:
        raise RosterError(folder / ROSTER, "", f"student folder(s) {', '.join(unknown)} not in the roster",
                          "add them to roster.csv with their level, or pass --default-level")
    wanted = set(only)
    missing = sorted(wanted - set(folders) - set(roster))
    if missing:
        raise SettingsError("--student", "", f"no student {', '.join(missing)} in {folder}",
                            "use a folder name or roster id")
    submissions = []
    for student in sorted(set(folders) | set(roster)):
        if wanted and student not in wanted:
            continue
        level = roster.get(student, default_level)
        notes = () if student in roster else (f"not in the roster: graded as {default_level}",)
        path = folders.get(student)
        if path is None:
            submissions.append(Submission(student, level, None, notes=notes + ("no submission folder found",)))
            continue
        notebooks, ignored = classify_files(path)
        submissions.append(Submission(student, level, path, notebooks, ignored, notes))
    return submissions
