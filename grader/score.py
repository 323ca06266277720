"""Findings + rubric + level + overrides -> StudentResult. Points are computed here and nowhere else."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import GraderError
from . import integrity
from .model import QUESTION_IDS, TASKS, Finding, ItemScore, NotebookRun, QuestionScore, StudentResult, Submission, TaskResult
from .rubric import Rubric


class OverridesError(GraderError):
    pass


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    points: float = Field(ge=0)
    comment: str


def load_overrides(path: Path | None, rubric: Rubric) -> dict[str, dict[str, Override]]:
    """overrides.yaml: {student: {item or QUESTION.item: {points, comment}}}; checked against the rubric."""
    if path is None or not Path(path).exists():
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise OverridesError(path, "", f"not valid YAML ({exc})", "correct the YAML syntax")
    if not isinstance(data, dict):
        raise OverridesError(path, "", "the top level is not a mapping", "write student: {item: {points, comment}}")
    result: dict[str, dict[str, Override]] = {}
    for student, items in data.items():
        if not isinstance(items, dict):
            raise OverridesError(path, f"key {student}", "not a mapping of items", "write item: {points: N, comment: why}")
        result[str(student)] = {}
        for key, raw in items.items():
            question, item = _locate(rubric, str(key), path, student)
            try:
                override = Override.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise OverridesError(path, f"key {student}.{key}.{'.'.join(map(str, err['loc']))}", err["msg"],
                                     "give points (a number) and a comment")
            top = max(rubric.questions[question].items[item].of(lv) for lv in ("undergrad", "grad"))
            if override.points > top:
                raise OverridesError(path, f"key {student}.{key}", f"{override.points:g} points is more than the item's {top:g}",
                                     "lower the points")
            result[str(student)][f"{question}.{item}"] = override
    return result


def _locate(rubric: Rubric, key: str, path, student) -> tuple[str, str]:
    if "." in key:
        question, item = key.split(".", 1)
        if question in rubric.questions and item in rubric.questions[question].items:
            return question, item
    matches = [(q, key) for q, spec in rubric.questions.items() if key in spec.items]
    if len(matches) == 1:
        return matches[0]
    fix = f"write it as QUESTION.item, one of {', '.join(q + '.' + key for q, _ in matches)}" if matches \
        else "use an item id from the rubric"
    raise OverridesError(path, f"key {student}.{key}", "unknown or ambiguous item", fix)


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
