"""Q5: output activations for regression targets on a half-line or an interval."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...model import Answers, Finding, Probe, Value
from ...rubric import Rubric
from .common import Verdict, bool_of, evaluated, expression_of, kind_words, number_text, probe_key, probe_values


Q5_RANGE_TOL = 1e-9


def q5_probes(rubric: Rubric, names: tuple[str, ...]) -> tuple[Probe, ...]:
    params = rubric.checks.Q5
    z = [float(v) for v in params.z]
    probes = [Probe(probe_key(n, "z"), (n,), args=(z,)) for n in ("f_nonneg", "f_nonpos") if n in names]
    if "f_bounded" in names:
        probes += [Probe(probe_key("f_bounded", str(i)), ("f_bounded",), args=(z, float(a), float(b)))
                   for i, (a, b) in enumerate(params.bounds)]
    return tuple(probes)


def _q5_values(name: str, value: Value, answers: Answers, z: np.ndarray, key: str,
               bounds: tuple[float, float] | None = None) -> np.ndarray:
    what = f"z = {', '.join(number_text(v) for v in z)}" if bounds is None else \
        f"the test z values with a={number_text(bounds[0])}, b={number_text(bounds[1])}"
    if value.kind == "callable":
        out = probe_values(answers, name, key, what)
    elif value.kind == "str":
        symbols = ("z",) if bounds is None else ("z", "a", "b")
        expr = expression_of(name, value, symbols)
        env = {"z": z} if bounds is None else {"z": z, "a": bounds[0], "b": bounds[1]}
        out = evaluated(name, expr, env, z.size)
    else:
        raise Verdict("fail", f"`{name}` must be a function of z (or an expression string in z"
                                f"{'' if bounds is None else ', a, b'}), but it is of type {kind_words(value)}.")
    if out.size != z.size:
        raise Verdict("fail", f"`{name}` returned {out.size} values for {z.size} inputs on {what}; "
                                "it must work element-wise on a NumPy array.")
    return out


def half_line_item(sign: int) -> Callable:
    """f_nonneg (sign +1) and f_nonpos (sign -1): mirror images of one check."""
    def check(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
        params = rubric.checks.Q5
        z = np.asarray(params.z, dtype=np.float64)
        out = _q5_values(name, value, answers, z, probe_key(name, "z"))
        problem = _half_line_problem(name, z, out, sign, params)
        if problem:
            return Finding(name, "fail", 0.0, problem[0], problem[1])
        return Finding(name, "pass", 1.0, f"`{name}` stays {'≥' if sign > 0 else '≤'} 0, is not constant "
                                          "and reaches across its range.")
    return check


def _half_line_problem(name, z, out, sign, params) -> tuple[str, dict] | None:
    def at(i, why):
        return (f"{name}({number_text(z[i])}) = {number_text(out[i])}: {why}", {"z": float(z[i]), "given": number_text(out[i])})

    s = sign * out  # work on the non-negative version
    noun = "price" if sign > 0 else "value"
    if np.isnan(out).any():
        return at(int(np.argmax(np.isnan(out))), "the output must be a number.")
    if (s < -Q5_RANGE_TOL).any():
        return at(int(np.argmax(s < -Q5_RANGE_TOL)), f"the output must be {'≥' if sign > 0 else '≤'} 0.")
    if np.unique(out).size == 1:
        return at(0, "it returns this same value for every z, so the output cannot depend on the network.")
    # The last extreme is quoted: the largest |z| shows best that the bound is never passed.
    top, low = s.size - 1 - int(np.argmax(s[::-1])), int(np.argmin(s))
    if s[top] < params.reach_high:
        word = "above" if sign > 0 else "below"
        return at(top, f"this is its {'largest' if sign > 0 else 'smallest'} value, so a {noun} {word} "
                       f"{number_text(out[top])} can never be predicted.")
    if s[low] > params.reach_low:
        word = "below" if sign > 0 else "above"
        return at(low, f"this is its {'smallest' if sign > 0 else 'largest'} value, so a value {word} "
                       f"{number_text(out[low])} can never be predicted.")
    return None


def bounded_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q5
    z = np.asarray(params.z, dtype=np.float64)
    for i, (a, b) in enumerate(params.bounds):
        out = _q5_values(name, value, answers, z, probe_key(name, str(i)), (a, b))
        problem = _bounded_problem(name, z, out, a, b, params.cover)
        if problem:
            return Finding(name, "fail", 0.0, problem[0], problem[1])
    return Finding(name, "pass", 1.0, "`f_bounded` stays inside [a, b] and covers it for every tested (a, b).")


def _bounded_problem(name, z, out, a, b, cover) -> tuple[str, dict] | None:
    def at(i, why):
        return (f"{name}(z={number_text(z[i])}, a={number_text(a)}, b={number_text(b)}) = {number_text(out[i])}: {why}",
                {"z": float(z[i]), "a": a, "b": b, "given": number_text(out[i])})

    tol = Q5_RANGE_TOL * max(1.0, abs(a), abs(b))
    if not np.isfinite(out).all():
        return at(int(np.argmax(~np.isfinite(out))), "the output must be a finite number.")
    outside = (out < a - tol) | (out > b + tol)
    if outside.any():
        return at(int(np.argmax(outside)), f"it is outside [a, b] = [{number_text(a)}, {number_text(b)}].")
    if np.unique(out).size == 1:
        return at(0, "it returns this same value for every z, so the output cannot depend on the network.")
    if out.max() - out.min() < cover * (b - a):
        lo, hi = int(np.argmin(out)), int(np.argmax(out))
        return at(hi, f"its values over the tested z only span [{number_text(out[lo])}, {number_text(out[hi])}] "
                      f"(smallest at z={number_text(z[lo])}), less than {cover:.0%} of [a, b] = [{number_text(a)}, {number_text(b)}].")
    return None


def q5_4_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if not bool_of(name, value):
        return Finding(name, "pass", 1.0, "No: the weights were fitted for an output without the activation, "
                                          "so adding it afterwards changes the predictions the loss was "
                                          "minimised for.")
    return Finding(name, "review", 0.5, "You answered True (yes). The expected answer is No, but a partial yes "
                                        "can be argued (e.g. a clip only moves wrong predictions closer); an "
                                        "instructor will read q5_4_explanation and decide. Provisional: half.")
