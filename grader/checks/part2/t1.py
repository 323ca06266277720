"""H3P2T1 (classification) items: output units, loss vs output layer, input normalization, accuracy.

Output kinds (told from behaviour on the hidden rows and on strongly scaled inputs):
  "probability"   every value in [0, 1] (sigmoid-like)
  "softmax"       every value in [0, 1] and rows summing to 1 (two or more units)
  "log_softmax"   every value <= 0 and logsumexp of each row == 0
  "constant_one"  one unit that is always 1 (a softmax over a single unit)
  "logits"        anything else (unbounded)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...model import Finding
from ...rubric import AccuracyBar
from .losses import KIND_WORDS, disagreement, loss_kind
from .observe import Context, Net, T1Observation
from .words import column_name, fmt


@dataclass(frozen=True)
class NetView:
    """A net as the checkers judge it: its outputs as (N, units) rows and their kind, or why not."""

    name: str
    present: bool
    framework: str = ""
    error: str = ""
    outputs: np.ndarray | None = None
    units: int | None = None
    kind: str = ""
    example: float = float("nan")
    """An output value that shows the kind (e.g. a logit outside [0, 1])."""
    loss: object = None


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


def net_view(obs: T1Observation, name: str, ctx: Context) -> NetView:
    net: Net = obs.nets[name]
    if not net.present:
        return NetView(name, False)
    if not obs.preprocess_hidden.ok:
        error = f"preprocess(X) failed: {obs.preprocess_hidden.detail or 'unknown error'}"
        return NetView(name, True, net.framework, error, loss=net.loss)
    if not net.outputs.ok:
        error = "its outputs could not be read" if net.outputs.kind == "unreadable" else net.outputs.detail
        return NetView(name, True, net.framework, error, loss=net.loss)
    outputs = _as_rows(net.outputs.array)
    if outputs is None:
        return NetView(name, True, net.framework, "its outputs could not be read (unexpected shape)", loss=net.loss)
    arrays = [outputs] + [rows for rows in (_as_rows(p.array) for p in net.probes if p.ok)
                          if rows is not None and rows.shape[1] == outputs.shape[1]]
    t1_params = ctx.params.H3P2T1
    kind, example = output_kind(arrays, t1_params.prob_tol, t1_params.sum_tol)
    return NetView(name, True, net.framework, "", outputs, outputs.shape[1], kind, example, net.loss)


def _absent(net: NetView, item: str, ctx: Context) -> Finding:
    why = ctx.missing.get(net.name) or f"`{net.name}` is not defined when the notebook has run"
    return Finding(item, "missing", 0.0, why)


def units_finding(name: str, want: int, obs: T1Observation, ctx: Context) -> Finding:
    net, item = net_view(obs, name, ctx), f"{name}_output_units"
    if not net.present:
        return _absent(net, item, ctx)
    if net.error:
        return Finding(item, "fail", 0.0, f"{name}(preprocess(X)) could not be evaluated: {net.error}")
    loss = "binary cross-entropy needs one (sigmoid) unit" if want == 1 else "cross-entropy over two classes needs two"
    if net.units == want:
        return Finding(item, "pass", 1.0, f"{name} has {want} output unit{'s' if want > 1 else ''}")
    units = f"{net.units} output unit{'s' if net.units != 1 else ''}"
    return Finding(item, "fail", 0.0, f"{name} has {units}; {loss}", {"units": net.units})


def loss_finding(name: str, obs: T1Observation, ctx: Context) -> Finding:
    net, item = net_view(obs, name, ctx), f"{name}_loss"
    loss_var = "loss1" if name == "net1" else "loss2"
    if not net.present:
        return _absent(net, item, ctx)
    kind, loss = loss_kind(net.loss)
    if kind == "none":
        if net.framework == "keras":
            return Finding(item, "missing", 0.0, f"{name} is not compiled with a loss")
        return Finding(item, "missing", 0.0, f"`{loss_var}` is not defined: a PyTorch notebook must leave the "
                                             f"loss it trained {name} with as `{loss_var}`")
    wrong = _wrong_family(name, kind, loss)
    if wrong:
        return Finding(item, "fail", 0.0, wrong)
    if net.error:
        return Finding(item, "fail", 0.0, f"{name}(preprocess(X)) could not be evaluated: {net.error}")
    if kind == "unknown":
        return Finding(item, "review", ctx.params.unknown_loss_fraction,
                       f"{name} is trained with {loss or 'a loss'}, which the grader does not recognise; "
                       f"{_seen(net)}: a TA checks that they agree")
    message = disagreement(name, kind, loss, net.kind, net.example)
    if message is None:
        return Finding(item, "pass", 1.0, f"{_seen(net)} and is trained with {loss}: they agree")
    return Finding(item, "fail", 0.0, message, {"output_kind": net.kind, "loss": loss})


def _seen(net: NetView) -> str:
    return f"{net.name} gives {KIND_WORDS.get(net.kind, 'outputs the grader could not classify')}"


def _wrong_family(name: str, kind: str, loss: str) -> str:
    """Why a recognised loss is the wrong one for the net, or ""."""
    if kind == "regression":
        want = "binary cross-entropy" if name == "net1" else "cross-entropy"
        return f"{name} is trained with {loss}, a regression loss; the task asks for {want}"
    if kind == "unknown":
        return ""
    if name == "net1" and kind not in ("bce", "bce_logits"):
        return (f"net1 is trained with {loss}; it must use binary cross-entropy "
                "(e.g. nn.BCELoss, nn.BCEWithLogitsLoss, 'binary_crossentropy')")
    if name == "net2" and kind not in ("ce", "ce_logits", "nll"):
        return (f"net2 is trained with {loss}; it must use cross-entropy over two "
                "classes (e.g. nn.CrossEntropyLoss, 'sparse_categorical_crossentropy')")
    return ""


def accuracy_finding(name: str, obs: T1Observation, ctx: Context) -> Finding:
    net, item = net_view(obs, name, ctx), f"{name}_accuracy"
    bar: AccuracyBar = getattr(ctx.params.H3P2T1.accuracy, name)
    if not net.present:
        return _absent(net, item, ctx)
    if net.error or net.outputs is None:
        return Finding(item, "fail", 0.0, f"{name}(preprocess(X)) could not be evaluated: {net.error}")
    y = np.asarray(ctx.hidden.y).reshape(-1)
    out = net.outputs
    if out.shape[0] != y.shape[0]:
        return Finding(item, "fail", 0.0, f"{name} gave {out.shape[0]} outputs for {y.shape[0]} hidden rows")
    bad = ~np.isfinite(out).all(axis=1)
    if out.shape[1] == 1:
        bounded = net.kind in ("probability", "softmax", "constant_one")
        pred = (out[:, 0] > (0.5 if bounded else 0.0)).astype(np.int64)
    else:
        pred = np.argmax(np.where(np.isfinite(out), out, -np.inf), axis=1)
    pred[bad] = -1
    acc = float((pred == y).mean())
    frac = bar.fraction(acc)
    msg = (f"{name}: accuracy {acc:.3f} on the {y.shape[0]} hidden rows "
           f"(full marks at >= {bar.full:g}, none at <= {bar.zero:g})")
    if bad.any():
        msg += f"; {int(bad.sum())} rows gave non-finite outputs"
    chart = {"kind": "accuracy", "label": name, "value": round(acc, 6), "full": bar.full, "zero": bar.zero}
    return Finding(item, "pass" if frac >= 1 else "fail", frac, msg, {"accuracy": round(acc, 6)}, chart)


def input_norm_finding(obs: T1Observation, ctx: Context) -> Finding:
    item, spread, t1_params = "input_normalization", obs.preprocess_train, ctx.params.H3P2T1
    if spread.call.kind == "no_input":
        return Finding(item, "error", 0.0, spread.call.detail or "the grader could not observe preprocess")
    if spread.call.kind == "not_defined":  # not a NameError raised inside it
        return Finding(item, "missing", 0.0, ctx.missing.get("preprocess") or spread.call.detail)
    if spread.call.kind == "unreadable" and spread.call.detail.startswith("the spread"):
        return Finding(item, "error", 0.0, spread.call.detail)
    if not spread.call.ok:
        return Finding(item, "fail", 0.0, f"preprocess(X_train) failed: {spread.call.detail}")
    if spread.nonfinite > 0:
        return Finding(item, "fail", 0.0, f"preprocess(X_train) gives {spread.nonfinite} non-finite values")
    s = np.asarray(spread.std)
    names = tuple(ctx.hidden.features) if len(ctx.hidden.features) == len(s) else None
    if len(spread.raw_std) == len(s):  # preprocess kept the columns: one it made constant is named
        dead = [j for j in range(len(s)) if s[j] <= 1e-12 and spread.raw_std[j] > 1e-12]
        if dead:
            return Finding(item, "fail", 0.0, f"preprocess makes training column {column_name(names, dead[0])} "
                                              "constant")
    live = np.flatnonzero(s > 1e-12)
    if not live.size:
        return Finding(item, "fail", 0.0, "preprocess(X_train) is constant")
    hi, lo = live[np.argmax(s[live])], live[np.argmin(s[live])]
    ratio = float(s[hi] / s[lo])
    spread_text = (f"column std from {fmt(float(s[lo]))} (column {column_name(names, int(lo))}) "
                   f"to {fmt(float(s[hi]))} (column {column_name(names, int(hi))})")
    if ratio <= t1_params.max_std_ratio:
        return Finding(item, "pass", 1.0, f"preprocess(X_train) puts the features on comparable scales: {spread_text}")
    return Finding(item, "fail", 0.0,
                   f"after preprocess the training features are on very different scales: {spread_text}, a ratio of "
                   f"{fmt(ratio)} > {t1_params.max_std_ratio:g}; normalize each feature (e.g. standardize)",
                   {"std": [round(float(v), 6) for v in s]})

