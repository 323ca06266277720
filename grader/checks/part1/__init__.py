"""Part 1 (H3P1) checkers: Answers + Rubric -> one Finding per item of Q1..Q5. Pure: no I/O, no kernel.

Every verdict comes from a behaviour check of an extracted answer: expressions are evaluated at random
points drawn from the rubric's seed (strings here, through expr.py; callables in the kernel, through the
probes that part1_request asks for), and compared with values the grader computes itself.

Q1's concrete loss: the rubric's `loss` where it is defined. Binary cross-entropy needs y_hat in (0, 1),
so it is used for the groups whose f3 is sigmoid; every other group uses L = (y_hat - t)**2 / 2. The
answers only see dL_dy_hat, so the choice cannot change a verdict; it only keeps the truth finite.
"""

from __future__ import annotations

from typing import Callable

from ...model import Answers, Finding, Request, Value
from ...rubric import Rubric
from .common import Verdict, probe_key
from .q1 import Q1_LEAVES, Q1_NAMES, q1_groups, q1_item, q1_points, q1_probes, q1_reference
from .q2 import dy_dz_item, graph_item, q2_points
from .q3 import activation_item, units_item
from .q4 import denormalize_item, needed_item, normalize_item, q4_probes, q4_targets
from .q5 import bounded_item, half_line_item, q5_4_item, q5_probes
from .text import free_text_item, keyword_in

__all__ = ["Q1_LEAVES", "Q1_NAMES", "check_part1", "keyword_in", "part1_request", "probe_key", "q1_groups",
           "q1_points", "q1_reference", "q2_points", "q4_targets"]

PART1_QUESTIONS = ("Q1", "Q2", "Q3", "Q4", "Q5")


def part1_request(rubric: Rubric) -> Request:
    """Every Part 1 answer name, and the probes that evaluate callable answers in the kernel."""
    names = tuple(item for q in PART1_QUESTIONS if q in rubric.questions
                  for item in rubric.questions[q].items)
    probes = q1_probes(rubric, names) + q4_probes(rubric, names) + q5_probes(rubric, names)
    return Request(names=names, probes=probes)


def check_part1(answers: Answers, rubric: Rubric) -> list[Finding]:
    """Exactly one Finding per item of Q1..Q5 in the rubric, in the rubric's order."""
    return [_item_finding(item, answers, rubric)
            for q in PART1_QUESTIONS if q in rubric.questions
            for item in rubric.questions[q].items]




def _item_finding(item: str, answers: Answers, rubric: Rubric) -> Finding:
    if item in answers.missing:
        return Finding(item, "missing", 0.0, f"No answer for `{item}`: {answers.missing[item].rstrip('.')}.")
    if item not in answers.values:
        return Finding(item, "missing", 0.0, f"No answer for `{item}`: it was not read from the notebook.")
    if answers.values[item].kind == "none":
        return Finding(item, "missing", 0.0, f"No answer for `{item}`: it is still None.")
    check = ITEM_CHECKS.get(item)
    if check is None:
        return Finding(item, "error", 0.0, f"The grader has no check for the item `{item}`; "
                                           "an instructor will score it.")
    try:
        return check(item, answers.values[item], answers, rubric)
    except Verdict as bad:
        return Finding(item, bad.status, 0.0, bad.message, bad.counterexample)
    except Exception as exc:  # the grader's own bug must cost this item a review, not the class a run
        return Finding(item, "error", 0.0, f"The grader failed while checking `{item}` "
                                           f"({type(exc).__name__}: {exc}); an instructor will score it.")


ITEM_CHECKS: dict[str, Callable[[str, Value, Answers, Rubric], Finding]] = {
    **{name: q1_item for name in Q1_NAMES},
    "graph_edges": graph_item,
    "dy_dz": dy_dz_item,
    "net1_output_units": units_item(1, "binary cross-entropy"),
    "net1_output_activation": activation_item("sigmoid", "binary cross-entropy"),
    "net2_output_units": units_item(2, "cross-entropy"),
    "net2_output_activation": activation_item("softmax", "cross-entropy"),
    "output_normalization_needed": needed_item,
    "normalize_output": normalize_item,
    "denormalize_output": denormalize_item,
    "f_nonneg": half_line_item(+1),
    "f_nonpos": half_line_item(-1),
    "f_bounded": bounded_item,
    "q5_4_answer": q5_4_item,
    "q3_explanation": free_text_item,
    "q4_explanation": free_text_item,
    "q5_4_explanation": free_text_item,
}
