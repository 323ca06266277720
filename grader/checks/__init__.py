"""Registry of checkers: task id -> what to ask the kernel for, and how to judge what came back.

Each entry is two pure functions: `request(rubric)` names the answers and probes a task needs, and
`check(answers, rubric)` returns one Finding per rubric item of the task. Adding a task is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..model import Answers, Finding, Request
from ..rubric import Rubric
from .part1 import check_part1, part1_request


@dataclass(frozen=True)
class TaskChecks:
    """The checker of one task (a contract notebook name such as H3P1)."""

    request: Callable[[Rubric], Request]
    """Rubric -> the answer names and probes to read from the task's notebook."""
    check: Callable[[Answers, Rubric], list[Finding]]
    """Answers + Rubric -> one Finding per item of the task's questions; pure, no I/O."""


CHECKERS: dict[str, TaskChecks] = {
    "H3P1": TaskChecks(request=part1_request, check=check_part1),
}
