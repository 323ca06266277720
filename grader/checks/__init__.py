"""Registry of checkers: task id -> what to ask the kernel for, and how to judge what came back.

Each entry is pure: `request(rubric, hidden, train=None)` names the answers, probes and in-kernel handlers a task
needs, and `check(answers, run, rubric, hidden)` returns one Finding per rubric item of the task.
`kernel_sources` are the files run in the kernel to answer the request. Adding a task is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from ..model import Answers, Finding, HiddenSet, NotebookRun, Request
from ..rubric import Rubric
from .part1 import check_part1, part1_request
from .part2 import check_frameworks_bonus, check_part2, part2_request

__all__ = ["CHECKERS", "TaskChecks", "check_frameworks_bonus"]


@dataclass(frozen=True)
class TaskChecks:
    """The checker of one task (a contract notebook name such as H3P1)."""

    request: Callable[..., Request]
    """(rubric, hidden set[, training set]) -> the answer names, probes and handlers to ask the kernel for.
    The training set is the grader's own copy (datasets.read_task on the --data CSV): Part 2 probes are
    built from it, never from files in the scratch folder that the student's code can change."""
    check: Callable[[Answers, NotebookRun, Rubric, HiddenSet | None], list[Finding]]
    """One Finding per item of the task's questions; pure, no I/O."""
    kernel_sources: tuple[str, ...] = ("kernel_side.py",)


def _part1_request(rubric: Rubric, hidden: HiddenSet | None, train: HiddenSet | None = None) -> Request:
    return part1_request(rubric)


def _part1_check(answers: Answers, run: NotebookRun, rubric: Rubric, hidden: HiddenSet | None) -> list[Finding]:
    return check_part1(answers, rubric)


def _part2_request(task: str, rubric: Rubric, hidden: HiddenSet | None, train: HiddenSet | None = None) -> Request:
    """`train`: the grader's own copy of the task's training CSV (datasets.read_task on the --data file)."""
    return part2_request(task, rubric, hidden, train)


CHECKERS: dict[str, TaskChecks] = {
    "H3P1": TaskChecks(_part1_request, _part1_check),
    **{task: TaskChecks(partial(_part2_request, task), partial(check_part2, task),
                        ("kernel_side.py", "kernel_part2.py"))
       for task in ("H3P2T1", "H3P2T2")},
}
