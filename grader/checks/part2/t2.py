"""H3P2T2 (regression) items: output units, output normalization, predict's shape, output range,
and the hidden-set error per output."""

from __future__ import annotations

import numpy as np

from ...model import TARGETS, Finding
from ...rubric import ErrorBar, T2Params
from ...kernel.part2 import range_stats
from .observe import Call, Context, Stats, T2Observation, stats
from .request import roundtrip_sample
from .words import fmt, scale_label, shape_text


def _rows(ctx: Context) -> int:
    return int(np.asarray(ctx.hidden.X).shape[0])


def _model_missing(item: str, obs: T2Observation, ctx: Context) -> Finding | None:
    """The finding when the model gives no outputs to judge, else None."""
    if not obs.model.present:
        return Finding(item, "missing", 0.0, ctx.missing.get("model") or "`model` is not defined")
    if obs.model.outputs.array is None:
        why = obs.model.outputs.detail if obs.model.outputs.kind != "unreadable" else "unreadable outputs"
        return Finding(item, "fail", 0.0, f"model(preprocess(X)) could not be evaluated: {why}")
    return None


def units_finding(obs: T2Observation, ctx: Context) -> Finding:
    absent = _model_missing("output_units", obs, ctx)
    if absent:
        return absent
    outputs = obs.model.outputs.array
    k = 1 if outputs.ndim == 1 else outputs.shape[-1] if outputs.ndim else 0
    if k == 2 and outputs.ndim == 2:
        return Finding("output_units", "pass", 1.0, "the model has 2 output units")
    return Finding("output_units", "fail", 0.0, f"the model has {k} output unit{'s' if k != 1 else ''} "
                   f"(outputs of shape {shape_text(list(outputs.shape), _rows(ctx))}); expected 2: [income, age]",
                   {"units": k})


def _failed(call: Call) -> str:
    return call.detail or "it was not called"


def _matches(pred: np.ndarray, den: np.ndarray, t2_params: T2Params) -> bool:
    """predict == denormalize_output(outputs), or that clipped to the ranges (a clipping range guard)."""
    ranges = t2_params.ranges
    if den.ndim != 2 or den.shape[1] != 2:
        candidates = [den]
    else:
        lo, hi = np.array([ranges.income[0], ranges.age[0]]), np.array([ranges.income[1], ranges.age[1]])
        candidates = [den, np.clip(den, lo, hi)]
        if pred.ndim == 1 and pred.shape[0] == den.shape[0]:
            candidates = [c[:, j] for c in candidates for j in range(2)]
    width = ranges.income[1] - ranges.income[0], ranges.age[1] - ranges.age[0]
    for cand in candidates:
        if cand.shape != pred.shape:
            continue
        atol = t2_params.match_atol * (np.asarray(width) if cand.ndim == 2 and cand.shape[1] == 2 else min(width))
        with np.errstate(all="ignore"):
            close = np.abs(pred - cand) <= atol + t2_params.match_rtol * np.abs(cand)
        if bool(close.all()):
            return True
    return False


def output_norm_finding(obs: T2Observation, ctx: Context) -> Finding:
    item, t2_params = "output_normalization", ctx.params.H3P2T2
    absent = _model_missing(item, obs, ctx)
    if absent:
        return absent
    outputs = obs.model.outputs.array
    if not np.isfinite(outputs).all():
        return Finding(item, "fail", 0.0, "the model's raw outputs on the hidden rows are not all finite")
    top = float(np.abs(outputs).max()) if outputs.size else 0.0
    if top > t2_params.normalized_max_abs:
        col = int(np.unravel_index(np.argmax(np.abs(outputs)), outputs.shape)[-1]) if outputs.ndim == 2 else 0
        name = TARGETS[col] if outputs.ndim == 2 and col < 2 else "output"
        return Finding(item, "fail", 0.0,
                       f"the model's raw outputs reach {fmt(top)} ({name} column): they are not on a normalized "
                       f"scale (|value| <= {t2_params.normalized_max_abs:g}); train on normalize_output(Y) and "
                       "denormalize the outputs", {"max_abs_output": top})
    problem = _denormalization_problem(obs, ctx)
    if problem:
        return Finding(item, "fail", 0.0, problem)
    return Finding(item, "pass", 1.0, f"the model's raw outputs are on a normalized scale (|value| <= {fmt(top)}) "
                                      "and predict(X) is denormalize_output of them")


def _denormalization_problem(obs: T2Observation, ctx: Context) -> str:
    """Why predict is not denormalize_output(model outputs), or the round trip fails; "" if neither."""
    if obs.denorm_outputs.array is None:
        return f"denormalize_output(model outputs) failed: {_failed(obs.denorm_outputs)}"
    if obs.predict.array is None:
        return f"predict(X) failed: {_failed(obs.predict)}"
    if not _matches(obs.predict.array, obs.denorm_outputs.array, ctx.params.H3P2T2):
        return "predict(X) is not denormalize_output of the model's outputs (nor that clipped to the ranges)"
    back = obs.roundtrip.array
    if back is None:
        why = _failed(obs.roundtrip)
        if not obs.normalize.ok:
            why = f"normalize_output failed: {obs.normalize.detail or 'unknown error'}"
        return f"denormalize_output(normalize_output(Y)) could not be checked: {why}"
    Y = roundtrip_sample(ctx.params)
    if back.shape != Y.shape or not np.allclose(back, Y, rtol=1e-4, atol=1e-4 * (Y.max(axis=0) - Y.min(axis=0))):
        got = back.reshape(-1)[:2] if back.size >= 2 else back.reshape(-1)
        return (f"denormalize_output(normalize_output(Y)) does not give Y back (Y[0] = [{fmt(Y[0, 0])}, "
                f"{fmt(Y[0, 1])}] came back as [{', '.join(fmt(float(v)) for v in got)}])")
    return ""


def predict_shape_finding(obs: T2Observation, ctx: Context) -> Finding:
    item, n = "predict_shape", _rows(ctx)
    if obs.predict.kind == "not_defined":
        return Finding(item, "missing", 0.0, ctx.missing.get("predict") or "`predict` is not defined")
    pred = obs.predict.array
    if pred is None:
        return Finding(item, "fail", 0.0, f"predict(X) failed: {_failed(obs.predict)}")
    if pred.shape == (n, 2):
        return Finding(item, "pass", 1.0, "predict returned shape (N, 2)")
    return Finding(item, "fail", 0.0, f"predict returned shape {shape_text(list(pred.shape), n)} — expected (N, 2): "
                                      "[income, age]", {"shape": list(pred.shape)})


def predictions(obs: T2Observation, ctx: Context, any_rows: bool = False) -> tuple[np.ndarray | None, str, str]:
    """(the [income, age] predictions to judge, "", note): predict(X) when it gives (N, 2) (any
    number of rows with `any_rows`), else denormalize_output of a two-output model's outputs (the note
    says so); (None, why, "") when there is neither."""
    n, pred = _rows(ctx), obs.predict.array
    if pred is not None and pred.ndim == 2 and pred.shape[1] == 2 and (any_rows or pred.shape[0] == n):
        return pred, "", ""
    if pred is None:
        return None, f"predict(X) failed: {_failed(obs.predict)}", ""
    den, outputs = obs.denorm_outputs.array, obs.model.outputs.array
    if outputs is not None and outputs.shape == (n, 2) and den is not None and den.shape == (n, 2):
        return den, "", "denormalize_output of the model's outputs, as predict does not return (N, 2)"
    return None, (f"predict returned shape {shape_text(list(pred.shape), n)}, not (N, 2), and the model has no "
                  "two outputs"), ""


def _range_problems(label: str, who: str, stats, t2_params: T2Params) -> list[str]:
    """What is out of range in one probe's per-column min/max (empty when all is well)."""
    if not stats.ok:
        if stats.kind == "unreadable":
            return [f"{who}({label}) gave a result the grader could not read"]
        if stats.kind == "not_called":
            return [f"{who}({label}) was not called"]
        return [f"{who}({label}) raised {stats.detail}"]
    if len(stats.mins) < 2:
        return [f"{who}({label}) returned shape {shape_text(list(stats.shape), -1)}: no [income, age] columns to check"]
    problems = []
    if stats.nonfinite > 0:
        problems.append(f"{who}({label}) gave {stats.nonfinite} non-finite value{'s' if stats.nonfinite > 1 else ''}")
    for j, name in enumerate(TARGETS):
        lo, hi = t2_params.ranges.of(j)
        tol = t2_params.range_tol * (hi - lo)
        if stats.maxs[j] > hi + tol:
            problems.append(f"{who}({label}) gave {name} {fmt(stats.maxs[j])}")
        elif stats.mins[j] < lo - tol:
            problems.append(f"{who}({label}) gave {name} {fmt(stats.mins[j])}")
    return problems


def _stats(arr: np.ndarray) -> Stats:
    """The range probe's statistics of predictions judged here, computed as the kernel computes them."""
    return stats(range_stats(arr))


def output_range_finding(obs: T2Observation, ctx: Context) -> Finding:
    item, t2_params = "output_range", ctx.params.H3P2T2
    first, why, note = predictions(obs, ctx, any_rows=True)
    if first is None:
        return Finding(item, "fail", 0.0, f"no predictions to check the range on: {why}")
    via_model = bool(note)
    who = "denormalize_output(model(preprocess(·)))" if via_model else "predict"
    probes = [("X", _stats(first))] + [(scale_label(e.scale), e.model if via_model else e.predict)
                                       for e in obs.extremes]
    if len(probes) < 1 + len(t2_params.extreme_scales):
        return Finding(item, "error", 0.0, "the grader's extreme-input probes did not all come back")
    problems = [msg for label, stats in probes for msg in _range_problems(label, who, stats, t2_params)]
    (ilo, ihi), (alo, ahi) = t2_params.ranges.income, t2_params.ranges.age
    box = f"[{ilo:g}, {ihi:g}] × [{alo:g}, {ahi:g}]"
    said = f" (judged on {note})" if note else ""
    if problems:
        more = f"; also {len(problems) - 1} more: " + "; ".join(problems[1:4]) if len(problems) > 1 else ""
        return Finding(item, "fail", 0.0, f"{problems[0]}, outside {box}{more}{said}", {"problems": problems[:20]})
    labels = ", ".join(label for label, _ in probes)
    return Finding(item, "pass", 1.0, f"predictions stay inside {box} for {labels}{said}")


def error_finding(j: int, obs: T2Observation, ctx: Context) -> Finding:
    name = TARGETS[j]
    item, bar = f"{name}_error", getattr(ctx.params.H3P2T2.mae, name)
    y = np.asarray(ctx.hidden.y, dtype=np.float64).reshape(-1, 2)
    n = y.shape[0]
    pred, why, note = predictions(obs, ctx)
    if pred is None:
        return Finding(item, "fail", 0.0, f"no {name} predictions to score: {why}")
    said = f" (scored on {note})" if note else ""
    col = pred[:, j]
    bad = int((~np.isfinite(col)).sum())
    if bad:
        return Finding(item, "fail", 0.0, f"{bad} of the {n} hidden {name} predictions are not finite{said}")
    errors = np.abs(col - y[:, j])
    mae = float(errors.mean())
    frac = bar.fraction(mae)
    msg = (f"{name}: mean absolute error {fmt(mae)} on the {n} hidden rows "
           f"(full marks at <= {bar.full:g}, none at >= {bar.zero:g}){said}")
    return Finding(item, "pass" if frac >= 1 else "fail", frac, msg, {"mae": round(mae, 6)}, _error_chart(name, errors, bar))


def _error_chart(name: str, errors: np.ndarray, bar: ErrorBar) -> dict:
    """The distribution of the absolute error as 21 quantiles: a summary from which no hidden row
    can be rebuilt."""
    quantiles = np.quantile(errors, np.linspace(0.0, 1.0, 21))
    return {"kind": "abs_error", "label": name, "quantiles": [round(float(q), 6) for q in quantiles],
            "mae": round(float(errors.mean()), 6), "full": bar.full, "zero": bar.zero}
