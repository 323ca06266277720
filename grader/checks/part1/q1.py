"""Q1: backpropagation. Derivative answers against automatic differentiation at random points, with
a diagnosis of the usual chain-rule slips."""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...kernel import activations
from ...model import Answers, Finding, Probe, Value
from ...rubric import Q1Params, Rubric
from ..expr import evaluate, parse_answer
from .common import (STREAM_Q1, Verdict, close, evaluated, expression_of, kind_words, number_text, probe_key,
                     probe_values, read_only)


Q1_NAMES = ("dL_dw1", "dL_dw2", "dL_dw3", "dL_dw4", "dL_db1", "dL_db2", "dL_db3", "dL_dx")


Q1_LEAVES = ("x", "w1", "w2", "w3", "w4", "b1", "b2", "b3")


Q1_SYMBOLS = Q1_LEAVES + ("z1", "z2", "z3", "h1", "h2", "y_hat", "dL_dy_hat")


Q1_FUNCTIONS = ("f1", "f2", "f3", "df1", "df2", "df3")


# How SymPy's printout of a derivative is read. L is the loss as a function of y_hat, which students
# who derive with sympy.Function("L") get: Derivative(L(f3(...)), f3(...)) is dL_dy_hat there.
Q1_DERIVATIVES = {"f1": "df1", "f2": "df2", "f3": "df3", "L": "dL"}


# The correct derivatives as sums of chain-rule paths; the diagnosis edits these factor lists.
_UP = ("dL_dy_hat", "df3(z3)")


Q1_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "dL_dw1": (_UP + ("w3", "df1(z1)", "x"),),
    "dL_dw2": (_UP + ("w4", "df2(z2)", "x"),),
    "dL_dw3": (_UP + ("h1",),),
    "dL_dw4": (_UP + ("h2",),),
    "dL_db1": (_UP + ("w3", "df1(z1)"),),
    "dL_db2": (_UP + ("w4", "df2(z2)"),),
    "dL_db3": (_UP,),
    "dL_dx": (_UP + ("w3", "df1(z1)", "w1"), _UP + ("w4", "df2(z2)", "w2")),
}


_PATH_NAMES = ("h1", "h2")


# Mix-ups tried on the correct expression: (old -> new) renamings applied at once, and how to say it.
_SWAPS = (("w3", "w4"), ("w1", "w2"), ("h1", "h2"), ("z1", "z2"), ("b1", "b2"), ("df1", "df2"),
          ("df1(z1)", "df2(z2)"))


_FUNCTION_FOR_DERIVATIVE = (("df1", "f1"), ("df2", "f2"), ("df3", "f3"))


@dataclass(frozen=True)
class Q1Group:
    """One set of random points with one choice of activations; arrays are read-only."""

    f: tuple[str, str, str]
    """Activation names of f1, f2, f3."""
    loss: str
    inputs: dict[str, np.ndarray]
    """Every Q1 symbol at the group's points."""
    truth: dict[str, np.ndarray]
    """Derivative name -> value by automatic differentiation."""
    variants: dict[str, tuple[tuple[str, np.ndarray], ...]]
    """Derivative name -> (diagnosis, values) of expressions off by one chain-rule mistake."""

    def functions(self) -> dict[str, Callable]:
        table = activations.table()
        out = {f"f{i + 1}": table[f] for i, f in enumerate(self.f)}
        out |= {f"df{i + 1}": table[f"d_{f}"] for i, f in enumerate(self.f)}
        return out


def _activation_triples(activations: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """Cyclic shifts: each activation once in each role, and f1, f2, f3 differ when there are 3+."""
    n = len(activations)
    return tuple((activations[k], activations[(k + 1) % n], activations[(k + 2) % n]) for k in range(n))


@dataclass(frozen=True)
class Q1Points:
    """One group's points as the request sends them: every Q1 symbol's value, from NumPy alone, so
    that a run's request (and its cache key) needs no torch; the truth at them is q1_groups'."""

    f: tuple[str, str, str]
    loss: str
    target: np.ndarray
    inputs: dict[str, np.ndarray]


@functools.lru_cache(maxsize=8)
def q1_points(seed: int, params: Q1Params) -> tuple[Q1Points, ...]:
    """The Q1 point sets of one rubric: leaves drawn from the rubric's seed, the forward pass and
    dL/dy_hat (an input students may use) in NumPy."""
    triples = _activation_triples(params.activations)
    per_group = math.ceil(params.points / len(triples))
    rng = np.random.default_rng([seed, STREAM_Q1])
    points = []
    for triple in triples:
        loss = params.loss if (params.loss == "mse" or triple[2] == "sigmoid") else "mse"
        leaves = {name: rng.uniform(params.low, params.high, per_group) for name in Q1_LEAVES}
        target = rng.uniform(0.05, 0.95, per_group) if loss == "bce" else rng.uniform(-1, 1, per_group)
        points.append(Q1Points(triple, loss, read_only(target), _forward(triple, loss, leaves, target)))
    return tuple(points)


def _forward(triple, loss, leaves, target) -> dict[str, np.ndarray]:
    table = activations.table()
    f1, f2, f3 = (table[name] for name in triple)
    v = {k: np.asarray(x, dtype=np.float64) for k, x in leaves.items()}
    v["z1"], v["z2"] = v["w1"] * v["x"] + v["b1"], v["w2"] * v["x"] + v["b2"]
    v["h1"], v["h2"] = f1(v["z1"]), f2(v["z2"])
    v["z3"] = v["w3"] * v["h1"] + v["w4"] * v["h2"] + v["b3"]
    v["y_hat"] = y_hat = f3(v["z3"])
    v["dL_dy_hat"] = (-(target / y_hat) + (1 - target) / (1 - y_hat)) if loss == "bce" else y_hat - target
    return {k: read_only(x) for k, x in v.items()}


@functools.lru_cache(maxsize=8)
def q1_groups(seed: int, params: Q1Params) -> tuple[Q1Group, ...]:
    """The Q1 point sets with their true derivatives (automatic differentiation) and diagnosis
    variants, for one rubric (computed once, when the first Q1 answer is judged)."""
    return tuple(_frozen_group(p.f, p.loss, p.inputs, _autograd_truth(p.f, p.loss, p.inputs, p.target))
                 for p in q1_points(seed, params))


def _autograd_truth(triple, loss, inputs, target) -> dict[str, np.ndarray]:
    import torch  # 1 s to import; only the first Q1 answer judged in a run pays it

    t = {k: torch.tensor(np.array(inputs[k]), dtype=torch.float64, requires_grad=True) for k in Q1_LEAVES}
    _, per_point = torch_loss(triple, loss, t, target)
    # Points are independent, so the gradient of the sum is each point's own gradient.
    grads = torch.autograd.grad(per_point.sum(), [t[k] for k in Q1_LEAVES])
    truth = {f"dL_d{k}": g.detach().numpy() for k, g in zip(Q1_LEAVES, grads)}
    return {name: truth[name] for name in Q1_NAMES}


def torch_loss(triple, loss, leaves, target):
    """(y_hat, the loss at each point) as torch tensors, from the leaves as tensors."""
    import torch

    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "sin": torch.sin,
            "softplus": lambda z: torch.logaddexp(torch.zeros_like(z), z), "identity": lambda z: z * 1.0}
    f1, f2, f3 = (acts[name] for name in triple)
    h1, h2 = f1(leaves["w1"] * leaves["x"] + leaves["b1"]), f2(leaves["w2"] * leaves["x"] + leaves["b2"])
    y_hat = f3(leaves["w3"] * h1 + leaves["w4"] * h2 + leaves["b3"])
    y = torch.tensor(np.array(target), dtype=torch.float64)
    if loss == "bce":
        return y_hat, -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat))
    return y_hat, (y_hat - y) ** 2 / 2


def _frozen_group(triple, loss, inputs, truth) -> Q1Group:
    inputs = {k: read_only(v) for k, v in inputs.items()}
    truth = {k: read_only(v) for k, v in truth.items()}
    group = Q1Group(triple, loss, inputs, truth, {})
    env = inputs | group.functions()
    variants = {name: tuple((words, read_only(np.broadcast_to(evaluate(expr, env), truth[name].shape)))
                            for words, expr in _variant_expressions(name))
                for name in Q1_NAMES}
    return Q1Group(triple, loss, inputs, truth, variants)


@functools.lru_cache(maxsize=len(Q1_NAMES))
def _variant_expressions(name: str) -> tuple:
    return tuple((words, parse_answer(text, Q1_SYMBOLS, Q1_FUNCTIONS)) for words, text in q1_variants(name))




def q1_reference(name: str) -> str:
    """A correct answer for one Q1 derivative, as a string."""
    return _sum_of_paths(Q1_PATHS[name])


def _sum_of_paths(paths) -> str:
    return " + ".join("*".join(p) if p else "1" for p in paths) if paths else "0"


def q1_variants(name: str) -> tuple[tuple[str, str], ...]:
    """(diagnosis, expression) for each single chain-rule mistake on one derivative."""
    paths = Q1_PATHS[name]
    out = list(_dropped_factors(paths))
    if len(paths) > 1:
        out += [(f"is missing the path through {_PATH_NAMES[i]} ({'*'.join(path[len(_UP):])})",
                 _sum_of_paths(paths[:i] + paths[i + 1:])) for i, path in enumerate(paths)]
    correct = _sum_of_paths(paths)
    for a, b in _SWAPS:
        out += _swapped(correct, a, b)
    for d, f in _FUNCTION_FOR_DERIVATIVE:
        if re.search(_token(d), correct):
            out.append((f"uses {f} where its derivative {d} belongs", re.sub(_token(d), f, correct)))
    out.append(("has the wrong sign", f"-({correct})"))
    return tuple(out)


def _dropped_factors(paths):
    shared = set.intersection(*(set(p) for p in paths))
    for factor in dict.fromkeys(f for p in paths for f in p):
        if factor in shared:
            yield (f"is missing the factor {factor}",
                   _sum_of_paths(tuple(tuple(f for f in p if f != factor) for p in paths)))
        else:
            i = next(i for i, p in enumerate(paths) if factor in p)
            where = f" in the path through {_PATH_NAMES[i]}" if len(paths) > 1 else ""
            edited = tuple(tuple(f for f in p if f != factor) if j == i else p for j, p in enumerate(paths))
            yield (f"is missing the factor {factor}{where}", _sum_of_paths(edited))


def _token(name: str) -> str:
    """Regex for `name` as a whole token (names and factors such as df1(z1))."""
    return rf"(?<!\w){re.escape(name)}(?!\w)"


def _swapped(text: str, a: str, b: str) -> list[tuple[str, str]]:
    has_a, has_b = bool(re.search(_token(a), text)), bool(re.search(_token(b), text))
    if not (has_a or has_b):
        return []
    swapped = re.sub(f"{_token(a)}|{_token(b)}", lambda m: b if m[0] == a else a, text)
    if has_a and has_b:
        return [(f"swaps {a} and {b}", swapped)]
    old, new = (a, b) if has_a else (b, a)
    return [(f"uses {new} where {old} belongs", swapped)]


def q1_probes(rubric: Rubric, names: tuple[str, ...]) -> tuple[Probe, ...]:
    wanted = [n for n in Q1_NAMES if n in names]
    if not wanted:
        return ()
    probes = []
    for g, group in enumerate(q1_points(rubric.seed, rubric.checks.Q1)):
        kwargs = {k: v.tolist() for k, v in group.inputs.items()}
        for i, f in enumerate(group.f):
            kwargs[f"f{i + 1}"] = {"__fn__": f}
            kwargs[f"df{i + 1}"] = {"__fn__": f"d_{f}"}
        probes += [Probe(probe_key(name, str(g)), (name,), kwargs=kwargs) for name in wanted]
    return tuple(probes)


def q1_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q1
    groups = q1_groups(rubric.seed, params)
    given = _q1_given(name, value, answers, groups)
    matches = [close(v, grp.truth[name], params.rtol, params.atol) for v, grp in zip(given, groups)]
    if all(m.all() for m in matches):
        return Finding(name, "pass", 1.0, f"`{name}` matches the derivative at all "
                                          f"{sum(m.size for m in matches)} test points.")
    g = next(i for i, m in enumerate(matches) if not m.all())
    i = int(np.argmin(matches[g]))
    counter = _q1_counterexample(name, groups[g], i, float(given[g][i]))
    message = _q1_message(name, value, counter) + _q1_diagnosis(name, given, groups, matches, params)
    return Finding(name, "fail", 0.0, message, counter)


def _q1_given(name: str, value: Value, answers: Answers, groups) -> list[np.ndarray]:
    n = [grp.truth[name].size for grp in groups]
    if value.kind == "str":
        expr = expression_of(name, value, Q1_SYMBOLS, Q1_FUNCTIONS, Q1_DERIVATIVES)
        return [evaluated(name, expr, grp.inputs | grp.functions() | {"dL": _loss_derivative(grp)}, k)
                for grp, k in zip(groups, n)]
    if value.kind in ("int", "float"):
        return [np.full(k, float(value.value)) for k in n]
    if value.kind == "callable":
        out = []
        for g, (grp, k) in enumerate(zip(groups, n)):
            what = f"the test points with f1={grp.f[0]}, f2={grp.f[1]}, f3={grp.f[2]}"
            vals = probe_values(answers, name, probe_key(name, str(g)), what)
            if vals.size != k:
                raise Verdict("fail", f"`{name}` returned {vals.size} values for {k} points on {what}; "
                                        "it must return one value per point (work element-wise).")
            out.append(vals)
        return out
    raise Verdict("fail", f"`{name}` must be an expression string such as \"dL_dy_hat * df3(z3) * h1\" "
                            f"or a function of those symbols, but it is of type {kind_words(value)}.")


def _loss_derivative(group: Q1Group) -> Callable:
    """L'(u): dL_dy_hat where u is y_hat, nan elsewhere (the loss is known only through dL_dy_hat)."""
    def d_loss(u):
        at_y_hat = close(np.asarray(u, dtype=np.float64), group.inputs["y_hat"], 1e-9, 1e-12)
        return np.where(at_y_hat, group.inputs["dL_dy_hat"], np.nan)
    return d_loss


def _q1_counterexample(name: str, group: Q1Group, i: int, given: float) -> dict:
    point = {k: float(group.inputs[k][i]) for k in Q1_LEAVES + ("dL_dy_hat",)}
    return {"point": point, "f1": group.f[0], "f2": group.f[1], "f3": group.f[2], "loss": group.loss,
            "expected": float(group.truth[name][i]), "given": given}


def _q1_message(name: str, value: Value, c: dict) -> str:
    p = c["point"]
    where = ", ".join(f"{k}={number_text(p[k])}" for k in Q1_LEAVES)
    loss = "binary cross-entropy" if c["loss"] == "bce" else "squared error"
    number = " It is a number, but the derivative depends on the point." if value.kind in ("int", "float") else ""
    return (f"`{name}` does not match the derivative.{number} Counterexample: with f1={c['f1']}, "
            f"f2={c['f2']}, f3={c['f3']} and {where} (so dL_dy_hat={number_text(p['dL_dy_hat'])} under a "
            f"{loss} loss), the derivative is {number_text(c['expected'])} but your answer gives {number_text(c['given'])}.")


def _q1_diagnosis(name, given, groups, matches, params) -> str:
    for k, (words, _) in enumerate(groups[0].variants[name]):
        if all(close(v, grp.variants[name][k][1], params.rtol, params.atol).all()
               for v, grp in zip(given, groups)):
            return f" It looks like your answer {words}."
    for other in Q1_NAMES:
        if other != name and all(close(v, grp.truth[other], params.rtol, params.atol).all()
                                 for v, grp in zip(given, groups)):
            return f" It equals {other} instead."
    right = [grp.f for grp, m in zip(groups, matches) if m.all()]
    if right:
        shown = "; ".join(f"f1={a}, f2={b}, f3={c}" for a, b, c in right)
        return (f" It is right only for some activations ({shown}): write the activations' derivatives "
                "as df1(z1), df2(z2), df3(z3) rather than the formula of one activation.")
    return ""
