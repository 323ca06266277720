"""What every Part 1 check shares: reading an answer (expression, number, probe result), comparing
numbers, and the Verdict an answer that cannot be judged as given raises."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...extract import numbers
from ...model import Answers, Value
from ..expr import ExprError, evaluate, parse_answer


# Independent random streams per question: default_rng([rubric.seed, stream]).
STREAM_Q1, STREAM_Q2, STREAM_Q4 = 1, 2, 4


_YES, _NO = {"true", "yes", "y"}, {"false", "no", "n"}


class Verdict(Exception):
    """An answer that cannot be judged as given; becomes a Finding with this status and message."""

    def __init__(self, status: str, message: str, counterexample: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.counterexample = status, message, counterexample


def number_text(v: float) -> str:
    return f"{v:.6g}" if math.isfinite(v) else str(v)


def close(given: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Element-wise match, scaled by the larger magnitude; a non-finite given value never matches."""
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(given), np.abs(expected))
        return np.isfinite(given) & (np.abs(given - expected) <= atol + rtol * scale)


def probe_values(answers: Answers, name: str, key: str, what: str) -> np.ndarray:
    """The numbers a callable answer returned for one probe (flat float64), or Verdict."""
    result = answers.probes.get(key)
    if result is None:
        raise Verdict("error", f"`{name}` is a function, but the grader got no result from calling it "
                                 f"on {what}; an instructor will check it.")
    if not result.ok:
        cut = " (the kernel keeps the first 500 characters of an error)" if len(result.error) >= 500 else ""
        raise Verdict("fail", f"Calling `{name}` on {what} raised an error: {result.error}{cut}")
    flat = numbers(result.value)
    if flat is None:
        raise Verdict("error", f"`{name}` returned something the grader cannot read on {what}.")
    return np.asarray(flat, dtype=np.float64)


def probe_shape(answers: Answers, key: str) -> tuple[int, ...]:
    return tuple(answers.probes[key].value["shape"])


def expression_of(name: str, value: Value, symbols: tuple[str, ...], functions: tuple[str, ...] = (),
                   derivatives: dict[str, str] | None = None):
    try:
        return parse_answer(value.value, symbols, functions, derivatives)
    except ExprError as exc:
        raise Verdict("fail", f"`{name}` = {shown(value)} could not be read as an expression: {exc}.")


def shown(value: Value, limit: int = 300) -> str:
    """The answer's text for a message; a cut says so, and a SymPy object says it was printed."""
    text = value.value
    shown = repr(text) if len(text) <= limit else \
        f"{text[:limit]!r}... (the first {limit} of {len(text)} characters; the rest is in your notebook)"
    if value.type_name and value.type_name not in ("str", "str_"):
        shown += f" (a {value.type_name} object, read as the text it prints as)"
    return shown


def evaluated(name: str, expr, values: dict[str, Any], n: int) -> np.ndarray:
    try:
        out = evaluate(expr, values)
        return np.broadcast_to(out, (n,)).astype(np.float64)
    except Exception as exc:  # e.g. a shape that does not broadcast; the student's expression is at fault
        raise Verdict("fail", f"`{name}` could not be evaluated ({type(exc).__name__}: {exc}).")


def bool_of(name: str, value: Value) -> bool:
    """True/False; the strings yes/no/true/false are read too (their meaning is not in doubt)."""
    if value.kind == "bool":
        return bool(value.value)
    if value.kind == "str" and value.value.strip().lower() in _YES | _NO:
        return value.value.strip().lower() in _YES
    raise Verdict("fail", f"`{name}` must be True or False (a bool), but it is of type {kind_words(value)}.")


def kind_words(value: Value) -> str:
    shown = f" ({value.value!r})" if value.kind in ("str", "int", "float", "bool") else ""
    words = f"{value.type_name or value.kind}{shown}"
    return words if len(words) <= 200 else f"{words[:200]}... (cut at 200 characters)"

def probe_key(name: str, tag: str) -> str:
    """Probe keys are "<answer name>#<what it was called on>", e.g. "dL_dw1#2" for Q1 group 2."""
    return f"{name}#{tag}"

def read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a
