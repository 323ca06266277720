"""Instructor CI (`grader verify`): the rubric validates, the reference solutions score full marks at
both levels, and the handout holds no solution. Each problem is one line; no line means all is well.

The reference notebooks go through the real steps (pipeline.run_task: execute -> extract -> check,
then score.best_notebook and score.score_student at each level, as grade_student does), one kernel per notebook, from a temporary copy of the
solutions so that discover's naming rules decide which task each one is.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from .checks import check_frameworks_bonus
from .discover import classify_files
from .errors import GraderError
from .handout import REFERENCE, build_handout, gather_secrets, scan_handout, solution_notebooks
from .integrity import holds_points
from .model import LEVELS, TASKS, Settings, Submission
from .pipeline import check_settings, load_hidden, run_task
from .rubric import Rubric, load_rubric
from .score import best_notebook, score_student

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def verify(settings: Settings, reference: Path = REFERENCE, progress: Progress = _stderr) -> list[str]:
    """Settings (rubric, data, hidden) + the reference folder -> problems, one line each."""
    try:
        rubric = load_rubric(settings.rubric)
    except GraderError as exc:
        return [f"rubric: {exc.line()}"]
    progress(f"rubric {settings.rubric}: valid")
    problems = handout_problems(rubric, settings, reference)
    progress(f"handout: {'no solution line, hidden row, keyword list or bar' if not problems else 'leaks'}")
    return problems + reference_problems(rubric, settings, reference, progress)


def handout_problems(rubric: Rubric, settings: Settings, reference: Path) -> list[str]:
    """The handout, built into a temporary folder, scanned for what students must not see."""
    if not Path(settings.hidden).is_dir():
        return [f"handout: {settings.hidden}: hidden test set not found, so the handout cannot be checked "
                "for hidden rows. Fix: pass --hidden"]
    with tempfile.TemporaryDirectory(prefix="grader-verify-") as tmp:
        try:
            handout = build_handout(Path(tmp) / "handout", reference, settings.data)
            leaks = scan_handout(handout.folder, gather_secrets(reference, settings.hidden, rubric))
        except GraderError as exc:
            return [f"handout: {exc.line()}"]
    return [f"handout: {leak.describe()}" for leak in leaks]


def reference_problems(rubric: Rubric, settings: Settings, reference: Path, progress: Progress) -> list[str]:
    """Every reference notebook passes every item, and together they reach full marks at each level."""
    solutions = solution_notebooks(reference)
    if not solutions:
        return [f"reference: {reference}: no reference solution (a notebook not named *_template.ipynb). "
                "Fix: pass --reference with the folder holding them"]
    with tempfile.TemporaryDirectory(prefix="grader-verify-") as tmp:
        folder = Path(tmp) / "reference"
        folder.mkdir()
        for path in solutions:
            shutil.copyfile(path, folder / path.name)
        found = classify_files(folder)
        problems = [f"reference: {name}: not recognised as a task's notebook; name it as the contract does"
                    for name in found.ignored]
        problems += [f"reference: no reference solution for {task}" for task in TASKS if task not in found.notebooks]
        try:
            part2 = {t for t in found.notebooks if t != "H3P1"}
            hidden = load_hidden(settings, part2) if part2 else {}
            check_settings(settings, part2)
        except GraderError as exc:
            return problems + [f"reference: {exc.line()}"]
        results = {}
        paths = [(task, path) for task in TASKS for path in found.notebooks.get(task, ())]
        for number, (task, path) in enumerate(paths, start=1):
            progress(f"reference {number}/{len(paths)}: running {path.name} ...")
            started = time.monotonic()
            results[path] = run_task(task, path, rubric, hidden.get(task), settings)
            lost = notebook_problems(path.name, results[path].run, results[path].findings)
            progress(f"reference {number}/{len(paths)}: {path.name}: {'every item full' if not lost else 'points lost'} "
                     f"({time.monotonic() - started:.0f} s)")
            problems += lost
        for level in LEVELS:
            result = score_student(Submission("reference", level, folder, found.notebooks), rubric,
                                   _level_findings(rubric, found.notebooks, results, level), {})
            full = sum(q.max_points for q in result.questions)
            progress(f"reference at the {level} level: {result.total:g} of {full:g} (bonuses included)")
            problems += [f"reference at the {level} level: {q.id}.{i.item}: {i.points:g} of {i.max_points:g}: {i.message}"
                         for q in result.questions for i in q.items if i.points < i.max_points]
    return problems


def notebook_problems(name: str, run, findings) -> list[str]:
    """A reference notebook must run cleanly, show no sign of tampering and pass every item in full."""
    lines = [] if run.ok else [f"reference {name}: {run.status.replace('_', ' ')}: {run.reason}"]
    lines += [f"reference {name}: cell {f.number} failed: {f.ename}: {f.evalue}" for f in run.failures]
    # Notes that only put code before the instructor (the reference evals its own answers to try them)
    # are no problem; signs that hold points are.
    lines += [f"reference {name}: sign of tampering: {sign}" for sign in run.tampering if holds_points(sign)]
    lines += [f"reference {name}: {f.item}: {f.status}, {f.fraction:.0%} of its points: {f.message}"
              for f in findings if f.fraction < 1 or f.status not in ("pass", "review")]
    return lines


def _level_findings(rubric: Rubric, notebooks: dict, results: dict, level: str) -> dict:
    """Findings by source as the pipeline scores them: a task's better notebook at this level, and
    the frameworks bonus from all the bonus task's notebooks."""
    findings = {task: list(best_notebook([results[p] for p in paths], rubric, task, level)[0].findings)
                for task, paths in notebooks.items()}
    if "bonus_frameworks" in rubric.questions:
        bonus_task = rubric.frameworks_bonus.task
        findings["bonus_frameworks"] = [check_frameworks_bonus([results[p] for p in notebooks.get(bonus_task, ())],
                                                               rubric)]
    return findings
