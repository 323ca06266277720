"""Q4: output normalization (normalize_output / denormalize_output on [income, age] rows)."""

from __future__ import annotations

import functools

import numpy as np

from ...extract import numbers
from ...model import TARGET_RANGES, Answers, Finding, Probe, Value
from ...rubric import Rubric
from .common import STREAM_Q4, Verdict, bool_of, kind_words, number_text, probe_key, probe_shape, probe_values, read_only


(_INCOME_LO, _INCOME_HI), (_AGE_LO, _AGE_HI) = TARGET_RANGES.values()


Q4_EXTREMES = ((_INCOME_LO, _AGE_LO), (_INCOME_HI, _AGE_HI), (_INCOME_LO, _AGE_HI), (_INCOME_HI, _AGE_LO))


@functools.lru_cache(maxsize=8)
def q4_targets(seed: int, samples: int) -> np.ndarray:
    """Y (samples + 4, 2): income uniform 0..10000, age uniform 0..100, then the corner rows."""
    rng = np.random.default_rng([seed, STREAM_Q4])
    y = np.column_stack([rng.uniform(_INCOME_LO, _INCOME_HI, samples), rng.uniform(_AGE_LO, _AGE_HI, samples)])
    return read_only(np.vstack([y, np.array(Q4_EXTREMES)]))


_Q4_NORMALIZED = probe_key("normalize_output", "Y")


_Q4_ROUND_TRIP = probe_key("denormalize_output", "normalize_output(Y)")


def q4_probes(rubric: Rubric, names: tuple[str, ...]) -> tuple[Probe, ...]:
    if "normalize_output" not in names and "denormalize_output" not in names:
        return ()
    y = q4_targets(rubric.seed, rubric.checks.Q4.samples).tolist()
    return (Probe(_Q4_NORMALIZED, ("normalize_output",), args=(y,), elementwise_fallback=False),
            Probe(_Q4_ROUND_TRIP, ("normalize_output", "denormalize_output"), args=(y,),
                  elementwise_fallback=False))


def needed_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if bool_of(name, value):
        return Finding(name, "pass", 1.0, "Output normalization is needed.")
    return Finding(name, "fail", 0.0, "Output normalization is needed: income (0..10000) and age (0..100) "
                                      "differ 100-fold in scale, so the income error dominates the MSE loss "
                                      "and its gradients, and age is barely learned.")


def _q4_outputs(name: str, answers: Answers, key: str, what: str, y: np.ndarray) -> np.ndarray:
    value = answers.values[name]
    if value.kind != "callable":
        raise Verdict("fail", f"`{name}` must be a function (def {name}(Y): ...), "
                                f"but it is of type {kind_words(value)}.")
    flat = probe_values(answers, name, key, what)
    shape = probe_shape(answers, key)
    if shape != y.shape:
        raise Verdict("fail", f"{what} returned shape {tuple(shape)} for Y of shape {y.shape}; "
                                f"expected ({y.shape[0]}, 2): one row per sample, columns [income, age].")
    return flat.reshape(y.shape)


def normalize_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q4
    y = q4_targets(rubric.seed, params.samples)
    out = _q4_outputs(name, answers, _Q4_NORMALIZED, "normalize_output(Y)", y)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise Verdict("fail", f"normalize_output(Y) gives {out[i].tolist()} for the row Y = {y[i].tolist()}; "
                                "every normalized value must be finite.",
                        {"row": y[i].tolist(), "given": [str(v) for v in out[i]]})
    spread = out.std(axis=0)
    if np.allclose(out, y, rtol=1e-9, atol=1e-9):
        problem = "normalize_output returns Y unchanged: income still spans 0..10000 while age spans 0..100."
    elif spread.min() <= 0:
        column = ("income", "age")[int(np.argmin(spread))]
        problem = f"normalize_output maps every {column} to the same value, so it cannot be recovered."
    elif spread.max() / spread.min() > params.max_scale_ratio:
        problem = (f"after normalize_output the income column has spread (std) {number_text(spread[0])} and the age "
                   f"column {number_text(spread[1])}: a ratio of {number_text(spread.max() / spread.min())}, more than the "
                   f"{number_text(params.max_scale_ratio)} allowed, so one output still dominates the loss.")
    else:
        return Finding(name, "pass", 1.0, f"The normalized columns have comparable spreads "
                                          f"({number_text(spread[0])} and {number_text(spread[1])}).")
    if _answered_false(answers, "output_normalization_needed"):
        problem += (" You answered output_normalization_needed = False, but without it the income error "
                    "(up to 10000) swamps the age error (up to 100) in the MSE loss.")
    return Finding(name, "fail", 0.0, problem, {"spread": spread.tolist()})


def _answered_false(answers: Answers, name: str) -> bool:
    value = answers.values.get(name)
    try:
        return value is not None and not bool_of(name, value)
    except Verdict:
        return False


def denormalize_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q4
    y = q4_targets(rubric.seed, params.samples)
    if value.kind == "callable" and answers.values.get("normalize_output", Value("none")).kind != "callable":
        raise Verdict("fail", "denormalize_output is checked by undoing normalize_output, "
                                "which is missing or not a function.")
    if value.kind == "callable" and not _normalized_shape_ok(answers, y):
        raise Verdict("fail", "denormalize_output is checked by undoing normalize_output, but "
                                f"normalize_output(Y) raised an error or did not return an array of shape "
                                f"({y.shape[0]}, 2) (see normalize_output).")
    what = "denormalize_output(normalize_output(Y))"
    back = _q4_outputs(name, answers, _Q4_ROUND_TRIP, what, y)
    ok = _round_trip_ok(back, y, params.rtol, params.atol).all(axis=1)
    if not ok.all():
        i = int(np.argmin(ok))
        return Finding(name, "fail", 0.0, f"{what} does not give Y back: the row Y = {y[i].tolist()} comes back "
                                          f"as [{', '.join(number_text(v) for v in back[i])}].",
                       {"row": y[i].tolist(), "given": [number_text(v) for v in back[i]]})
    if _unchanged_by_normalize(answers, y):
        return Finding(name, "fail", 0.0, "denormalize_output only undoes normalize_output, which does not "
                                          "change Y: there is no normalization to undo.")
    return Finding(name, "pass", 1.0, f"{what} gives Y back.")


# A float32 round trip (students who normalize with torch) is off by about 1e-7 of a column's range;
# the rubric's rtol may be tighter than that, and a wrong inverse is off by a large share of the range.
Q4_FLOAT32_RTOL = 1e-5


def _round_trip_ok(back: np.ndarray, y: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Element-wise: |back - y| <= atol + rtol * (that column's max - min), the way H3P2T2's checks
    measure slack against each range's width; relative to each value, an income near 0 would need
    digits no float32 has."""
    width = y.max(axis=0) - y.min(axis=0)
    with np.errstate(all="ignore"):
        return np.isfinite(back) & (np.abs(back - y) <= atol + max(rtol, Q4_FLOAT32_RTOL) * width)


def _normalized_shape_ok(answers: Answers, y: np.ndarray) -> bool:
    result = answers.probes.get(_Q4_NORMALIZED)
    return result is None or (result.ok and tuple(result.value["shape"]) == y.shape)


def _unchanged_by_normalize(answers: Answers, y: np.ndarray) -> bool:
    result = answers.probes.get(_Q4_NORMALIZED)
    flat = numbers(result.value) if result is not None and result.ok else None
    if flat is None or len(flat) != y.size:
        return False
    return bool(np.allclose(np.reshape(flat, y.shape), y, rtol=1e-9, atol=1e-9))
