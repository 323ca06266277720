"""The steps in order, per student: discover -> execute -> extract -> check -> score -> report.

One student's failure never stops the class: a grader bug while grading a student becomes that
student's result (every item "error") and a line in the run log.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
import json
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import discover, execute, extract, integrity, report, score
from .checks import CHECKERS, check_frameworks_bonus
from .errors import SettingsError
from .model import TASKS, Finding, HiddenSet, NotebookRecord, NotebookRun, RunInfo, Settings, StudentResult, Submission
from .progress import Progress
from .report import json as json_report
from .report.runlog import records_of
from .rubric import Rubric, load_rubric
from .sandbox import Limits, bwrap_status

try:
    VERSION = metadata.version("hw3-grader")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"


@dataclass
class ClassRun:
    """What a class run produced, for the CLI's closing lines."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Students the grader failed on (graded again on the next run)."""
    seconds: float = 0.0


@dataclass(frozen=True)
class StudentLog:
    """One student's line in the run log, and the grader's traceback when it failed on them."""

    student: str
    line: str
    traceback: str = ""
    notebooks: tuple[NotebookRecord, ...] = ()
    """The run log's records of the notebooks graded (for run.json and the progress bar)."""


def load_hidden(settings: Settings, tasks: set[str]) -> dict[str, HiddenSet]:
    """The hidden test sets the class needs; a missing one stops the run (Part 2 cannot be scored)."""
    from .datasets import load_hidden as read_hidden

    folder = Path(settings.hidden)
    try:
        hidden = read_hidden(folder)
    except ValueError as exc:
        raise SettingsError(folder, "", f"hidden test set unreadable ({exc})", "write it again with grader make-data")
    for task in sorted(tasks - set(hidden)):
        raise SettingsError(folder / f"{task}_test.csv", "", "hidden test set not found",
                            "pass --hidden with the folder holding it, or create it with grader make-data --hidden-seed SECRET")
    return hidden


def training_files(settings: Settings, task: str) -> dict[str, Path]:
    if task == "H3P1":
        return {}
    path = Path(settings.data) / f"{task}_train.csv"
    if not path.exists():
        raise SettingsError(path, "", "training data not found", "pass --data with the folder holding the task's CSV")
    return {path.name: path}


def training_set(settings: Settings, task: str) -> HiddenSet | None:
    """The grader's own copy of a Part 2 task's training data: what input statistics are measured on."""
    from .datasets import read_task

    files = training_files(settings, task)
    if not files:
        return None
    try:
        return read_task(next(iter(files.values())), task)
    except ValueError as exc:
        raise SettingsError(next(iter(files.values())), "", f"training data unreadable ({exc})",
                            "write it again with grader make-data")


def check_settings(settings: Settings, tasks: set[str]) -> None:
    """Everything a run needs, checked before the first notebook: one line naming the fix if not."""
    for task in sorted(tasks - {"H3P1"}):
        training_set(settings, task)
    if settings.kernel_python is not None:
        from .sandbox import kernel_python_problem

        problem = kernel_python_problem(Path(settings.kernel_python))
        if problem:
            raise SettingsError(settings.kernel_python, "--kernel-python", problem,
                                "pass an interpreter that has ipykernel and the course environment installed")


def fingerprint(sub: Submission, settings: Settings, overrides: dict) -> str:
    """Changes whenever anything that decides this student's grade changes."""
    digest = hashlib.sha256(VERSION.encode())
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    digest.update(Path(settings.rubric).read_bytes())
    digest.update(json.dumps({k: v.model_dump() for k, v in overrides.get(sub.student, {}).items()},
                             sort_keys=True).encode())
    digest.update(f"{sub.student}|{sub.level}|{sub.ignored}|{sub.notes}".encode())
    extra = [settings.hidden, settings.data] if any(t != "H3P1" for t in sub.notebooks) else []
    files = [p for paths in sub.notebooks.values() for p in paths]
    for folder in extra:
        if folder and Path(folder).is_dir():
            files += sorted(Path(folder).glob("*.csv"))
    for path in files:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    digest.update(repr((settings.timeout, settings.cell_timeout, settings.memory_gib,
                        settings.require_sandbox, str(settings.kernel_python or ""))).encode())
    return digest.hexdigest()


def run_task(task: str, path: Path, rubric: Rubric, hidden: HiddenSet | None, settings: Settings):
    """One notebook through execute -> extract -> check."""
    checks = CHECKERS[task]
    request = checks.request(rubric, hidden, training_set(settings, task))
    limits = Limits(cell_seconds=settings.cell_timeout, notebook_seconds=settings.timeout,
                    memory_bytes=int(settings.memory_gib * 2**30), require_sandbox=settings.require_sandbox,
                    python=str(settings.kernel_python or ""))
    run = execute.run_notebook(path, task, extract.kernel_code(request, checks.kernel_sources), limits,
                               training_files(settings, task))
    answers = extract.read_answers(run, request)
    if run.payload is not None and not answers.values:
        run = replace(run, notes=run.notes + (
            f"{path.name} defines none of the names {task} asks for ({', '.join(request.names[:3])}, ...): "
            f"is it the notebook of another task, or saved before its cells were written?",))
    return answers, run, integrity.held(checks.check(answers, run, rubric, hidden), run.tampering)


def grade_student(sub: Submission, rubric: Rubric, settings: Settings, hidden: dict[str, HiddenSet],
                  overrides: dict) -> StudentResult:
    findings: dict[str, list[Finding]] = {}
    absent: dict[str, str] = {}
    runs: list[NotebookRun] = []
    notes: list[str] = []
    graded: dict[str, list] = {}
    for task in TASKS:
        paths = sub.notebooks.get(task, ())
        if not paths:
            continue
        results = [run_task(task, path, rubric, hidden.get(task), settings) for path in paths]
        runs += [run for _, run, _ in results]
        graded[task] = results
        best = max(results, key=lambda r: _task_points(r[2], rubric, task, sub.level))
        findings[task] = best[2]
        if len(results) > 1:
            notes.append(f"{task}: scored {best[1].path.name}, the better of "
                         + ", ".join(f"{r[1].path.name} ({_task_points(r[2], rubric, task, sub.level):g})"
                                     for r in results))
    if "bonus_frameworks" in rubric.questions:
        findings["bonus_frameworks"] = [check_frameworks_bonus(graded.get(rubric.frameworks_bonus.task, []), rubric)]
    if sub.folder is None:
        absent = {t: "not graded: no submission folder" for t in (*TASKS, "bonus_frameworks")}
    return score.score_student(sub, rubric, findings, absent, overrides, runs, notes)


def _task_points(findings: list[Finding], rubric: Rubric, task: str, level: str) -> float:
    return sum(score.points_of(findings, rubric, q, level) for q, spec in rubric.questions.items()
               if score.source_of(q, spec) == task)


def failed_result(sub: Submission, rubric: Rubric, error: str) -> StudentResult:
    """A grader bug is this student's problem only: every item 'error', said plainly, on the
    attention list, and never taken as current by the next run."""
    message = f"not graded: the grader failed on this submission ({error}); please tell the instructor"
    findings: dict[str, list[Finding]] = {}
    for qid, spec in rubric.questions.items():
        findings.setdefault(score.source_of(qid, spec), []).extend(Finding(i, "error", 0.0, message) for i in spec.items)
    return score.score_student(sub, rubric, findings, {}, notes=[message],
                               attention=[f"grader error: {error} (graded again on the next run)"], grader_error=True)


def grade_one(sub: Submission, settings: Settings, rubric: Rubric, hidden, overrides, fp: str) -> StudentLog:
    """Grade and write one student's reports. Never raises."""
    started = time.monotonic()
    trace = ""
    try:
        result = grade_student(sub, rubric, settings, hidden, overrides)
        line = f"{sub.student}: {result.total:g}/{result.max_total:g}"
    except Exception as exc:  # our bug, not the class's problem
        detail = "".join(traceback.format_exception_only(exc)).strip()
        result = failed_result(sub, rubric, detail)
        line = f"{sub.student}: grader error ({detail})"
        trace = traceback.format_exc()
    report.write_student(result, Path(settings.out), "" if result.grader_error else fp)
    return StudentLog(sub.student, f"{line} ({time.monotonic() - started:.1f} s)", trace, records_of(result))


def grade_class(settings: Settings, fresh: bool = False, progress: Progress | None = None) -> ClassRun:
    """Grade every (selected) student; skip those whose report is complete and current."""
    started = time.monotonic()
    progress = progress or Progress(quiet=settings.quiet)
    rubric = load_rubric(settings.rubric)
    overrides_path = settings.overrides or Path(settings.submissions) / "overrides.yaml"
    overrides = score.load_overrides(overrides_path, rubric)
    everyone = discover.find_submissions(Path(settings.submissions), settings.default_level)
    subs = [s for s in everyone if s.student in settings.students] if settings.students else everyone
    if settings.students:
        discover.find_submissions(Path(settings.submissions), settings.default_level, settings.students)
    part2_tasks = {t for s in subs for t in s.notebooks if t != "H3P1"}
    hidden = load_hidden(settings, part2_tasks) if part2_tasks else {}
    check_settings(settings, part2_tasks)
    outcome = ClassRun()
    bwrap, why_not = bwrap_status()
    if bwrap is None:
        warning = (f"WARNING: sandbox: reduced ({why_not}); student code runs without filesystem or network "
                   f"isolation" + ("; --require-sandbox: no notebook will run" if settings.require_sandbox else ""))
        progress.message(warning, important=True)
        outcome.log.append(warning)
    todo = []
    for sub in subs:
        fp = fingerprint(sub, settings, overrides)
        done = json_report.load(Path(settings.out) / sub.student / "report.json")
        if not fresh and done is not None and done.get("fingerprint") == fp:
            outcome.skipped.append(sub.student)
        else:
            todo.append((sub, fp))
    if outcome.skipped:
        progress.message(f"skipping {len(outcome.skipped)} student(s) whose reports are current")
    traces, records = [], []
    progress.start([task for sub, _ in todo for task, paths in sub.notebooks.items() for _ in paths])
    try:
        for entry in _grade_all(todo, settings, rubric, hidden, overrides):
            for record in entry.notebooks:
                progress.notebook_done(record.task)
            progress.student_done(entry.line)
            outcome.log.append(entry.line)
            records += entry.notebooks
            if entry.traceback:
                outcome.errors.append(entry.student)
                traces.append(f"{entry.line}\n{entry.traceback}")
    finally:
        progress.close()
    report.write_errors(Path(settings.out), traces)
    if traces:
        progress.message(f"the grader failed on {len(traces)} student(s): see {Path(settings.out) / report.ERRORS_LOG}",
                         important=True)
    outcome.graded = [s.student for s, _ in todo]
    # The gradebook covers the whole class, also students graded by earlier (--student) runs.
    results = report.read_results(Path(settings.out), [s.student for s in everyone])
    outcome.seconds = round(time.monotonic() - started, 1)
    run_info = RunInfo(VERSION, "full: bubblewrap" if bwrap else f"reduced: {why_not}", settings.jobs,
                       tuple(outcome.graded), tuple(outcome.skipped), tuple(outcome.errors), outcome.seconds,
                       tuple(records))
    report.write_class(Path(settings.out), results, outcome.log, run_info, hidden)
    return outcome


def _grade_all(todo, settings, rubric, hidden, overrides):
    if settings.jobs <= 1 or len(todo) <= 1:
        for sub, fp in todo:
            yield grade_one(sub, settings, rubric, hidden, overrides, fp)
        return
    with ProcessPoolExecutor(max_workers=settings.jobs) as pool:
        futures = {pool.submit(grade_one, sub, settings, rubric, hidden, overrides, fp): sub for sub, fp in todo}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # a worker died: grade that student here instead
                sub = futures[future]
                again = grade_one(sub, settings, rubric, hidden, overrides, fingerprint(sub, settings, overrides))
                yield replace(again, line=f"{sub.student}: worker failed ({type(exc).__name__}); graded again "
                                          f"in the main process: {again.line}")
