"""What the grader and the code in the student's kernel agree on: names, sizes, encodings, shapes.

Imported by both sides (the kernel gets this file's source through grader/kernel/loader.py), so a
limit or a name changes in one place. Plain Python only: it runs before the student's first cell.

Payload (the kernel's signed answer, parsed by grader/extract.py):
  {"values": {name: Plain}, "probes": {key: Call}, "extra": {handler: data}, "integrity": [str]}
  Plain = {"kind": one of VALUE_KINDS, "value"?: JSON, "type": str, "why"?: str}
  Call  = {"ok": True, "value": Numbers} | {"ok": False, "kind": one of ERROR_KINDS, "detail": str}
  Numbers = {"shape": [int], "flat": [float | "inf" | "-inf" | "nan"]}
"""

TARGET = "hw3-grader-answers"
"""The comm target the grader opens to ask for the answers (the request travels as its data)."""
KEY_TARGET = "hw3-grader-key"
"""The comm target, open only until the first student cell, that takes the answer-signing key. The
key never travels as code: IPython caches every cell's source (linecache), and a student's cell
could read it there."""

MAX_STR = 20_000
"""Longest string answer."""
MAX_ITEMS = 200_000
"""Most numbers in one probe result."""
MAX_CONTAINER = 10_000
"""Most elements of a list or dict answer."""
MAX_DEPTH = 3
"""Deepest nesting of a list or dict answer."""
MAX_KEY = 200
"""Longest dict key (Q2 adjacency dicts have node names as keys)."""
MAX_ERROR = 500
"""Longest error detail sent back."""

VALUE_KINDS = ("str", "bool", "int", "float", "list", "dict", "callable", "none", "other")
ERROR_KINDS = ("not_defined", "not_callable", "raised", "timed_out", "too_large", "bad_shape",
               "not_called", "skipped", "no_input")
"""Why a call of the student's code gave no result: the name is absent, is not a function, the call
raised, ran past its time, returned too many numbers or the wrong number of rows, was not made
because an earlier step failed, was skipped when the probes' time budget ran out, or the grader sent
nothing to call it on."""

NONFINITE = ("inf", "-inf", "nan")
"""JSON has no inf/nan: non-finite floats travel as these strings."""


def finite(x):
    """A float as JSON can carry it."""
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return x


def failed(kind, detail=""):
    """A Call that gave no result."""
    return {"ok": False, "kind": kind, "detail": str(detail)[:MAX_ERROR]}
