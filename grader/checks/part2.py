"""Part 2 checkers (H3P2T1 classification, H3P2T2 regression, the both-frameworks bonus).

Pure functions: no I/O, no kernel. `part2_request` says what the kernel-side handler
(grader/kernel_part2.py, HANDLERS["part2"]) must look at: the hidden FEATURES only, never labels.
`check_part2` judges the plain JSON that handler returned (answers.extra["part2"]), which comes from
the student's process and is therefore parsed defensively: anything malformed is a finding, never an
exception. Labels are compared with predictions here, in the grader's process.

Output kinds (told from behaviour on the hidden rows and on strongly scaled inputs):
  "probability"   every value in [0, 1] (sigmoid-like)
  "softmax"       every value in [0, 1] and rows summing to 1 (two or more units)
  "log_softmax"   every value <= 0 and logsumexp of each row == 0
  "constant_one"  one unit that is always 1 (a softmax over a single unit)
  "logits"        anything else (unbounded)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..extract import numbers, to_float
from ..model import PIP_ENAME, Answers, Finding, HiddenSet, NotebookRun, Request

T1, T2 = "H3P2T1", "H3P2T2"
NAMES = {
    T1: ("preprocess", "net1", "net2", "loss1", "loss2"),
    T2: ("preprocess", "model", "normalize_output", "denormalize_output", "predict"),
}
"""Contract names each task's notebook must leave defined (read with the extraction request)."""
ITEMS = {
    T1: ("runs", "net1_output_units", "net2_output_units", "net1_loss", "net2_loss",
         "input_normalization", "net1_accuracy", "net2_accuracy"),
    T2: ("runs", "output_units", "output_normalization", "predict_shape", "output_range",
         "income_error", "age_error"),
}
"""Items this module can judge, per task (the rubric says which of them count and for how much)."""
STRUCTURAL = {
    T1: ("runs", "net1_output_units", "net2_output_units", "net1_loss", "net2_loss", "input_normalization"),
    T2: ("runs", "output_units", "output_normalization", "predict_shape", "output_range"),
}
"""Items a notebook must pass for the frameworks bonus ("no bugs in your code")."""
BONUS_ITEM = "both_frameworks"
FRAMEWORK_NAMES = {"torch": "PyTorch", "keras": "Keras"}
TARGETS = ("income", "age")
MAX_NUMBERS = 200_000


# ----------------------------------------------------------------------------- rubric `part2:`


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bar(_Strict):
    """Linear partial credit: full marks at `full` or better, none at `zero` or worse."""

    full: float
    zero: float

    def fraction(self, value: float) -> float:
        if not math.isfinite(value):
            return 0.0
        share = (value - self.zero) / (self.full - self.zero)
        return round(min(1.0, max(0.0, share)), 4)


class AccuracyBar(Bar):
    full: float = Field(ge=0, le=1)
    zero: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _order(self):
        if not self.full > self.zero:
            raise ValueError(f"full ({self.full:g}) must be above zero ({self.zero:g}) for an accuracy")
        return self


class ErrorBar(Bar):
    full: float = Field(ge=0)
    zero: float = Field(ge=0)

    @model_validator(mode="after")
    def _order(self):
        if not self.full < self.zero:
            raise ValueError(f"full ({self.full:g}) must be below zero ({self.zero:g}) for an error")
        return self


class AccuracyBars(_Strict):
    net1: AccuracyBar = AccuracyBar(full=0.88, zero=0.55)
    net2: AccuracyBar = AccuracyBar(full=0.88, zero=0.55)


class MaeBars(_Strict):
    income: ErrorBar = ErrorBar(full=400, zero=2500)
    age: ErrorBar = ErrorBar(full=4, zero=25)


class Ranges(_Strict):
    income: tuple[float, float] = (0.0, 10000.0)
    age: tuple[float, float] = (0.0, 100.0)

    @model_validator(mode="after")
    def _order(self):
        for name in TARGETS:
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"{name}: the low end ({lo:g}) must be below the high end ({hi:g})")
        return self

    def of(self, j: int) -> tuple[float, float]:
        return getattr(self, TARGETS[j])


class T1Params(_Strict):
    accuracy: AccuracyBars = AccuracyBars()
    """Hidden-set accuracy bars per net."""
    max_std_ratio: float = Field(10.0, gt=1)
    """preprocess(X_train): the largest column std may be at most this many times the smallest."""
    train_rows: int = Field(500, ge=10)
    """Training rows sent into the kernel to observe preprocess: a sample drawn with the rubric's seed
    from the grader's own copy of the training CSV (500 of 2000 keep the request small)."""
    probe_scales: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, -1000.0)
    """Preprocessed rows are multiplied by these to tell logits from bounded outputs."""
    probe_rows: int = Field(64, ge=1)
    prob_tol: float = Field(1e-4, ge=0)
    """Slack around [0, 1] for 'probability' outputs (float32 rounding)."""
    sum_tol: float = Field(1e-3, ge=0)
    """Slack on 'rows sum to 1' (softmax) and 'logsumexp is 0' (log-softmax)."""


class T2Params(_Strict):
    mae: MaeBars = MaeBars()
    """Hidden-set mean absolute error bars per output."""
    ranges: Ranges = Ranges()
    range_tol: float = Field(1e-4, ge=0)
    """Slack on the ranges, as a share of each range's width."""
    extreme_scales: tuple[float, ...] = (1e3, -1e3, 1e6, -1e6, -1.0)
    """The hidden features are multiplied by these; predictions must stay in range for each."""
    normalized_max_abs: float = Field(10.0, gt=0)
    """The model's raw outputs count as normalized when no |value| exceeds this."""
    match_rtol: float = Field(1e-3, ge=0)
    match_atol: float = Field(1e-4, ge=0)
    """predict(X) vs denormalize_output(outputs): absolute slack as a share of each range's width."""
    roundtrip_rows: int = Field(50, ge=2)


class Part2Params(_Strict):
    """The rubric's `part2:` section. Every key has a default; unknown keys are errors."""

    seconds_per_call: float = Field(30.0, gt=0)
    """Limit on each call of the student's code made by the probes."""
    budget: float = Field(240.0, gt=0)
    """Limit on all the probes of one notebook together."""
    unknown_loss_fraction: float = Field(0.5, ge=0, le=1)
    """Provisional share for a loss the grader does not recognise (the item goes to review)."""
    H3P2T1: T1Params = T1Params()
    H3P2T2: T2Params = T2Params()


def part2_params(source: Any) -> Part2Params:
    """Part2Params from a Rubric (its `part2` field), a dict, or None (all defaults).

    Raises ValueError naming the offending key (e.g. "rubric part2.H3P2T1.accuracy.net1.full: ...").
    """
    raw = getattr(source, "part2", source)
    if raw is None:
        raw = {}
    if isinstance(raw, Part2Params):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"rubric part2: expected a mapping, got {type(raw).__name__}")
    try:
        return Part2Params.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        hint = " (unknown key: check its spelling)" if err["type"] == "extra_forbidden" else ""
        raise ValueError(f"rubric part2.{key}: {msg}{hint}") from None


# ----------------------------------------------------------------------------- the request


def roundtrip_sample(params: Part2Params) -> np.ndarray:
    """Deterministic [income, age] rows across both ranges for the normalize/denormalize round trip."""
    p = params.H3P2T2
    k = p.roundtrip_rows
    steps = np.arange(k, dtype=np.float64)
    (ilo, ihi), (alo, ahi) = p.ranges.income, p.ranges.age
    income = ilo + (ihi - ilo) * steps / (k - 1)
    age = alo + (ahi - alo) * ((steps * 7) % k) / (k - 1)
    return np.column_stack([income, age])


def training_sample(X: Any, rows: int, seed: int) -> np.ndarray:
    """`rows` training rows drawn without replacement by `seed`, in file order (all of them if fewer)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] <= rows:
        return X
    picked = np.random.default_rng(seed).choice(X.shape[0], size=rows, replace=False)
    return X[np.sort(picked)]


def part2_request(task: str, rubric: Any, hidden: HiddenSet, train: Any = None) -> Request:
    """The extraction request for one Part 2 notebook: contract names + the "part2" handler's spec.

    Only hidden.X enters the spec, never labels. Everything the kernel probes with comes from here,
    because a notebook may overwrite data/ in its scratch folder. `train` is the grader's own copy of the
    task's training set (a HiddenSet read from --data, or its raw feature array); H3P2T1 sends a
    deterministic sample of its rows (T1Params.train_rows, drawn with the rubric's seed) to observe
    preprocess on. Without it the hidden features stand in: they come from the same generator.
    """
    if task not in NAMES:
        raise ValueError(f"unknown Part 2 task {task!r}; expected {T1} or {T2}")
    params = part2_params(rubric)
    X = np.asarray(hidden.X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"hidden features of {task} must be 2-D, got shape {X.shape}")
    spec: dict[str, Any] = {
        "task": task,
        "hidden_X": X.tolist(),
        "seconds": params.seconds_per_call,
        "budget": params.budget,
    }
    columns = feature_names(train if isinstance(train, HiddenSet) else hidden, X.shape[1])
    if columns is not None:
        spec["columns"] = list(columns)
    if task == T1:
        p1 = params.H3P2T1
        spec["probe_scales"] = list(p1.probe_scales)
        spec["probe_rows"] = p1.probe_rows
        source = train.X if isinstance(train, HiddenSet) else X if train is None else train
        seed = getattr(rubric, "seed", 0)
        spec["train_X"] = training_sample(source, p1.train_rows, seed if isinstance(seed, int) else 0).tolist()
    else:
        spec["extreme_scales"] = list(params.H3P2T2.extreme_scales)
        spec["Y_sample"] = roundtrip_sample(params).tolist()
    return Request(names=NAMES[task], extra={"part2": spec}, timeout=params.budget + 60.0)


def feature_names(data: Any, d: int) -> tuple[str, ...] | None:
    """The CSV header's feature names of a data set, when it has exactly d of them."""
    names = tuple(getattr(data, "features", ()) or ())
    return names if len(names) == d and all(isinstance(n, str) and n for n in names) else None


def column_name(names: tuple[str, ...] | None, j: int) -> str:
    """How a message names feature column j: its CSV header (`x3`), else its 1-based position."""
    return f"`{names[j]}`" if names and 0 <= j < len(names) else f"number {j + 1}"


# ----------------------------------------------------------------------------- parsing (untrusted)


def _array(data: Any) -> np.ndarray | None:
    """{"shape", "flat"} from the kernel -> float64 array, or None when it is not exactly that."""
    flat = numbers(data) if isinstance(data, dict) and len(data.get("flat") or ()) <= MAX_NUMBERS else None
    if flat is None or len(data["shape"]) > 8:
        return None
    return np.asarray(flat, dtype=np.float64).reshape(data["shape"])


def _dict(data: Any, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = 300) -> str:
    return str(value)[:limit] if value is not None else ""


def _floats(value: Any) -> list[float] | None:
    if not isinstance(value, list):
        return None
    out = [to_float(v) for v in value]
    return None if any(v is None for v in out) else out


# ----------------------------------------------------------------------------- formatting


def fmt(x: float) -> str:
    """A number for a message: 2.3e7, 10234.5, 0.0012."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.4g}" if abs(x) < 1 else f"{x:.1f}".rstrip("0").rstrip(".")
    mant, exp = f"{x:.1e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def _shape(shape: Any, n: int) -> str:
    """(1000, 2) -> "(N, 2)" when 1000 is the number of rows sent."""
    if not isinstance(shape, (list, tuple)):
        return "?"
    dims = ["N" if d == n else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _scale_label(scale: float) -> str:
    """-1 -> "-X"; 1e6 -> "X*1e6"; -1000 -> "X*-1e3"; 2.5 -> "X*2.5"."""
    if scale == -1:
        return "-X"
    if scale == 1:
        return "X"
    power = math.log10(abs(scale)) if scale else 0.0
    if power >= 2 and power == int(power):
        return f"X*{'-' if scale < 0 else ''}1e{int(power)}"
    return f"X*{fmt(float(scale))}"


def _fallback(data: dict, n: int) -> np.ndarray | None:
    """denormalize_output(model outputs) as (N, 2) when the model itself has two outputs, else None."""
    outputs = _array(_dict(data, "model").get("outputs"))
    den, _ = _call_result(data, "denorm_outputs")
    if outputs is None or outputs.shape != (n, 2) or den is None or den.shape != (n, 2):
        return None
    return den


# ----------------------------------------------------------------------------- runs


def _runs_finding(run: NotebookRun) -> Finding:
    # A `!pip install` line that fails for lack of network raised nothing, and ran on the student's
    # machine: it costs no point (an import that needed it fails on its own and counts).
    failures = [f for f in run.failures if f.ename != PIP_ENAME]
    problems = []
    if run.status != "ok":
        problems.append(f"the notebook did not finish ({run.status.replace('_', ' ')}"
                        + (f": {run.reason}" if run.reason else "") + ")")
    verbs = {"error": "raised", "timeout": "timed out", "kernel_died": "killed the kernel", "limit": "hit a limit"}
    for fail in failures[:2]:
        what = f"{fail.ename}: {fail.evalue}" if fail.kind == "error" else ""
        problems.append(f"cell {fail.index + 1} {verbs.get(fail.kind, 'failed')}" + (f" {what}"[:300] if what else ""))
    if len(failures) > 2:
        problems.append(f"{len(failures) - 2} more cell(s) failed")
    if problems:
        return Finding("runs", "fail", 0.0, "; ".join(problems) + " (cells counted from 1)")
    return Finding("runs", "pass", 1.0, "the notebook ran top to bottom without error")


# ----------------------------------------------------------------------------- H3P2T1


@dataclass(frozen=True)
class _Net:
    name: str
    present: bool
    framework: str = ""
    error: str = ""
    outputs: np.ndarray | None = None
    """Raw outputs on preprocess(hidden X), as (N, units)."""
    units: int | None = None
    kind: str = ""
    example: float = float("nan")
    """An output value that shows the kind (e.g. a logit outside [0, 1])."""
    loss: dict | None = None


def _as_rows(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None or arr.ndim == 0 or arr.ndim > 2:
        return None
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def output_kind(arrays: list[np.ndarray], prob_tol: float = 1e-4, sum_tol: float = 1e-3) -> tuple[str, float]:
    """Classify outputs (each (n, units)) by behaviour; returns (kind, an example value)."""
    finite_rows = [a[np.isfinite(a).all(axis=1)] for a in arrays if a.ndim == 2 and a.shape[0]]
    finite_rows = [a for a in finite_rows if a.size]
    if not finite_rows:
        return "unknown", float("nan")
    units = finite_rows[0].shape[1]
    rows = np.concatenate([a for a in finite_rows if a.shape[1] == units])
    values = rows.ravel()
    in01 = bool(((values >= -prob_tol) & (values <= 1 + prob_tol)).all())
    if units == 1 and in01 and bool((np.abs(values - 1) <= prob_tol).all()):
        return "constant_one", 1.0
    if in01:
        if units >= 2 and bool((np.abs(rows.sum(axis=1) - 1) <= sum_tol).all()):
            return "softmax", float(values.max())
        return "probability", float(values.max())
    if units >= 2 and bool((values <= prob_tol).all()):
        top = rows.max(axis=1, keepdims=True)
        lse = (top + np.log(np.exp(rows - top).sum(axis=1, keepdims=True))).ravel()
        if bool((np.abs(lse) <= sum_tol).all()):
            return "log_softmax", float(values.min())
    outside = values[(values < 0) | (values > 1)]
    return "logits", float(outside[np.argmax(np.abs(outside))]) if outside.size else float("nan")


def _net(data: dict, name: str, p1: T1Params) -> _Net:
    raw = _dict(_dict(data, "nets"), name)
    if raw.get("present") is not True:
        return _Net(name, False)
    loss = raw.get("loss") if isinstance(raw.get("loss"), dict) else None
    framework = _text(raw.get("framework"), 100)
    if raw.get("error") or raw.get("outputs") is None:
        return _Net(name, True, framework, _text(raw.get("error")) or "its outputs could not be read", loss=loss)
    outputs = _as_rows(_array(raw.get("outputs")))
    if outputs is None:
        return _Net(name, True, framework, "its outputs could not be read (unexpected shape)", loss=loss)
    arrays = [outputs]
    probes = raw.get("probes") if isinstance(raw.get("probes"), list) else []
    for probe in probes[:20]:
        got = _as_rows(_array(probe.get("outputs"))) if isinstance(probe, dict) else None
        if got is not None and got.shape[1] == outputs.shape[1]:
            arrays.append(got)
    kind, example = output_kind(arrays, p1.prob_tol, p1.sum_tol)
    return _Net(name, True, framework, "", outputs, outputs.shape[1], kind, example, loss)


def _absent_net(net: _Net, item: str, answers: Answers) -> Finding:
    why = answers.missing.get(net.name) or f"`{net.name}` is not defined when the notebook has run"
    return Finding(item, "missing", 0.0, why)


def _units_finding(net: _Net, want: int, answers: Answers) -> Finding:
    item = f"{net.name}_output_units"
    if not net.present:
        return _absent_net(net, item, answers)
    if net.error:
        return Finding(item, "fail", 0.0, f"{net.name}(preprocess(X)) could not be evaluated: {net.error}")
    loss = "binary cross-entropy needs one (sigmoid) unit" if want == 1 else "cross-entropy over two classes needs two"
    if net.units == want:
        return Finding(item, "pass", 1.0, f"{net.name} has {want} output unit{'s' if want > 1 else ''}")
    units = f"{net.units} output unit{'s' if net.units != 1 else ''}"
    return Finding(item, "fail", 0.0, f"{net.name} has {units}; {loss}", {"units": net.units})


_LOSS_KINDS = {
    "bceloss": "bce", "binarycrossentropy": "bce", "bce": "bce", "binaryfocalcrossentropy": "bce",
    "bcewithlogitsloss": "bce_logits", "binarycrossentropywithlogits": "bce_logits",
    "crossentropyloss": "ce_logits", "crossentropy": "ce_logits",
    "categoricalcrossentropy": "ce", "sparsecategoricalcrossentropy": "ce", "categoricalfocalcrossentropy": "ce",
    "nllloss": "nll", "nll": "nll",
    "mseloss": "regression", "mse": "regression", "meansquarederror": "regression", "l1loss": "regression",
    "mae": "regression", "meanabsoluteerror": "regression", "huberloss": "regression", "huber": "regression",
    "smoothl1loss": "regression", "hinge": "regression", "hingeembeddingloss": "regression",
}


def _norm_name(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def loss_kind(loss: dict | None) -> tuple[str, str]:
    """(kind, display name) of a loss description from the kernel.

    kinds: "bce" (expects probabilities), "bce_logits", "ce" (Keras categorical, expects probabilities),
    "ce_logits" (PyTorch CrossEntropyLoss or a Keras loss with from_logits=True), "nll"
    (expects log-probabilities), "regression", "unknown", or "none" when there is no loss.
    """
    if not isinstance(loss, dict):
        return "none", ""
    name = _text(loss.get("name"), 100)
    fn_name = _text(loss.get("fn_name"), 100)
    module = _text(loss.get("module"), 100)
    from_logits = loss.get("from_logits") is True
    kind = _LOSS_KINDS.get(_norm_name(name)) or _LOSS_KINDS.get(_norm_name(fn_name), "unknown")
    if kind == "bce" and from_logits:
        kind = "bce_logits"
    elif kind == "ce" and from_logits:
        kind = "ce_logits"
    if loss.get("kind") == "str":
        display = f"loss={name!r}"
    elif module.startswith("torch.nn.modules"):
        display = f"nn.{name}"
    elif module.startswith("torch.nn.functional"):
        display = f"F.{name}"
    else:
        display = name + ("(from_logits=True)" if from_logits else "")
    return kind, display


_KIND_WORDS = {
    "probability": "sigmoid-like outputs (values in [0, 1])",
    "softmax": "softmax outputs (rows sum to 1)",
    "log_softmax": "log-softmax outputs",
    "logits": "logits (unbounded outputs)",
    "constant_one": "a softmax over one unit (always 1)",
}


def _loss_finding(net: _Net, answers: Answers, params: Part2Params) -> Finding:
    item = f"{net.name}_loss"
    loss_var = "loss1" if net.name == "net1" else "loss2"
    if not net.present:
        return _absent_net(net, item, answers)
    kind, loss = loss_kind(net.loss)
    if kind == "none":
        if net.framework == "keras":
            return Finding(item, "missing", 0.0, f"{net.name} is not compiled with a loss")
        return Finding(item, "missing", 0.0, f"`{loss_var}` is not defined: a PyTorch notebook must leave the "
                                             f"loss it trained {net.name} with as `{loss_var}`")
    if kind == "regression":
        want = "binary cross-entropy" if net.name == "net1" else "cross-entropy"
        return Finding(item, "fail", 0.0,
                       f"{net.name} is trained with {loss}, a regression loss; the task asks for {want}")
    if kind != "unknown":
        if net.name == "net1" and kind not in ("bce", "bce_logits"):
            return Finding(item, "fail", 0.0, f"net1 is trained with {loss}; it must use binary cross-entropy "
                                              "(e.g. nn.BCELoss, nn.BCEWithLogitsLoss, 'binary_crossentropy')")
        if net.name == "net2" and kind not in ("ce", "ce_logits", "nll"):
            return Finding(item, "fail", 0.0, f"net2 is trained with {loss}; it must use cross-entropy over two "
                                              "classes (e.g. nn.CrossEntropyLoss, 'sparse_categorical_crossentropy')")
    if net.error:
        return Finding(item, "fail", 0.0, f"{net.name}(preprocess(X)) could not be evaluated: {net.error}")
    out = net.kind
    seen = f"{net.name} gives {_KIND_WORDS.get(out, 'outputs the grader could not classify')}"
    if kind == "unknown":
        return Finding(item, "review", params.unknown_loss_fraction,
                       f"{net.name} is trained with {loss or 'a loss'}, which the grader does not recognise; "
                       f"{seen}: a TA checks that they agree")
    example = f" (e.g. {fmt(net.example)})" if math.isfinite(net.example) and out == "logits" else ""
    ok = {"bce": ("probability", "softmax"), "bce_logits": ("logits",), "ce": ("softmax",),
          "ce_logits": ("logits", "log_softmax"), "nll": ("log_softmax",)}[kind]
    if out in ok:
        return Finding(item, "pass", 1.0, f"{seen} and is trained with {loss}: they agree")
    squash = "softmax" if out in ("softmax", "constant_one") else "sigmoid" if out == "probability" else ""
    n = net.name
    if kind == "bce_logits" and squash:
        msg = f"{n} applies {squash} before {loss}, which applies sigmoid itself"
        if squash == "sigmoid":
            msg = f"{n} applies sigmoid before {loss}, which applies it again"
        msg += ": output logits (no activation on the last layer)"
    elif kind == "ce_logits" and squash:
        inner = "log-softmax" if loss.startswith(("nn.", "F.")) else "softmax"
        msg = f"{n} applies {squash} before {loss}, which applies {inner} itself: output logits"
    elif kind == "bce" and out == "constant_one":
        msg = f"{n} applies softmax over its single output unit, so it always outputs 1: use a sigmoid"
    elif kind == "bce":
        msg = f"{n} gives {_KIND_WORDS[out]}{example}, but {loss} expects probabilities: add a sigmoid " \
              f"(or use a loss that takes logits)"
    elif kind == "ce" and out == "logits":
        msg = f"{n} outputs logits{example}, but {loss} expects probabilities: add a softmax or set from_logits=True"
    elif kind == "ce":
        msg = f"{n} gives {_KIND_WORDS[out]}, but {loss} expects a softmax output (rows summing to 1)"
    elif kind == "nll" and squash:
        msg = f"{n} applies {squash} before {loss}, which expects log-probabilities: use log_softmax " \
              f"(or logits with nn.CrossEntropyLoss)"
    elif kind == "nll":
        msg = f"{n} gives {_KIND_WORDS[out]}{example}, but {loss} expects log-probabilities: add log_softmax"
    else:
        msg = f"{seen}{example}, which does not agree with {loss}"
    return Finding(item, "fail", 0.0, msg, {"output_kind": out, "loss": loss})


def _accuracy_finding(net: _Net, answers: Answers, hidden: HiddenSet, bar: AccuracyBar) -> Finding:
    item = f"{net.name}_accuracy"
    if not net.present:
        return _absent_net(net, item, answers)
    if net.error or net.outputs is None:
        return Finding(item, "fail", 0.0, f"{net.name}(preprocess(X)) could not be evaluated: {net.error}")
    y = np.asarray(hidden.y).reshape(-1)
    out = net.outputs
    if out.shape[0] != y.shape[0]:
        return Finding(item, "fail", 0.0, f"{net.name} gave {out.shape[0]} outputs for {y.shape[0]} hidden rows")
    bad = ~np.isfinite(out).all(axis=1)
    if out.shape[1] == 1:
        bounded = net.kind in ("probability", "softmax", "constant_one")
        pred = (out[:, 0] > (0.5 if bounded else 0.0)).astype(np.int64)
    else:
        pred = np.argmax(np.where(np.isfinite(out), out, -np.inf), axis=1)
    pred[bad] = -1
    acc = float((pred == y).mean())
    frac = bar.fraction(acc)
    msg = (f"{net.name}: accuracy {acc:.3f} on the {y.shape[0]} hidden rows "
           f"(full marks at >= {bar.full:g}, none at <= {bar.zero:g})")
    if bad.any():
        msg += f"; {int(bad.sum())} rows gave non-finite outputs"
    return Finding(item, "pass" if frac >= 1 else "fail", frac, msg, {"accuracy": round(acc, 6)})


def _input_norm_finding(data: dict, answers: Answers, p1: T1Params, names: tuple[str, ...]) -> Finding:
    item = "input_normalization"
    pt = _dict(data, "preprocess_train")
    if pt.get("ok") is not True and pt.get("grader") is True:
        return Finding(item, "error", 0.0, _text(pt.get("error")) or "the grader could not observe preprocess")
    if pt.get("ok") is not True:
        error = _text(pt.get("error")) or "preprocess could not be observed"
        if error == "preprocess is not defined":  # not a NameError raised inside it
            return Finding(item, "missing", 0.0, answers.missing.get("preprocess") or error)
        return Finding(item, "fail", 0.0, f"preprocess(X_train) failed: {error}")
    std, raw_std = _floats(pt.get("std")), _floats(pt.get("raw_std")) or []
    nonfinite = pt.get("nonfinite")
    if not std:
        return Finding(item, "error", 0.0, "the spread of preprocess(X_train) could not be read")
    if type(nonfinite) is int and nonfinite > 0:
        return Finding(item, "fail", 0.0, f"preprocess(X_train) gives {nonfinite} non-finite values")
    s = np.asarray(std)
    if len(names or ()) != len(std):
        names = None  # preprocess changed the number of columns: name them by position
    if len(raw_std) == len(std):
        dead = [j for j in range(len(std)) if s[j] <= 1e-12 and raw_std[j] > 1e-12]
        if dead:
            return Finding(item, "fail", 0.0, f"preprocess makes training column {column_name(names, dead[0])} "
                                              "constant")
    live = np.flatnonzero(s > 1e-12)
    if not live.size:
        return Finding(item, "fail", 0.0, "preprocess(X_train) is constant")
    hi, lo = live[np.argmax(s[live])], live[np.argmin(s[live])]
    ratio = float(s[hi] / s[lo])
    spread = (f"column std from {fmt(float(s[lo]))} (column {column_name(names, int(lo))}) "
              f"to {fmt(float(s[hi]))} (column {column_name(names, int(hi))})")
    if ratio <= p1.max_std_ratio:
        return Finding(item, "pass", 1.0, f"preprocess(X_train) puts the features on comparable scales: {spread}")
    return Finding(item, "fail", 0.0,
                   f"after preprocess the training features are on very different scales: {spread}, a ratio of "
                   f"{fmt(ratio)} > {p1.max_std_ratio:g}; normalize each feature (e.g. standardize)",
                   {"std": [round(float(v), 6) for v in s]})


def _check_t1(data: dict, answers: Answers, hidden: HiddenSet, params: Part2Params) -> dict[str, Finding]:
    p1 = params.H3P2T1
    pre = _dict(data, "preprocess_hidden")
    nets = {name: _net(data, name, p1) for name in ("net1", "net2")}
    if pre.get("ok") is not True:
        error = f"preprocess(X) failed: {_text(pre.get('error')) or 'unknown error'}"
        nets = {name: (_Net(name, True, net.framework, error, loss=net.loss) if net.present else net)
                for name, net in nets.items()}
    bars = p1.accuracy
    return {
        "net1_output_units": _units_finding(nets["net1"], 1, answers),
        "net2_output_units": _units_finding(nets["net2"], 2, answers),
        "net1_loss": _loss_finding(nets["net1"], answers, params),
        "net2_loss": _loss_finding(nets["net2"], answers, params),
        "input_normalization": _input_norm_finding(data, answers, p1, tuple(hidden.features)),
        "net1_accuracy": _accuracy_finding(nets["net1"], answers, hidden, bars.net1),
        "net2_accuracy": _accuracy_finding(nets["net2"], answers, hidden, bars.net2),
    }


# ----------------------------------------------------------------------------- H3P2T2


def _call_result(data: dict, key: str) -> tuple[np.ndarray | None, str]:
    """(array, "") or (None, why) for a {"ok", "value" | "error"} entry."""
    entry = _dict(data, key)
    if entry.get("ok") is True:
        arr = _array(entry.get("value"))
        return (arr, "") if arr is not None else (None, "its result could not be read")
    return None, _text(entry.get("error")) or "it was not called"


def _matches(pred: np.ndarray, den: np.ndarray, p2: T2Params) -> bool:
    """predict == denormalize_output(outputs), or that clipped to the ranges (a clipping range guard)."""
    if den.ndim != 2 or den.shape[1] != 2:
        cands = [den]
    else:
        lo = np.array([p2.ranges.income[0], p2.ranges.age[0]])
        hi = np.array([p2.ranges.income[1], p2.ranges.age[1]])
        cands = [den, np.clip(den, lo, hi)]
        if pred.ndim == 1 and pred.shape[0] == den.shape[0]:
            cands = [c[:, j] for c in cands for j in range(2)]
    width = p2.ranges.income[1] - p2.ranges.income[0], p2.ranges.age[1] - p2.ranges.age[0]
    for cand in cands:
        if cand.shape != pred.shape:
            continue
        atol = p2.match_atol * (np.asarray(width) if cand.ndim == 2 and cand.shape[1] == 2 else min(width))
        with np.errstate(all="ignore"):
            close = np.abs(pred - cand) <= atol + p2.match_rtol * np.abs(cand)
        if bool(close.all()):
            return True
    return False


def _output_norm_finding(data: dict, answers: Answers, model: dict, params: Part2Params) -> Finding:
    item, p2 = "output_normalization", params.H3P2T2
    if model.get("present") is not True:
        return Finding(item, "missing", 0.0, answers.missing.get("model") or "`model` is not defined")
    outputs = _array(model.get("outputs"))
    if outputs is None:
        return Finding(item, "fail", 0.0, f"model(preprocess(X)) could not be evaluated: "
                                          f"{_text(model.get('error')) or 'unreadable outputs'}")
    if not np.isfinite(outputs).all():
        return Finding(item, "fail", 0.0, "the model's raw outputs on the hidden rows are not all finite")
    top = float(np.abs(outputs).max()) if outputs.size else 0.0
    if top > p2.normalized_max_abs:
        col = int(np.unravel_index(np.argmax(np.abs(outputs)), outputs.shape)[-1]) if outputs.ndim == 2 else 0
        name = TARGETS[col] if outputs.ndim == 2 and col < 2 else "output"
        return Finding(item, "fail", 0.0,
                       f"the model's raw outputs reach {fmt(top)} ({name} column): they are not on a normalized "
                       f"scale (|value| <= {p2.normalized_max_abs:g}); train on normalize_output(Y) and "
                       "denormalize the outputs", {"max_abs_output": top})
    den, why = _call_result(data, "denorm_outputs")
    if den is None:
        return Finding(item, "fail", 0.0, f"denormalize_output(model outputs) failed: {why}")
    pred, why = _call_result(data, "predict")
    if pred is None:
        return Finding(item, "fail", 0.0, f"predict(X) failed: {why}")
    if not _matches(pred, den, p2):
        return Finding(item, "fail", 0.0, "predict(X) is not denormalize_output of the model's outputs "
                                          "(nor that clipped to the ranges)")
    back, why = _call_result(data, "roundtrip")
    if back is None:
        first = _dict(data, "normalize")
        if first.get("ok") is not True:
            why = f"normalize_output failed: {_text(first.get('error')) or 'unknown error'}"
        return Finding(item, "fail", 0.0, f"denormalize_output(normalize_output(Y)) could not be checked: {why}")
    Y = roundtrip_sample(params)
    if back.shape != Y.shape or not np.allclose(back, Y, rtol=1e-4, atol=1e-4 * (Y.max(axis=0) - Y.min(axis=0))):
        got = back.reshape(-1)[:2] if back.size >= 2 else back.reshape(-1)
        return Finding(item, "fail", 0.0, f"denormalize_output(normalize_output(Y)) does not give Y back "
                                          f"(Y[0] = [{fmt(Y[0, 0])}, {fmt(Y[0, 1])}] came back as "
                                          f"[{', '.join(fmt(float(v)) for v in got)}])")
    return Finding(item, "pass", 1.0, f"the model's raw outputs are on a normalized scale (|value| <= {fmt(top)}) "
                                      "and predict(X) is denormalize_output of them")


def _predict_shape_finding(data: dict, answers: Answers, n: int) -> Finding:
    item = "predict_shape"
    entry = _dict(data, "predict")
    if entry.get("ok") is not True and _text(entry.get("error")) == "predict is not defined":
        return Finding(item, "missing", 0.0, answers.missing.get("predict") or "`predict` is not defined")
    pred, why = _call_result(data, "predict")
    if pred is None:
        return Finding(item, "fail", 0.0, f"predict(X) failed: {why}")
    if pred.shape == (n, 2):
        return Finding(item, "pass", 1.0, "predict returned shape (N, 2)")
    return Finding(item, "fail", 0.0, f"predict returned shape {_shape(list(pred.shape), n)} — expected (N, 2): "
                                      "[income, age]", {"shape": list(pred.shape)})


def _range_problems(label: str, who: str, stats: dict, p2: T2Params) -> list[str]:
    """What is out of range in one probe's per-column min/max (empty when all is well)."""
    if "error" in stats:
        return [f"{who}({label}) raised {_text(stats.get('error'), 200)}"]
    mins, maxs, shape = _floats(stats.get("min")), _floats(stats.get("max")), stats.get("shape")
    if mins is None or maxs is None or len(mins) != len(maxs):
        return [f"{who}({label}) gave a result the grader could not read"]
    if len(mins) < 2:
        return [f"{who}({label}) returned shape {_shape(shape, -1)}: no [income, age] columns to check"]
    problems = []
    nonfinite = stats.get("nonfinite")
    if type(nonfinite) is int and nonfinite > 0:
        problems.append(f"{who}({label}) gave {nonfinite} non-finite value{'s' if nonfinite > 1 else ''}")
    for j, name in enumerate(TARGETS):
        lo, hi = p2.ranges.of(j)
        tol = p2.range_tol * (hi - lo)
        if maxs[j] > hi + tol:
            problems.append(f"{who}({label}) gave {name} {fmt(maxs[j])}")
        elif mins[j] < lo - tol:
            problems.append(f"{who}({label}) gave {name} {fmt(mins[j])}")
    return problems


def _stats(arr: np.ndarray) -> dict:
    cols = arr.reshape(arr.shape[0], -1) if arr.ndim >= 2 else arr.reshape(-1, 1)
    fin = np.isfinite(cols)
    return {"shape": list(arr.shape),
            "min": [float(v) for v in np.where(fin, cols, np.inf).min(axis=0)],
            "max": [float(v) for v in np.where(fin, cols, -np.inf).max(axis=0)],
            "nonfinite": int((~fin).sum())}


def _output_range_finding(data: dict, answers: Answers, n: int, p2: T2Params) -> Finding:
    item = "output_range"
    pred, pred_why = _call_result(data, "predict")
    use_predict = pred is not None and pred.ndim == 2 and pred.shape[1] == 2
    note = ""
    if use_predict:
        who, key, first = "predict", "predict", pred
    else:
        den = _fallback(data, n) if pred is not None else None
        if den is None:
            why = f"predict(X) failed: {pred_why}" if pred is None else \
                f"predict returned shape {_shape(list(pred.shape), n)}, not (N, 2), and the model has no two outputs"
            return Finding(item, "fail", 0.0, f"no predictions to check the range on: {why}")
        who, key, first = "denormalize_output(model(preprocess(·)))", "model", den
        note = " (judged on denormalize_output of the model's outputs, as predict does not return (N, 2))"
    probes = [("X", _stats(first))]
    extremes = data.get("extremes") if isinstance(data.get("extremes"), list) else []
    for entry in extremes[:20]:
        if not isinstance(entry, dict) or to_float(entry.get("scale")) is None:
            continue
        stats = entry.get(key) if isinstance(entry.get(key), dict) else {"error": "was not called"}
        probes.append((_scale_label(to_float(entry["scale"])), stats))
    if len(probes) < 1 + len(p2.extreme_scales):
        return Finding(item, "error", 0.0, "the grader's extreme-input probes did not all come back")
    problems = [msg for label, stats in probes for msg in _range_problems(label, who, stats, p2)]
    (ilo, ihi), (alo, ahi) = p2.ranges.income, p2.ranges.age
    box = f"[{ilo:g}, {ihi:g}] × [{alo:g}, {ahi:g}]"
    if problems:
        more = f"; also {len(problems) - 1} more: " + "; ".join(problems[1:4]) if len(problems) > 1 else ""
        return Finding(item, "fail", 0.0, f"{problems[0]}, outside {box}{more}{note}", {"problems": problems[:20]})
    labels = ", ".join(label for label, _ in probes)
    return Finding(item, "pass", 1.0, f"predictions stay inside {box} for {labels}{note}")


def _error_finding(j: int, data: dict, hidden: HiddenSet, p2: T2Params) -> Finding:
    name = TARGETS[j]
    item = f"{name}_error"
    bar: ErrorBar = getattr(p2.mae, name)
    y = np.asarray(hidden.y, dtype=np.float64).reshape(-1, 2)
    n = y.shape[0]
    pred, why = _call_result(data, "predict")
    note = ""
    if pred is None or pred.shape != (n, 2):
        den = _fallback(data, n) if pred is not None else None
        if den is None:
            what = f"predict(X) failed: {why}" if pred is None else \
                f"predict returned shape {_shape(list(pred.shape), n)}, not (N, 2), and the model has no two outputs"
            return Finding(item, "fail", 0.0, f"no {name} predictions to score: {what}")
        pred = den
        note = " (scored on denormalize_output of the model's outputs, as predict does not return (N, 2))"
    col = pred[:, j]
    bad = int((~np.isfinite(col)).sum())
    if bad:
        return Finding(item, "fail", 0.0, f"{bad} of the {n} hidden {name} predictions are not finite{note}")
    mae = float(np.abs(col - y[:, j]).mean())
    frac = bar.fraction(mae)
    msg = (f"{name}: mean absolute error {fmt(mae)} on the {n} hidden rows "
           f"(full marks at <= {bar.full:g}, none at >= {bar.zero:g}){note}")
    return Finding(item, "pass" if frac >= 1 else "fail", frac, msg, {"mae": round(mae, 6)})


def _check_t2(data: dict, answers: Answers, hidden: HiddenSet, params: Part2Params) -> dict[str, Finding]:
    p2 = params.H3P2T2
    n = int(np.asarray(hidden.X).shape[0])
    model = _dict(data, "model")
    if model.get("present") is not True:
        units = Finding("output_units", "missing", 0.0, answers.missing.get("model") or "`model` is not defined")
    else:
        outputs = _array(model.get("outputs"))
        if outputs is None:
            units = Finding("output_units", "fail", 0.0, "model(preprocess(X)) could not be evaluated: "
                                                         f"{_text(model.get('error')) or 'unreadable outputs'}")
        else:
            k = 1 if outputs.ndim == 1 else outputs.shape[-1] if outputs.ndim else 0
            two = k == 2 and outputs.ndim == 2
            units = (Finding("output_units", "pass", 1.0, "the model has 2 output units") if two
                     else Finding("output_units", "fail", 0.0, f"the model has {k} output unit{'s' if k != 1 else ''} "
                                  f"(outputs of shape {_shape(list(outputs.shape), n)}); expected 2: [income, age]",
                                  {"units": k}))
    return {
        "output_units": units,
        "output_normalization": _output_norm_finding(data, answers, model, params),
        "predict_shape": _predict_shape_finding(data, answers, n),
        "output_range": _output_range_finding(data, answers, n, p2),
        "income_error": _error_finding(0, data, hidden, p2),
        "age_error": _error_finding(1, data, hidden, p2),
    }


# ----------------------------------------------------------------------------- entry points


def _task_items(task: str, rubric: Any) -> tuple[str, ...]:
    questions = getattr(rubric, "questions", None)
    if isinstance(questions, dict) and task in questions:
        return tuple(questions[task].items)
    return ITEMS[task]


def _unjudged(run: NotebookRun, data: Any) -> tuple[str, str] | None:
    """(status, why) when there is no usable introspection data, else None."""
    if isinstance(data, dict) and "error" in data and len(data) == 1:
        return "error", f"the grader's Part 2 probes failed in the kernel: {_text(data['error'])}"
    if isinstance(data, dict) and data.get("task") in NAMES:
        return None
    if data is None and run.status != "ok":
        return "missing", f"not graded: the notebook did not finish ({run.reason or run.status.replace('_', ' ')})"
    if data is None:
        return "missing", "not graded: the notebook's Part 2 objects could not be read"
    return "error", "the grader's Part 2 probes returned data it cannot read"


def check_part2(task: str, answers: Answers, run: NotebookRun, rubric: Any, hidden: HiddenSet) -> list[Finding]:
    """One Finding per item of `task` in the rubric, in the rubric's order."""
    if task not in NAMES:
        raise ValueError(f"unknown Part 2 task {task!r}; expected {T1} or {T2}")
    params = part2_params(rubric)
    items = _task_items(task, rubric)
    data = answers.extra.get("part2") if isinstance(answers.extra, dict) else None
    unjudged = _unjudged(run, data)
    judged: dict[str, Finding] = {}
    if unjudged is None and data.get("task") != task:
        unjudged = ("error", f"the grader's Part 2 probes answered for {_text(data.get('task'), 20)}, not {task}")
    if unjudged is None:
        judged = (_check_t1 if task == T1 else _check_t2)(data, answers, hidden, params)
    findings = []
    for item in items:
        if item == "runs":
            findings.append(_with_call_note(_runs_finding(run), data))
        elif item in judged:
            findings.append(judged[item])
        elif item in ITEMS[task] and unjudged is not None:
            findings.append(Finding(item, unjudged[0], 0.0, unjudged[1]))
        else:
            findings.append(Finding(item, "error", 0.0, f"the grader has no Part 2 check for item {item!r}"))
    return findings


def _with_call_note(finding: Finding, data: Any) -> Finding:
    """Say how the grader had to call a student function that refused a NumPy array (it costs nothing)."""
    notes = _dict(data, "called_with") if isinstance(data, dict) else {}
    said = [f"{_text(name, 40)}(X) was called with {_text(how, 200)}, as it did not accept the NumPy array "
            "the contract names (no points lost)" for name, how in list(notes.items())[:3]]
    if not said:
        return finding
    return replace(finding, message=finding.message + "; " + "; ".join(said))


def framework_of(answers: Answers) -> str | None:
    """"torch", "keras", another type name, or None: what the notebook's model(s) are built with."""
    data = answers.extra.get("part2") if isinstance(answers.extra, dict) else None
    if not isinstance(data, dict):
        return None
    candidates = [_dict(data, "model")] if data.get("task") == T2 else \
        [_dict(_dict(data, "nets"), "net1"), _dict(_dict(data, "nets"), "net2")]
    for entry in candidates:
        if entry.get("present") is True and isinstance(entry.get("framework"), str) and entry["framework"]:
            return entry["framework"][:100]
    return None


def check_frameworks_bonus(notebooks: list[tuple[Answers, NotebookRun, list[Finding]]], rubric: Any) -> Finding:
    """Item both_frameworks: the bonus task comes in every required framework, each clean.

    A notebook is clean when it ran without error and passed the task's structural items
    (STRUCTURAL[task] that appear in its findings). Notebooks of other tasks are ignored.
    """
    bonus = getattr(rubric, "frameworks_bonus", None)
    task = getattr(bonus, "task", T2)
    need = tuple(getattr(bonus, "frameworks", ("torch", "keras")))
    structural = STRUCTURAL.get(task, ("runs",))
    mine = [(a, r, f) for a, r, f in notebooks if a.task == task or r.task == task]
    found, problems = [], []
    for fw in need:
        label = FRAMEWORK_NAMES.get(fw, fw)
        candidates = [(a, r, f) for a, r, f in mine if framework_of(a) == fw]
        if not candidates:
            problems.append(f"no {label} notebook for {task}")
            continue
        why = []
        for answers, run, findings in candidates:
            faults = []
            by_item = {f.item: f for f in findings}
            if run.status != "ok" or run.failures or ("runs" in by_item and by_item["runs"].status != "pass"):
                faults.append("it did not run without error")
            failed = [i for i in structural if i != "runs" and i in by_item and by_item[i].status != "pass"]
            if failed:
                faults.append("it fails " + ", ".join(failed))
            if not faults:
                found.append(f"{label} ({run.path.name})")
                break
            why.append(f"the {label} notebook {run.path.name}: " + " and ".join(faults))
        else:
            problems.append("; ".join(why))
    if problems:
        return Finding(BONUS_ITEM, "fail", 0.0, "; ".join(problems))
    return Finding(BONUS_ITEM, "pass", 1.0, f"{task} comes in " + " and ".join(found) + ", each running without "
                                            "error and passing its structural checks")
