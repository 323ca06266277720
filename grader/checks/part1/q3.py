"""Q3: output layers for binary cross-entropy vs cross-entropy (units and activation)."""

from __future__ import annotations

import math
import re
from typing import Callable


from ...model import Answers, Finding, Value
from ...rubric import Rubric
from .common import Verdict, kind_words, shown


# Words (letters only) that name each output activation; "soft-max", "Soft Max" reduce to "softmax".
_SIGMOID_NAMES = ("sigmoid", "logistic", "σ", "sigma", "expit")


_SOFTMAX_NAMES = ("softmax", "softargmax", "normalizedexponential")


_NUMBER_WORDS = {"one": 1, "two": 2, "zero": 0, "three": 3, "single": 1}


def units_item(expected: int, loss: str) -> Callable:
    def check(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
        units = _int_of(name, value)
        if units == expected:
            return Finding(name, "pass", 1.0, f"{expected} output unit(s) for {loss}.")
        why = ("a single sigmoid unit gives P(class 1); P(class 0) = 1 - P(class 1)" if expected == 1 else
               "one unit per class, whose softmax gives the probability of each class")
        return Finding(name, "fail", 0.0, f"`{name}` is {units}, but a network trained with {loss} on two "
                                          f"classes has {expected} output unit(s): {why}.")
    return check


def _int_of(name: str, value: Value) -> int:
    """Lenient, as a TA reads it: 1, 1.0, "1", "one", "2 units", "2 (one per class)", "two units"."""
    if value.kind == "int":
        return value.value
    if value.kind == "float" and math.isfinite(value.value) and value.value == int(value.value):
        return int(value.value)
    if value.kind == "str":
        found = _integers_named(value.value)
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            raise Verdict("review", f"`{name}` = {shown(value, 200)} names several numbers "
                                      f"({', '.join(map(str, sorted(found)))}), so the grader cannot tell which "
                                      "is the number of output units; an instructor will read it (write just "
                                      "the number, e.g. 2).")
    raise Verdict("fail", f"`{name}` must be a whole number (int), but it is of type {kind_words(value)}.")


def _integers_named(text: str) -> set[int]:
    """The integers a text names: its numerals, or else its number words ("2 (one per class)" is 2:
    a numeral says the count, the words around it explain it)."""
    numerals = [float(m) for m in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\d.])", text)]
    if numerals:
        # 1.5 units names no count: the caller then says a whole number is needed
        return {int(v) for v in numerals} if all(v == int(v) for v in numerals) else set()
    words = re.findall(r"[a-z]+", text.lower())
    return {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}


def activation_item(expected: str, loss: str) -> Callable:
    def check(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
        if value.kind != "str":
            raise Verdict("fail", f"`{name}` must be the activation's name as a string "
                                    f"(e.g. \"{expected}\"), but it is of type {kind_words(value)}.")
        if _activation_name(value.value) == expected:
            return Finding(name, "pass", 1.0, f"{expected} output for {loss}.")
        why = ("BCE takes one probability in (0, 1), which a sigmoid gives" if expected == "sigmoid" else
               "cross-entropy takes a probability distribution over the two classes, which a softmax gives")
        return Finding(name, "fail", 0.0, f"`{name}` is {shown(value, 100)}, but the output activation "
                                          f"for {loss} is {expected}: {why}.")
    return check


def _activation_name(text: str) -> str:
    """sigmoid / softmax when the text names exactly one of the two ('nn.Softmax(dim=1)', 'Soft-max',
    'logistic sigmoid', 'σ'), otherwise the text reduced to its letters."""
    letters = re.sub(r"[^a-zσ]", "", text.lower())
    named = {family for family, words in (("sigmoid", _SIGMOID_NAMES), ("softmax", _SOFTMAX_NAMES))
             if any(word in letters for word in words)}
    return named.pop() if len(named) == 1 else letters
