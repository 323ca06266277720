"""The kernel's Part 2 data (untrusted JSON from grader/kernel/part2.py) -> typed observations.

Parsed once per notebook, defensively: a malformed entry becomes a failed Call or an absent value,
never an exception, and only the shapes asked for survive. Checkers take these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...extract import numbers, to_float
from ...kernel.protocol import ERROR_KINDS
from ...model import HiddenSet, NotebookRun
from ...rubric import Part2Params

T1, T2 = "H3P2T1", "H3P2T2"
MAX_NUMBERS = 200_000
MAX_PROBES = 20


@dataclass(frozen=True)
class Call:
    """What one call of the student's code gave: an array, or why there is none."""

    ok: bool
    array: np.ndarray | None = None
    kind: str = ""
    """When not ok: a protocol.ERROR_KINDS code, or "unreadable" (the data came back malformed)."""
    detail: str = ""
    """The words for the report ("ValueError: ...", "predict is not defined")."""


NOT_CALLED = Call(False, kind="not_called", detail="it was not called")


@dataclass(frozen=True)
class Stats:
    """Per-column min/max over finite values of one range probe, or why it failed."""

    ok: bool
    shape: tuple[int, ...] = ()
    mins: tuple[float, ...] = ()
    maxs: tuple[float, ...] = ()
    nonfinite: int = 0
    kind: str = ""
    """When not ok: as Call.kind."""
    detail: str = ""


@dataclass(frozen=True)
class Loss:
    """What the kernel saw of a loss object (names only; the grader maps them to kinds)."""

    kind: str
    """"str", "class", "function", "object" or "other"."""
    name: str = ""
    module: str = ""
    fn_name: str = ""
    from_logits: bool = False


@dataclass(frozen=True)
class Net:
    """A T1 network: its raw outputs on preprocess(hidden X) and on scaled rows, and its loss."""

    name: str
    present: bool
    framework: str = ""
    outputs: Call = NOT_CALLED
    probes: tuple[Call, ...] = ()
    loss: Loss | None = None


@dataclass(frozen=True)
class Spread:
    """preprocess on the grader's training rows: the per-column spread of its result."""

    call: Call
    """ok, or why preprocess gave nothing (array is not kept: the spread is what is judged)."""
    std: tuple[float, ...] = ()
    raw_std: tuple[float, ...] = ()
    nonfinite: int = 0


@dataclass(frozen=True)
class T1Observation:
    preprocess_train: Spread
    preprocess_hidden: Call
    nets: dict[str, Net]
    called_with: dict[str, str] = field(default_factory=dict)
    """Student function -> how the grader had to call it (a DataFrame instead of an array)."""


@dataclass(frozen=True)
class Model:
    present: bool
    framework: str = ""
    outputs: Call = NOT_CALLED


@dataclass(frozen=True)
class Extreme:
    """Range probe on hidden X times `scale`, through predict and through the model."""

    scale: float
    predict: Stats
    model: Stats


@dataclass(frozen=True)
class T2Observation:
    preprocess_hidden: Call
    model: Model
    denorm_outputs: Call
    predict: Call
    normalize: Call
    roundtrip: Call
    extremes: tuple[Extreme, ...]
    called_with: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Unjudged:
    """No usable data: every item but `runs` gets this status and reason."""

    status: str
    why: str


Observation = T1Observation | T2Observation | Unjudged


def observe(task: str, data: Any, run: NotebookRun) -> Observation:
    """The kernel's extra["part2"] for `task` as a typed observation (Unjudged when there is none)."""
    unjudged = _unjudged(task, data, run)
    if unjudged is not None:
        return unjudged
    return _t1(data) if task == T1 else _t2(data)


def _unjudged(task: str, data: Any, run: NotebookRun) -> Unjudged | None:
    if isinstance(data, dict) and "error" in data and len(data) == 1:
        return Unjudged("error", f"the grader's Part 2 probes failed in the kernel: {text(data['error'])}")
    if isinstance(data, dict) and data.get("task") == task:
        return None
    if isinstance(data, dict) and data.get("task") in (T1, T2):
        return Unjudged("error", f"the grader's Part 2 probes answered for {text(data.get('task'), 20)}, not {task}")
    if data is None and run.status != "ok":
        return Unjudged("missing", f"not graded: the notebook did not finish ({run.reason or run.status.replace('_', ' ')})")
    if data is None:
        return Unjudged("missing", "not graded: the notebook's Part 2 objects could not be read")
    return Unjudged("error", "the grader's Part 2 probes returned data it cannot read")


# ----------------------------------------------------------------------------- pieces


def text(value: Any, limit: int = 300) -> str:
    return str(value)[:limit] if value is not None else ""


def _dict(data: Any, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _floats(value: Any) -> tuple[float, ...] | None:
    if not isinstance(value, list):
        return None
    out = [to_float(v) for v in value]
    return None if any(v is None for v in out) else tuple(out)


def _count(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def array(data: Any) -> np.ndarray | None:
    """{"shape", "flat"} -> float64 array, or None when it is not exactly that."""
    flat = numbers(data) if isinstance(data, dict) and len(data.get("flat") or ()) <= MAX_NUMBERS else None
    if flat is None or len(data["shape"]) > 8:
        return None
    return np.asarray(flat, dtype=np.float64).reshape(data["shape"])


def call(data: Any) -> Call:
    if not isinstance(data, dict):
        return NOT_CALLED
    if data.get("ok") is True:
        arr = array(data.get("value"))
        return Call(True, arr) if arr is not None else Call(False, kind="unreadable", detail="its result could not be read")
    kind = data.get("kind") if data.get("kind") in ERROR_KINDS else "unreadable"
    return Call(False, kind=kind, detail=text(data.get("detail")) or "unknown error")


def _status(data: Any) -> Call:
    """An {"ok": True, ...} entry whose numbers are kept elsewhere (preprocess's shape, a spread)."""
    if isinstance(data, dict) and data.get("ok") is True:
        return Call(True)
    return call(data)


def stats(data: Any) -> Stats:
    if not isinstance(data, dict):
        return Stats(False, kind="not_called")
    if data.get("ok") is not True:
        kind = data.get("kind") if data.get("kind") in ERROR_KINDS else "unreadable"
        return Stats(False, kind=kind, detail=text(data.get("detail"), 200) or "unknown error")
    mins, maxs, shape = _floats(data.get("min")), _floats(data.get("max")), data.get("shape")
    if mins is None or maxs is None or len(mins) != len(maxs) or not isinstance(shape, list) \
            or not all(type(d) is int for d in shape):
        return Stats(False, kind="unreadable")
    return Stats(True, tuple(shape), mins, maxs, _count(data.get("nonfinite")))


def _loss(data: Any) -> Loss | None:
    if not isinstance(data, dict):
        return None
    return Loss(text(data.get("kind"), 20), text(data.get("name"), 100), text(data.get("module"), 100),
                text(data.get("fn_name"), 100), data.get("from_logits") is True)


def _called_with(data: dict) -> dict[str, str]:
    return {text(name, 40): text(how, 200) for name, how in list(_dict(data, "called_with").items())[:3]}


# ----------------------------------------------------------------------------- tasks


def _net(data: dict, name: str) -> Net:
    raw = _dict(data, name)
    if raw.get("present") is not True:
        return Net(name, False)
    probes = raw.get("probes") if isinstance(raw.get("probes"), list) else []
    return Net(name, True, text(raw.get("framework"), 100), call(raw.get("outputs")),
               tuple(call(p.get("outputs")) for p in probes[:MAX_PROBES] if isinstance(p, dict)),
               _loss(raw.get("loss")))


def _spread(data: dict) -> Spread:
    status = _status(data)
    if not status.ok:
        return Spread(status)
    std = _floats(data.get("std"))
    if not std:
        return Spread(Call(False, kind="unreadable", detail="the spread of preprocess(X_train) could not be read"))
    return Spread(status, std, _floats(data.get("raw_std")) or (), _count(data.get("nonfinite")))


def _t1(data: dict) -> T1Observation:
    nets = _dict(data, "nets")
    return T1Observation(_spread(_dict(data, "preprocess_train")), _status(data.get("preprocess_hidden")),
                         {name: _net(nets, name) for name in ("net1", "net2")}, _called_with(data))


def _extremes(data: dict) -> tuple[Extreme, ...]:
    entries = data.get("extremes") if isinstance(data.get("extremes"), list) else []
    return tuple(Extreme(to_float(e["scale"]), stats(e.get("predict")), stats(e.get("model")))
                 for e in entries[:MAX_PROBES] if isinstance(e, dict) and to_float(e.get("scale")) is not None)


def _t2(data: dict) -> T2Observation:
    raw = _dict(data, "model")
    model = Model(True, text(raw.get("framework"), 100), call(raw.get("outputs"))) \
        if raw.get("present") is True else Model(False)
    return T2Observation(_status(data.get("preprocess_hidden")), model, call(data.get("denorm_outputs")),
                         call(data.get("predict")), call(data.get("normalize")), call(data.get("roundtrip")),
                         _extremes(data), _called_with(data))


def framework_of(observation: Observation) -> str | None:
    """"torch", "keras", another type name, or None: what the notebook's model(s) are built with."""
    if isinstance(observation, T2Observation):
        candidates = [(observation.model.present, observation.model.framework)]
    elif isinstance(observation, T1Observation):
        candidates = [(net.present, net.framework) for net in observation.nets.values()]
    else:
        return None
    return next((fw for present, fw in candidates if present and fw), None)


@dataclass(frozen=True)
class Context:
    """What a Part 2 item checker may use besides the observation."""

    run: NotebookRun
    missing: dict[str, str]
    """Contract name -> why it is absent (from extract), for the items that need it."""
    params: Part2Params
    hidden: HiddenSet
    """Hidden features and labels: labels are compared with predictions here, in the grader."""


@dataclass(frozen=True)
class Observed:
    """What a Part 2 notebook gave the grader: its typed observation and why contract names are absent."""

    task: str
    observation: Observation
    missing: dict[str, str] = field(default_factory=dict)
