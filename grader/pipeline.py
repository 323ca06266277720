"""The steps in order: discover -> execute -> extract -> check -> score -> report.

Notebooks are the unit of work: every notebook of the class that is not in the cache is executed
(longest first, `--jobs` at once, or on a Dask cluster), and a student is judged, scored and written
as soon as their last notebook is in. Judging happens here, in the grader's process, never where a
notebook ran. One student's failure never stops the class: a grader bug while grading a student
becomes that student's result (every item "error") and a line in the run log.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import cache, discover, report, score
from . import overrides as overrides_file
from .errors import SettingsError
from .model import (TASKS, Finding, HiddenSet, NotebookRecord, NotebookRun, RunInfo, Settings, StudentResult,
                    Submission, TaskResult)
from .prepare import check_settings, load_hidden, plan_task, plan_tasks
from .progress import Progress
from .report import json as json_report
from .report.runlog import records_of
from .rubric import Rubric, load_rubric
from .sandbox import bwrap_status

if TYPE_CHECKING:
    from .prepare import TaskPlan
    from .work import NotebookWork, Outcome

# What executes or judges a notebook (nbclient, SymPy, and torch for Q1's truth) is imported by the
# functions that use it: a regrade of an unchanged class needs none of it and takes under a second.

try:
    VERSION = metadata.version("hw3-grader")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"

__all__ = ["VERSION", "check_settings", "grade_class", "grade_one", "grade_student", "load_hidden", "run_task"]


@dataclass
class ClassRun:
    """What a class run produced, for the CLI's closing lines."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Students the grader failed on (graded again on the next run)."""
    executed: int = 0
    """Notebooks run in a kernel (the others came from the cache)."""
    seconds: float = 0.0


@dataclass(frozen=True)
class StudentLog:
    """One student's line in the run log, and the grader's traceback when it failed on them."""

    student: str
    line: str
    traceback: str = ""
    notebooks: tuple[NotebookRecord, ...] = ()
    """The run log's records of the notebooks graded (for run.json)."""


# ----------------------------------------------------------------------------- one notebook


def notebook_work(sub: Submission, task: str, path: Path, plan: TaskPlan, settings: Settings) -> NotebookWork | NotebookRun:
    """The work to execute one notebook, or the run it already is when its file cannot be read (a
    link, too large): discovery's rules, applied by the executor, not bypassed by reading bytes here."""
    from . import execute
    from .notebook import read_bytes
    from .work import NotebookWork, weight_of

    content, _ = read_bytes(path)
    limits = settings.limits()
    if content is None:
        return execute.run_notebook(path, task, plan.job, limits, {})
    key = cache.run_key(path.name, task, content, plan.data, plan.job, limits)
    return NotebookWork(key, sub.student, task, path, content, plan.job, limits, plan.data, weight_of(task, content))


def judge(run: NotebookRun, plan: TaskPlan, rubric: Rubric, hidden: HiddenSet | None) -> TaskResult:
    """A notebook's run -> its findings: extract -> observe -> check, in the grader's process."""
    from . import extract, integrity
    from .checks import CHECKERS

    checks = CHECKERS[plan.task]
    answers = extract.read_answers(run, plan.request)
    observed = checks.observe(answers, run)
    findings = integrity.held(checks.check(observed, run, rubric, hidden), run.tampering)
    return TaskResult(run, observed, tuple(findings), answers.notes)


def run_task(task: str, path: Path, rubric: Rubric, hidden: HiddenSet | None, settings: Settings) -> TaskResult:
    """One notebook through execute -> extract -> check, here and now (no cache)."""
    from .work import execute_work

    plan = plan_task(task, rubric, hidden, settings)
    item = notebook_work(Submission("", "grad", path.parent), task, path, plan, settings)
    return judge(item if isinstance(item, NotebookRun) else execute_work(item), plan, rubric, hidden)


# ----------------------------------------------------------------------------- one student


def score_runs(sub: Submission, runs: dict[Path, NotebookRun], plans: dict[str, TaskPlan], rubric: Rubric,
               hidden: dict[str, HiddenSet], overrides: dict) -> tuple[StudentResult, Any]:
    """A student's runs (one per notebook) -> their StudentResult, and their H3P2T2 predictions on
    the hidden set (for the instructor's page; None when there are none)."""
    from .checks import check_frameworks_bonus

    findings: dict[str, list[Finding]] = {}
    best_of: dict[str, TaskResult] = {}
    notes: list[str] = []
    graded: dict[str, list[TaskResult]] = {}
    for task in TASKS:
        results = [judge(runs[path], plans[task], rubric, hidden.get(task)) for path in sub.notebooks.get(task, ())]
        if not results:
            continue
        graded[task] = results
        notes += [note for r in results for note in r.notes]
        best, note = score.best_notebook(results, rubric, task, sub.level)
        best_of[task] = best
        findings[task] = list(best.findings)
        notes += [note] if note else []
    if "bonus_frameworks" in rubric.questions:
        findings["bonus_frameworks"] = [check_frameworks_bonus(graded.get(rubric.frameworks_bonus.task, []), rubric)]
    absent = {t: "not graded: no submission folder" for t in (*TASKS, "bonus_frameworks")} if sub.folder is None else {}
    all_runs = [runs[p] for task in TASKS for p in sub.notebooks.get(task, ())]
    return score.score_student(sub, rubric, findings, absent, overrides, all_runs, notes), hidden_predictions(best_of)


def hidden_predictions(best_of: dict[str, TaskResult]):
    """The scored H3P2T2 notebook's [income, age] predictions on the hidden rows, or None."""
    from .checks.part2.observe import Observed, T2Observation

    best = best_of.get("H3P2T2")
    observation = best.observed.observation if best is not None and isinstance(best.observed, Observed) else None
    return observation.predict.array if isinstance(observation, T2Observation) else None


def failed_result(sub: Submission, rubric: Rubric, error: str) -> StudentResult:
    """A grader bug is this student's problem only: every item 'error', said plainly, on the
    attention list, and never taken as current by the next run."""
    message = f"not graded: the grader failed on this submission ({error}); please tell the instructor"
    findings: dict[str, list[Finding]] = {}
    for qid, spec in rubric.questions.items():
        findings.setdefault(score.source_of(qid, spec), []).extend(Finding(i, "error", 0.0, message) for i in spec.items)
    return score.score_student(sub, rubric, findings, {}, notes=[message],
                               attention=[f"grader error: {error} (graded again on the next run)"], grader_error=True)


def write_result(sub: Submission, settings: Settings, fingerprint: str, started: float,
                 grade: Callable[[], tuple[StudentResult, Any]], rubric: Rubric, trace: str = "") -> StudentLog:
    """Grade (calling `grade`) and write one student's reports. Never raises: a grader error becomes
    the student's failed result. `trace` is an error already met (a notebook the grader failed on)."""
    detail, predicted = (trace.strip().splitlines()[-1] if trace.strip() else ""), None
    if not detail:
        try:
            result, predicted = grade()
        except Exception as exc:  # our bug, not the class's problem
            detail, trace = "".join(traceback.format_exception_only(exc)).strip(), traceback.format_exc()
    if detail:
        result = failed_result(sub, rubric, detail)
        line = f"{sub.student}: grader error ({detail})"
    else:
        line = f"{sub.student}: {result.total:g}/{result.max_total:g}"
    out = Path(settings.out)
    report.write_predictions(out, sub.student, "H3P2T2", predicted)
    report.write_student(result, out, "" if result.grader_error else fingerprint)
    return StudentLog(sub.student, f"{line} ({time.monotonic() - started:.1f} s)", trace, records_of(result))


def grade_student(sub: Submission, rubric: Rubric, settings: Settings, hidden: dict[str, HiddenSet],
                  overrides: dict) -> StudentResult:
    """One student, every notebook executed here and now (no cache)."""
    from .work import execute_work

    plans = plan_tasks(set(sub.notebooks), rubric, hidden, settings)
    runs = {}
    for task, paths in sub.notebooks.items():
        for path in paths:
            item = notebook_work(sub, task, path, plans[task], settings)
            runs[path] = item if isinstance(item, NotebookRun) else execute_work(item)
    return score_runs(sub, runs, plans, rubric, hidden, overrides)[0]


def grade_one(sub: Submission, settings: Settings, rubric: Rubric, hidden, overrides, fp: str) -> StudentLog:
    """Grade and write one student's reports, notebooks run here. Never raises."""
    return write_result(sub, settings, fp, time.monotonic(),
                        lambda: (grade_student(sub, rubric, settings, hidden, overrides), None), rubric)


# ----------------------------------------------------------------------------- the class


def fingerprint(sub: Submission, context: str, overrides: dict) -> str:
    """Level 2 of the cache: changes whenever anything that decides this student's grade changes:
    the run's context (cache.run_context: code, environment, limits, rubric, data, hidden set), their
    overrides, what discovery found, and their notebooks' names and bytes."""
    digest = hashlib.sha256(f"{VERSION}|{context}".encode())
    digest.update(json.dumps({k: v.model_dump() for k, v in overrides.get(sub.student, {}).items()},
                             sort_keys=True).encode())
    digest.update(f"{sub.student}|{sub.level}|{sub.ignored}|{sub.notes}|{sub.attention}|{sub.folder is None}".encode())
    for task, paths in sorted(sub.notebooks.items()):
        for path in paths:
            digest.update(f"{task}|{path.name}|{cache.file_digest(path)}".encode())
    return digest.hexdigest()


@dataclass
class _Student:
    """A student on their way through the run: the runs in so far, the works still out."""

    sub: Submission
    fingerprint: str
    runs: dict[Path, NotebookRun] = field(default_factory=dict)
    pending: set[Path] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    trace: str = ""


def _to_grade(subs, settings, overrides, fresh, outcome) -> list[_Student]:
    """The students whose report is not complete and current (the others are skipped)."""
    context = cache.run_context(settings)
    students = []
    for sub in subs:
        fp = fingerprint(sub, context, overrides)
        done = json_report.load(Path(settings.out) / sub.student / "report.json")
        if not fresh and done is not None and done.get("fingerprint") == fp:
            outcome.skipped.append(sub.student)
        else:
            students.append(_Student(sub, fp))
    return students


def _works(students: list[_Student], plans, settings, run_cache: cache.RunCache) -> list[NotebookWork]:
    """Each student's notebooks: runs already known (in the cache, or unreadable) go in; the others
    are returned as works to execute."""
    works: list[NotebookWork] = []
    for student in students:
        for task, paths in student.sub.notebooks.items():
            for path in paths:
                item = notebook_work(student.sub, task, path, plans[task], settings)
                known = item if isinstance(item, NotebookRun) else run_cache.get(item.key, path)
                if known is not None:
                    student.runs[path] = known
                else:
                    student.pending.add(path)
                    works.append(item)
    return works


def _graded(students: list[_Student], outcomes: Iterator[Outcome], run_cache: cache.RunCache,
            finish: Callable[[_Student], StudentLog], progress: Progress) -> Iterator[StudentLog]:
    """Each student's log line as soon as their last notebook is in."""
    by_name = {s.sub.student: s for s in students}
    for student in students:
        if not student.pending:
            yield finish(student)
    for work, run, trace in outcomes:
        progress.notebook_done(work.task)
        student = by_name[work.student]
        if run is not None:
            run_cache.put(work.key, run)
            student.runs[work.path] = run
        student.trace = student.trace or trace
        student.pending.discard(work.path)
        if not student.pending:
            yield finish(student)


def _sandbox_warning(settings: Settings) -> str:
    bwrap, why_not = bwrap_status()
    if bwrap is not None:
        return ""
    return (f"WARNING: sandbox: reduced ({why_not}); student code runs without filesystem or network "
            f"isolation" + ("; --require-sandbox: no notebook will run" if settings.require_sandbox else ""))


def _runner(settings: Settings):
    if settings.cluster:
        from .cluster import DaskRunner

        return DaskRunner(settings.cluster)
    from .work import LocalRunner

    return LocalRunner(settings.jobs)


def grade_class(settings: Settings, fresh: bool = False, progress: Progress | None = None) -> ClassRun:
    """Grade every (selected) student; skip those whose report is complete and current."""
    started, outcome = time.monotonic(), ClassRun()
    progress = progress or Progress(quiet=settings.quiet)
    rubric = load_rubric(settings.rubric)
    overrides = overrides_file.load_overrides(settings.overrides or Path(settings.submissions) / "overrides.yaml", rubric)
    everyone = discover.find_submissions(Path(settings.submissions), settings.default_level)
    subs = _selected(everyone, settings)
    run_cache = cache.RunCache(None if settings.no_cache else settings.cache_folder)
    students = _to_grade(subs, settings, overrides, fresh, outcome)
    if outcome.skipped:
        progress.message(f"skipping {len(outcome.skipped)} student(s) whose reports are current")
    tasks = {t for s in students for t in s.sub.notebooks}
    hidden = load_hidden(settings, tasks - {"H3P1"}) if tasks - {"H3P1"} else {}
    check_settings(settings, tasks)
    warning = _sandbox_warning(settings) if students else ""
    if warning:
        progress.message(warning, important=True)
        outcome.log.append(warning)
    plans = plan_tasks(tasks, rubric, hidden, settings)
    works = _works(students, plans, settings, run_cache)
    outcome.executed = len(works)

    def finish(student: _Student) -> StudentLog:
        return write_result(student.sub, settings, student.fingerprint, student.started,
                            lambda: score_runs(student.sub, student.runs, plans, rubric, hidden, overrides),
                            rubric, student.trace)

    traces, records = [], []
    progress.start([w.task for w in works])
    try:
        for entry in _graded(students, _runner(settings).run(works) if works else iter(()), run_cache, finish, progress):
            progress.student_done(entry.line)
            outcome.log.append(entry.line)
            records += entry.notebooks
            if entry.traceback:
                outcome.errors.append(entry.student)
                traces.append(f"{entry.line}\n{entry.traceback}")
    finally:
        progress.close()
    outcome.graded = [s.sub.student for s in students]
    outcome.seconds = round(time.monotonic() - started, 1)
    _write_class(settings, everyone, outcome, traces, records, hidden, progress)
    return outcome


def _selected(everyone: list[Submission], settings: Settings) -> list[Submission]:
    if not settings.students:
        return everyone
    missing = sorted(set(settings.students) - {s.student for s in everyone})
    if missing:
        raise SettingsError("--student", "", f"no student {', '.join(missing)} in {settings.submissions}",
                            "use a folder name or roster id")
    return [s for s in everyone if s.student in settings.students]


CLASS_STAMP = ".class-fingerprint"
"""What the class files (grades.csv, summary.md, index.html, run.json) were last written from."""


def _write_class(settings: Settings, everyone, outcome: ClassRun, traces: list[str], records: list,
                 hidden: dict[str, HiddenSet], progress: Progress) -> None:
    out = Path(settings.out)
    report.write_errors(out, traces)
    if traces:
        progress.message(f"the grader failed on {len(traces)} student(s): see {out / report.ERRORS_LOG}", important=True)
    stamp = hashlib.sha256(cache.all_code().encode())
    for sub in everyone:
        stamp.update(f"{sub.student}|{cache.file_digest(out / sub.student / 'report.json')}".encode())
    if not outcome.graded and (out / CLASS_STAMP).is_file() and (out / CLASS_STAMP).read_text() == stamp.hexdigest():
        return  # nothing changed since the class files were written
    bwrap, why_not = bwrap_status()
    run_info = RunInfo(VERSION, "full: bubblewrap" if bwrap else f"reduced: {why_not}", settings.jobs,
                       tuple(outcome.graded), tuple(outcome.skipped), tuple(outcome.errors), outcome.seconds,
                       tuple(records), outcome.executed)
    # The gradebook covers the whole class, also students graded by earlier (--student) runs.
    report.write_class(out, report.read_results(out, [s.student for s in everyone]), outcome.log, run_info, hidden)
    report.write_atomic(out / CLASS_STAMP, stamp.hexdigest())
