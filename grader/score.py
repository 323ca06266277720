"""Findings + rubric + level + overrides -> StudentResult. Points are computed here and nowhere else."""

from __future__ import annotations

from . import integrity
from .model import QUESTION_IDS, TASKS, Finding, ItemScore, NotebookRun, QuestionScore, StudentResult, Submission, TaskResult
from .rubric import Rubric


def source_of(qid: str, spec) -> str:
    """Which findings a question is scored from: its task's, or the frameworks bonus's own."""
    return "bonus_frameworks" if qid == "bonus_frameworks" else spec.task


def points_of(findings, rubric: Rubric, question: str, level: str) -> float:
    """Points a list of findings earns for one question (used to pick the better of two notebooks)."""
    items = rubric.questions[question].items
    return sum(f.fraction * items[f.item].of(level) for f in findings if f.item in items)


def task_points(findings, rubric: Rubric, task: str, level: str) -> float:
    return sum(points_of(findings, rubric, q, level) for q, spec in rubric.questions.items()
               if source_of(q, spec) == task)


def best_notebook(results: list[TaskResult], rubric: Rubric, task: str, level: str) -> tuple[TaskResult, str]:
    """The notebook a task is scored from when a student hands in several (one per framework): the
    one worth more points (the first on a tie), and the note that says so ("" for one notebook)."""
    points = [task_points(r.findings, rubric, task, level) for r in results]
    best = results[points.index(max(points))]
    if len(results) == 1:
        return best, ""
    return best, (f"{task}: scored {best.run.path.name}, the better of "
                  + ", ".join(f"{r.run.path.name} ({p:g})" for r, p in zip(results, points)))


def rounded(points: float) -> float:
    """Points as every report, the gradebook and the terminal show them: rounded once, here, so the
    columns of grades.csv add up to the total."""
    return round(points, 2) + 0.0


def _item_score(question, item, max_points, finding, override, absent) -> ItemScore:
    if finding is None:
        finding = Finding(item, "missing", 0.0, absent)
    points = rounded(max(0.0, min(1.0, finding.fraction)) * max_points)
    if override is not None:
        note = f"instructor: {override.comment} (checker gave {points:g})"
        return ItemScore(question, item, min(override.points, max_points), max_points, "pass"
                         if override.points >= max_points else "fail", finding.message, note,
                         finding.counterexample, finding.chart)
    return ItemScore(question, item, points, max_points, finding.status, finding.message,
                     counterexample=finding.counterexample, chart=finding.chart)


def score_student(sub: Submission, rubric: Rubric, findings: dict[str, list[Finding]],
                  absent: dict[str, str], overrides: dict[str, dict] | None = None,
                  runs=(), notes=(), attention=(), grader_error: bool = False) -> StudentResult:
    """findings: source -> findings, where source is a question's task (or 'bonus_frameworks')."""
    mine = (overrides or {}).get(sub.student, {})
    questions = []
    for qid in QUESTION_IDS:
        spec = rubric.questions.get(qid)
        if spec is None:
            continue
        source = source_of(qid, spec)
        by_item = {f.item: f for f in findings.get(source, [])}
        why = absent.get(source, f"not graded: no {spec.task} notebook was handed in")
        items = tuple(_item_score(qid, item, pts.of(sub.level), by_item.get(item), mine.get(f"{qid}.{item}"), why)
                      for item, pts in spec.items.items())
        questions.append(QuestionScore(qid, rounded(sum(i.points for i in items)), spec.points.of(sub.level),
                                       sub.level in spec.bonus_for, items))
    total = rounded(sum(q.points for q in questions))
    needs_review = any(i.status == "review" and not i.override for q in questions for i in q.items)
    return StudentResult(sub.student, sub.level, tuple(questions), total, rubric.max_total.of(sub.level),
                         needs_review, tuple(runs), sub.ignored, tuple(sub.notes) + tuple(notes),
                         tuple(attention) + attention_of(sub, runs), grader_error)


def attention_of(sub: Submission, runs) -> tuple[str, ...]:
    """What an instructor must look at, from the submission and its runs (never from message text)."""
    if sub.folder is None:  # a student folder that is a symbolic link says so on sub.attention
        return tuple(sub.attention) or ("no submission folder",)
    lines = list(sub.attention)
    lines += [f"no {task} notebook was handed in" for task in TASKS if not sub.notebooks.get(task)]
    for run in runs:
        lines += _run_attention(run)
    return tuple(lines)


def _run_attention(run: NotebookRun) -> list[str]:
    name = run.path.name
    lines = []
    if run.status != "ok":
        lines.append(f"{name}: {run.status.replace('_', ' ')}: {run.reason}")
    elif run.payload is None:
        lines.append(f"{name}: the answers could not be read: {run.reason}")
    if run.rerun:
        lines.append(f"{name}: {run.rerun}")
    for failure in run.failures:
        if failure.cause:
            lines.append(f"{name}: cell {failure.index + 1}: {failure.hint}")
    held = [t for t in run.tampering if integrity.holds_points(t)]
    noted = [t for t in run.tampering if not integrity.holds_points(t)]
    if held:
        lines.append(f"{name}: signs of tampering, points held until you look: " + "; ".join(held))
    if noted:
        lines.append(f"{name}: to look at: " + "; ".join(noted))
    return lines
