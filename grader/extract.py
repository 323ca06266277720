"""Request -> kernel code; NotebookRun payload -> Answers (plain data, type- and size-checked).

The payload comes from the student's process, so it is parsed as untrusted JSON: only the kinds
and shapes we asked for survive, anything else becomes a "missing" reason. Nothing here is graded.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from . import kernel
from .kernel.protocol import MAX_CONTAINER, MAX_DEPTH, MAX_KEY, MAX_STR, NONFINITE, VALUE_KINDS
from .model import Answers, KernelJob, NotebookRun, ProbeResult, Request, Value


def request_spec(request: Request) -> dict[str, Any]:
    """The request as the kernel receives it (JSON data in a comm message)."""
    return {
        "names": list(request.names),
        "probes": [{**asdict(p), "chain": list(p.chain), "args": list(p.args)} for p in request.probes],
        "extra": request.extra,
    }


def kernel_code(request: Request, modules: tuple[str, ...] = ()) -> KernelJob:
    """What the kernel needs to answer `request`: the kernel-side modules (grader/kernel/: the base
    ones and the task's handlers, e.g. "part2") and the request as data."""
    return KernelJob(kernel.sources(modules), request_spec(request))


def to_float(x: Any) -> float | None:
    """A JSON number (or "inf"/"-inf"/"nan") as float; None for anything else (bools included)."""
    if type(x) in (int, float):
        return float(x)
    if x in NONFINITE:
        return float(x)
    return None


def numbers(data: Any) -> list[float] | None:
    """Probe value {"shape", "flat"} -> flat list of floats, or None if it is not that."""
    if not isinstance(data, dict) or not isinstance(data.get("flat"), list):
        return None
    shape = data.get("shape")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        return None
    flat = [to_float(v) for v in data["flat"]]
    if any(v is None for v in flat) or len(flat) != math.prod(shape):
        return None
    return flat


def _value(raw: Any) -> Value | str:
    if not isinstance(raw, dict) or raw.get("kind") not in VALUE_KINDS:
        return "the value could not be read"
    kind, value, tname = raw["kind"], raw.get("value"), str(raw.get("type", ""))[:80]
    if kind == "float":
        value = to_float(value)
        if value is None:
            return "the number could not be read"
    elif kind == "int" and type(value) is not int:
        return "the number could not be read"
    elif kind == "bool" and type(value) is not bool:
        return "the value could not be read"
    elif kind == "str" and (type(value) is not str or len(value) > MAX_STR):
        return "the text could not be read (too long?)"
    elif kind == "list" and not _plain_list(value):
        return "the list holds values that are not numbers, strings or lists"
    elif kind == "dict" and not _plain_dict(value):
        return "the dict holds keys that are not strings or values that are not numbers, strings or lists"
    elif kind == "other":
        why = str(raw.get("why", ""))[:200]
        return f"it is a {tname or 'value'} the grader cannot read" + (f" ({why})" if why else "")
    return Value(kind, value if kind not in ("callable", "none") else None, tname)


def _plain_list(value: Any, depth: int = 0) -> bool:
    if type(value) is not list or depth > MAX_DEPTH:
        return False
    return all(_plain_item(v, depth) for v in value)


def _plain_dict(value: Any, depth: int = 0) -> bool:
    # isinstance: the payload arrives as nbformat's NotebookNode, a dict parsed from JSON
    if not isinstance(value, dict) or depth > MAX_DEPTH or len(value) > MAX_CONTAINER:
        return False
    # None values are allowed: an adjacency dict says {"y": None} for a node without successors
    return all(type(k) is str and len(k) <= MAX_KEY for k in value) and \
        all(v is None or _plain_item(v, depth) for v in value.values())


def _plain_item(v: Any, depth: int) -> bool:
    return (type(v) in (str, int, float, bool) or _plain_list(v, depth + 1)
            or _plain_dict(v, depth + 1))


def _failed_definer(run: NotebookRun, name: str) -> str:
    """Why a name is missing when the cell that defines it failed: ": cell 12, which defines it,
    failed (ValueError: ...)"; "" when no failing cell defines it."""
    index = run.assigned_in.get(name)
    failure = next((f for f in run.failures if f.index == index), None) if index is not None else None
    if failure is None:
        return ""
    evalue = " ".join(failure.evalue.split())[:160]
    return f": cell {index + 1}, which defines it, failed ({failure.ename}{': ' + evalue if evalue else ''})"


def read_answers(run: NotebookRun, request: Request) -> Answers:
    """Answers of one run. Every requested name is either a Value or has a reason in `missing`."""
    payload = run.payload if isinstance(run.payload, dict) else {}
    if not payload:
        why = run.reason or "the notebook's answers could not be read"
        return Answers(run.task, missing={name: f"not graded: {why}" for name in request.names})
    raw_values = payload.get("values") if isinstance(payload.get("values"), dict) else {}
    values, missing = {}, {}
    for name in request.names:
        if name not in raw_values:
            missing[name] = f"`{name}` is not defined" + (_failed_definer(run, name) or " when the notebook has run")
            continue
        parsed = _value(raw_values[name])
        if isinstance(parsed, str):
            missing[name] = f"`{name}`: {parsed}"
        else:
            values[name] = parsed
    probes = {}
    raw_probes = payload.get("probes") if isinstance(payload.get("probes"), dict) else {}
    wanted = {p.key for p in request.probes}
    for key, raw in raw_probes.items():
        if key not in wanted or not isinstance(raw, dict):
            continue
        if raw.get("ok") is True and numbers(raw.get("value")) is not None:
            probes[key] = ProbeResult(True, raw["value"])
        else:
            probes[key] = ProbeResult(False, error=str(raw.get("detail") or "returned something that is not numbers")[:500])
    observed = payload.get("extra") if isinstance(payload.get("extra"), dict) else {}
    return Answers(run.task, values, probes, missing, observed, _notes(run, request, values))


def _notes(run: NotebookRun, request: Request, values: dict) -> tuple[str, ...]:
    if values:
        return ()
    return (f"{run.path.name} defines none of the names {run.task} asks for ({', '.join(request.names[:3])}, "
            "...): is it the notebook of another task, or saved before its cells were written?",)
