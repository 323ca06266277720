"""Registry of checkers: task id -> what to ask the kernel for, and how to judge what came back.

Each entry is pure: `request(rubric, hidden, train)` names the answers, probes and in-kernel handlers
a task needs; `observe(answers, run)` turns what came back into the task's typed observation (Part 1:
the Answers themselves); `check(observed, run, rubric, hidden)` returns one Finding per rubric item of
the task. `kernel_modules` are the grader/kernel/ handlers the task adds to the base ones. Adding a
task is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from ..model import Answers, Finding, HiddenSet, NotebookRun, Request
from ..rubric import Rubric
from .part1 import check_part1, part1_request
from .part2 import check_frameworks_bonus, check_part2, observe_notebook, part2_request

__all__ = ["CHECKERS", "TaskChecks", "check_frameworks_bonus"]


@dataclass(frozen=True)
class TaskChecks:
    """The checker of one task (a contract notebook name such as H3P1)."""

    request: Callable[[Rubric, HiddenSet | None, HiddenSet | None], Request]
    """(rubric, hidden set, training set) -> the answer names, probes and handlers to ask the kernel
    for. The training set is the grader's own copy (datasets.read_task on the --data CSV): Part 2
    probes are built from it, never from files in the scratch folder that the student's code can change."""
    observe: Callable[[Answers, NotebookRun], Any]
    """What came back -> what `check` judges (parsed once)."""
    check: Callable[[Any, NotebookRun, Rubric, HiddenSet | None], list[Finding]]
    """One Finding per item of the task's questions; pure, no I/O."""
    kernel_modules: tuple[str, ...] = ()


def _part1_request(rubric: Rubric, hidden: HiddenSet | None, train: HiddenSet | None) -> Request:
    return part1_request(rubric)


def _part1_observe(answers: Answers, run: NotebookRun) -> Answers:
    return answers


def _part1_check(answers: Answers, run: NotebookRun, rubric: Rubric, hidden: HiddenSet | None) -> list[Finding]:
    return check_part1(answers, rubric)


CHECKERS: dict[str, TaskChecks] = {
    "H3P1": TaskChecks(_part1_request, _part1_observe, _part1_check),
    **{task: TaskChecks(partial(part2_request, task), partial(observe_notebook, task), partial(check_part2, task),
                        ("part2",))
       for task in ("H3P2T1", "H3P2T2")},
}
