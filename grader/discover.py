"""Submissions folder + roster -> list[Submission]. Reads names and folders only, never notebooks."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import RosterError, SettingsError
from .model import TASKS, Level, Submission

LEVELS = ("undergrad", "grad")
ROSTER = "roster.csv"
# Contract file names, matched case-insensitively (a student's "h3p1.ipynb" is still Part 1).
PATTERNS = {
    "H3P1": re.compile(r"^h3p1\.ipynb$", re.I),
    "H3P2T1": re.compile(r"^h3p2t1[^/]*\.ipynb$", re.I),
    "H3P2T2": re.compile(r"^h3p2t2[^/]*\.ipynb$", re.I),
}
# What browsers, Jupyter and students add to a name: "H3P1 (1)", "H3P1-Copy1", "h3p1_final", "H3P1 ",
# "HW3P1_v2". Stripped (repeatedly) before the name is compared with the contract's.
SUFFIX = re.compile(r"(\s*\(\d+\)|[\s_-]*copy\d*|[\s_-]*final|[\s_-]*v\d+|[\s_-]+submission|\s+|\.ipynb)$", re.I)
# Google Drive and Colab save a copy as "Copy of H3P1.ipynb".
PREFIX = re.compile(r"^(\s*copy of\s+)+", re.I)
# What a zip made on a Mac adds: a __MACOSX/ folder of "._name" resource forks (not notebooks).
MAC_JUNK = "__MACOSX"
VARIANT = {
    "H3P1": re.compile(r"^h(w)?3[\s_-]*p(art)?[\s_-]*1$", re.I),
    "H3P2T1": re.compile(r"^(h(w)?3[\s_-]*p(art)?[\s_-]*2[\s_-]*t(ask)?[\s_-]*1)([\s_-].*)?$", re.I),
    "H3P2T2": re.compile(r"^(h(w)?3[\s_-]*p(art)?[\s_-]*2[\s_-]*t(ask)?[\s_-]*2)([\s_-].*)?$", re.I),
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


@dataclass(frozen=True)
class Found:
    """What a student folder holds, as discover sees it."""

    notebooks: dict[str, tuple[Path, ...]]
    ignored: tuple[str, ...]
    notes: tuple[str, ...] = ()
    attention: tuple[str, ...] = ()


def link_reason(path: Path) -> str:
    """Why a symbolic link is not graded, naming where it points (read, never followed)."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return f"a symbolic link (to {target}); links are not followed, hand in the file itself"


# Folders deeper than this are not read (a zip bomb of nested folders must not stop the class).
MAX_DEPTH = 20


def walk(folder: Path, rel: PurePosixPath = PurePosixPath()) -> tuple[list[PurePosixPath], list[str]]:
    """(regular files, "path: why" of every entry not read) under folder, relative to it. Links are
    never followed: scandir's entries are judged without following them (lstat)."""
    files: list[PurePosixPath] = []
    skipped: list[str] = []
    try:
        with os.scandir(folder / rel) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        return [], [f"{rel.as_posix()}/: the folder cannot be read ({exc.strerror or exc}); hand its files in again"]
    for entry in entries:
        here = rel / entry.name
        if entry.is_symlink():
            skipped.append(f"{here.as_posix()}: {link_reason(folder / here)}")
        elif entry.is_dir(follow_symlinks=False):
            if entry.name in SKIP_DIRS:
                continue
            if len(here.parts) > MAX_DEPTH:
                skipped.append(f"{here.as_posix()}/: nested more than {MAX_DEPTH} folders deep, not read")
                continue
            sub_files, sub_skipped = walk(folder, here)
            files += sub_files
            skipped += sub_skipped
        elif entry.is_file(follow_symlinks=False):
            files.append(here)
        else:
            # Opening a pipe would block the grader; a device is never a notebook.
            skipped.append(f"{here.as_posix()}: not a regular file (a pipe, socket or device); "
                           "hand in the file itself")
    return files, skipped


def task_of(name: str) -> tuple[str | None, bool]:
    """(task, exact) for a file name: exact when it is the contract's name, else a variant."""
    if not name.lower().endswith(".ipynb"):
        return None, False
    exact = next((t for t, pat in PATTERNS.items() if pat.match(name)), None)
    if exact:
        return exact, True
    stem = name[:-len(".ipynb")]
    while (stripped := SUFFIX.sub("", stem)) != stem:
        stem = stripped
    stem = PREFIX.sub("", stem).strip()
    return next((t for t, pat in VARIANT.items() if pat.match(stem)), None), False


def _base(files: list[PurePosixPath]) -> PurePosixPath:
    """The folder the notebooks are read from: the student folder itself, or the one subfolder that
    holds every task notebook when none lies at the top (LMS zips nest alice/submission/H3P1.ipynb).
    Only notebooks named for a task count, so a stray untitled.ipynb at the top hides nothing."""
    notebooks = [f for f in files if f.suffix.lower() == ".ipynb" and not _mac_junk(f) and task_of(f.name)[0]]
    if any(len(f.parts) == 1 for f in notebooks):
        return PurePosixPath()
    parents = {f.parent for f in notebooks}
    return parents.pop() if len(parents) == 1 else PurePosixPath()


def _mac_junk(rel: PurePosixPath) -> bool:
    """A macOS zip's metadata (__MACOSX/, ._H3P1.ipynb): listed as ignored, never a notebook."""
    return MAC_JUNK in rel.parts or rel.name.startswith("._")


def classify_files(folder: Path) -> Found:
    """Notebooks by task; every other file (relative path) as ignored, with why when it matters."""
    files, skipped = walk(folder)
    ignored = list(skipped)
    attention = list(skipped)
    notes: list[str] = []
    base = _base(files)
    if base.parts:
        notes.append(f"the notebooks were read from the subfolder {base.as_posix()}/")
    exact: dict[str, list[Path]] = {}
    variants: dict[str, list[Path]] = {}
    unknown: list[str] = []
    for rel in files:
        task, is_exact = task_of(rel.name) if rel.parent == base and not _mac_junk(rel) else (None, False)
        if task:
            (exact if is_exact else variants).setdefault(task, []).append(folder / rel)
            continue
        ignored.append(rel.as_posix())
        if rel.suffix.lower() == ".ipynb" and not _mac_junk(rel):
            unknown.append(rel.as_posix())
    notebooks = {t: list(p) for t, p in exact.items()}
    for task, paths in variants.items():
        names = ", ".join(p.name for p in paths)
        if task in notebooks and task != "H3P1":
            # Part 2 may come as one notebook per framework: a variant next to the contract's name
            # may be the other framework, so it is graded too (the better one scores).
            notebooks[task] += paths
            notes.append(f"{names} graded as {task} too (the contract's name is {task}*.ipynb)")
            continue
        if task in notebooks:
            ignored += [(folder / p).relative_to(folder).as_posix() for p in paths]
            notes.append(f"{names} not graded as {task}: the contract's name {notebooks[task][0].name} is there")
            continue
        notebooks[task] = paths
        notes.append(f"{names} accepted as {task} (the contract's name is {task}{'' if task == 'H3P1' else '*'}.ipynb)")
    for task, paths in notebooks.items():
        if task == "H3P1" and len(paths) > 1:
            attention.append(f"several notebooks for H3P1 ({', '.join(p.name for p in paths)}): each was graded "
                             "and the better one scored; check which one the student meant")
    lacking = [t for t in TASKS if t not in notebooks]
    if unknown and lacking:
        attention.append(f"no notebook for {', '.join(lacking)}, but unrecognised notebook(s) "
                         f"{', '.join(unknown)}: check whether one of them is the missing task")
    return Found({t: tuple(sorted(p)) for t, p in notebooks.items()}, tuple(sorted(set(ignored), key=ignored.index)),
                 tuple(notes), tuple(attention))


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
    # A student folder that is a symbolic link is listed (so the roster sees the student) but never read.
    folders = {e.name: Path(e.path) for e in os.scandir(folder)
               if (e.is_symlink() or e.is_dir(follow_symlinks=False)) and not e.name.startswith((".", "_"))}
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
        if path.is_symlink():
            reason = link_reason(path)
            submissions.append(Submission(student, level, None, ignored=(f"{student}/: {reason}",),
                                          notes=notes + ("no submission folder found",),
                                          attention=(f"the student folder {student}/: {reason}",)))
            continue
        found = classify_files(path)
        submissions.append(Submission(student, level, path, found.notebooks, found.ignored, notes + found.notes,
                                      found.attention))
    return submissions
