"""Part 2 checkers: H3P2T1 classification, H3P2T2 regression, the both-frameworks bonus.

One direction: request.py says what the kernel's part2 handler looks at (hidden FEATURES only);
observe.py parses what it returned, once, into typed observations; t1.py and t2.py judge them, one
pure function per item, registered below; bonus.py judges a student's notebooks of one task together.
Labels are compared with predictions in the grader's process, never in the kernel.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from ...model import Answers, Finding, HiddenSet, NotebookRun
from ...rubric import Rubric
from . import t1, t2
from .bonus import check_frameworks_bonus
from .observe import Context, Observed, T1Observation, T2Observation, Unjudged, observe
from .request import NAMES, T1, T2, part2_request
from .words import runs_finding

__all__ = ["ITEMS", "NAMES", "check_frameworks_bonus", "check_part2", "observe_notebook", "part2_request"]

ItemCheck = Callable[..., Finding]
"""(observation, Context) -> Finding: the one signature of a Part 2 item."""

ITEM_CHECKS: dict[str, dict[str, ItemCheck]] = {
    T1: {
        "net1_output_units": partial(t1.units_finding, "net1", 1),
        "net2_output_units": partial(t1.units_finding, "net2", 2),
        "net1_loss": partial(t1.loss_finding, "net1"),
        "net2_loss": partial(t1.loss_finding, "net2"),
        "input_normalization": t1.input_norm_finding,
        "net1_accuracy": partial(t1.accuracy_finding, "net1"),
        "net2_accuracy": partial(t1.accuracy_finding, "net2"),
    },
    T2: {
        "output_units": t2.units_finding,
        "output_normalization": t2.output_norm_finding,
        "predict_shape": t2.predict_shape_finding,
        "output_range": t2.output_range_finding,
        "income_error": partial(t2.error_finding, 0),
        "age_error": partial(t2.error_finding, 1),
    },
}
ITEMS = {task: ("runs", *checks) for task, checks in ITEM_CHECKS.items()}
"""Items this package can judge, per task (the rubric says which of them count and for how much)."""


def observe_notebook(task: str, answers: Answers, run: NotebookRun) -> Observed:
    """The notebook's Part 2 data, parsed once (checks take this, never the raw payload)."""
    return Observed(task, observe(task, answers.observed.get("part2"), run), dict(answers.missing))


def check_part2(task: str, observed: Observed, run: NotebookRun, rubric: Rubric, hidden: HiddenSet) -> list[Finding]:
    """One Finding per item of `task` in the rubric, in the rubric's order."""
    if task not in ITEM_CHECKS:
        raise ValueError(f"unknown Part 2 task {task!r}; expected {T1} or {T2}")
    obs, ctx = observed.observation, Context(run, observed.missing, rubric.part2, hidden)
    called_with = obs.called_with if isinstance(obs, (T1Observation, T2Observation)) else {}
    findings = []
    for item in rubric.questions[task].items if task in rubric.questions else ITEMS[task]:
        if item == "runs":
            findings.append(runs_finding(run, called_with))
        elif isinstance(obs, Unjudged) and item in ITEM_CHECKS[task]:
            findings.append(Finding(item, obs.status, 0.0, obs.why))
        elif item in ITEM_CHECKS[task]:
            findings.append(ITEM_CHECKS[task][item](obs, ctx))
        else:
            findings.append(Finding(item, "error", 0.0, f"the grader has no Part 2 check for item {item!r}"))
    return findings
