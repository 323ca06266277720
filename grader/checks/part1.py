"""Part 1 (H3P1) checkers: Answers + Rubric -> one Finding per item of Q1..Q5. Pure: no I/O, no kernel.

Every verdict comes from a behaviour check of an extracted answer: expressions are evaluated at random
points drawn from the rubric's seed (strings here, through expr.py; callables in the kernel, through the
probes that part1_request asks for), and compared with values the grader computes itself.

Q1's concrete loss: the rubric's `loss` where it is defined. Binary cross-entropy needs y_hat in (0, 1),
so it is used for the groups whose f3 is sigmoid; every other group uses L = (y_hat - t)**2 / 2. The
answers only see dL_dy_hat, so the choice cannot change a verdict; it only keeps the truth finite.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..extract import numbers
from ..model import TARGET_RANGES, Answers, Finding, Probe, Request, Value
from ..rubric import Q1Params, Rubric
from ..kernel import activations
from .expr import ExprError, evaluate, parse_answer

PART1_QUESTIONS = ("Q1", "Q2", "Q3", "Q4", "Q5")

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

Q2_CORE = ("x", "h", "z", "y")
Q2_EDGES = (("x", "h"), ("x", "z"), ("h", "y"))
(_INCOME_LO, _INCOME_HI), (_AGE_LO, _AGE_HI) = TARGET_RANGES.values()
Q4_EXTREMES = ((_INCOME_LO, _AGE_LO), (_INCOME_HI, _AGE_HI), (_INCOME_LO, _AGE_HI), (_INCOME_HI, _AGE_LO))
Q5_RANGE_TOL = 1e-9

# Independent random streams per question: default_rng([rubric.seed, stream]).
_STREAM_Q1, _STREAM_Q2, _STREAM_Q4 = 1, 2, 4

# Words (letters only) that name each output activation; "soft-max", "Soft Max" reduce to "softmax".
_SIGMOID_NAMES = ("sigmoid", "logistic", "σ", "sigma", "expit")
_SOFTMAX_NAMES = ("softmax", "softargmax", "normalizedexponential")
_NUMBER_WORDS = {"one": 1, "two": 2, "zero": 0, "three": 3, "single": 1}
_YES, _NO = {"true", "yes", "y"}, {"false", "no", "n"}


class _Unusable(Exception):
    """An answer that cannot be judged as given; becomes a Finding with this status and message."""

    def __init__(self, status: str, message: str, counterexample: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.counterexample = status, message, counterexample


# ----------------------------------------------------------------------------- public API

def part1_request(rubric: Rubric) -> Request:
    """Every Part 1 answer name, and the probes that evaluate callable answers in the kernel."""
    names = tuple(item for q in PART1_QUESTIONS if q in rubric.questions
                  for item in rubric.questions[q].items)
    probes = _q1_probes(rubric, names) + _q4_probes(rubric, names) + _q5_probes(rubric, names)
    return Request(names=names, probes=probes)


def check_part1(answers: Answers, rubric: Rubric) -> list[Finding]:
    """Exactly one Finding per item of Q1..Q5 in the rubric, in the rubric's order."""
    return [_item_finding(item, answers, rubric)
            for q in PART1_QUESTIONS if q in rubric.questions
            for item in rubric.questions[q].items]


def probe_key(name: str, tag: str) -> str:
    """Probe keys are "<answer name>#<what it was called on>", e.g. "dL_dw1#2" for Q1 group 2."""
    return f"{name}#{tag}"


def _item_finding(item: str, answers: Answers, rubric: Rubric) -> Finding:
    if item in answers.missing:
        return Finding(item, "missing", 0.0, f"No answer for `{item}`: {answers.missing[item].rstrip('.')}.")
    if item not in answers.values:
        return Finding(item, "missing", 0.0, f"No answer for `{item}`: it was not read from the notebook.")
    if answers.values[item].kind == "none":
        return Finding(item, "missing", 0.0, f"No answer for `{item}`: it is still None.")
    check = _ITEM_CHECKS.get(item)
    if check is None:
        return Finding(item, "error", 0.0, f"The grader has no check for the item `{item}`; "
                                           "an instructor will score it.")
    try:
        return check(item, answers.values[item], answers, rubric)
    except _Unusable as bad:
        return Finding(item, bad.status, 0.0, bad.message, bad.counterexample)
    except Exception as exc:  # the grader's own bug must cost this item a review, not the class a run
        return Finding(item, "error", 0.0, f"The grader failed while checking `{item}` "
                                           f"({type(exc).__name__}: {exc}); an instructor will score it.")


# ----------------------------------------------------------------------------- shared helpers

def _fmt(v: float) -> str:
    return f"{v:.6g}" if math.isfinite(v) else str(v)


def _close(given: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Element-wise match, scaled by the larger magnitude; a non-finite given value never matches."""
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(given), np.abs(expected))
        return np.isfinite(given) & (np.abs(given - expected) <= atol + rtol * scale)


def _probe_values(answers: Answers, name: str, key: str, what: str) -> np.ndarray:
    """The numbers a callable answer returned for one probe (flat float64), or _Unusable."""
    result = answers.probes.get(key)
    if result is None:
        raise _Unusable("error", f"`{name}` is a function, but the grader got no result from calling it "
                                 f"on {what}; an instructor will check it.")
    if not result.ok:
        cut = " (the kernel keeps the first 500 characters of an error)" if len(result.error) >= 500 else ""
        raise _Unusable("fail", f"Calling `{name}` on {what} raised an error: {result.error}{cut}")
    flat = numbers(result.value)
    if flat is None:
        raise _Unusable("error", f"`{name}` returned something the grader cannot read on {what}.")
    return np.asarray(flat, dtype=np.float64)


def _probe_shape(answers: Answers, key: str) -> tuple[int, ...]:
    return tuple(answers.probes[key].value["shape"])


def _expression_of(name: str, value: Value, symbols: tuple[str, ...], functions: tuple[str, ...] = (),
                   derivatives: dict[str, str] | None = None):
    try:
        return parse_answer(value.value, symbols, functions, derivatives)
    except ExprError as exc:
        raise _Unusable("fail", f"`{name}` = {_shown(value)} could not be read as an expression: {exc}.")


def _shown(value: Value, limit: int = 300) -> str:
    """The answer's text for a message; a cut says so, and a SymPy object says it was printed."""
    text = value.value
    shown = repr(text) if len(text) <= limit else \
        f"{text[:limit]!r}... (the first {limit} of {len(text)} characters; the rest is in your notebook)"
    if value.type_name and value.type_name not in ("str", "str_"):
        shown += f" (a {value.type_name} object, read as the text it prints as)"
    return shown


def _evaluated(name: str, expr, values: dict[str, Any], n: int) -> np.ndarray:
    try:
        out = evaluate(expr, values)
        return np.broadcast_to(out, (n,)).astype(np.float64)
    except Exception as exc:  # e.g. a shape that does not broadcast; the student's expression is at fault
        raise _Unusable("fail", f"`{name}` could not be evaluated ({type(exc).__name__}: {exc}).")


def _bool_of(name: str, value: Value) -> bool:
    """True/False; the strings yes/no/true/false are read too (their meaning is not in doubt)."""
    if value.kind == "bool":
        return bool(value.value)
    if value.kind == "str" and value.value.strip().lower() in _YES | _NO:
        return value.value.strip().lower() in _YES
    raise _Unusable("fail", f"`{name}` must be True or False (a bool), but it is of type {_kind_words(value)}.")


def _kind_words(value: Value) -> str:
    shown = f" ({value.value!r})" if value.kind in ("str", "int", "float", "bool") else ""
    words = f"{value.type_name or value.kind}{shown}"
    return words if len(words) <= 200 else f"{words[:200]}... (cut at 200 characters)"


# ----------------------------------------------------------------------------- Q1 data (cached)

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


@functools.lru_cache(maxsize=8)
def q1_groups(seed: int, params: Q1Params) -> tuple[Q1Group, ...]:
    """The Q1 point sets, true derivatives and diagnosis variants for one rubric (computed once)."""
    triples = _activation_triples(params.activations)
    per_group = math.ceil(params.points / len(triples))
    rng = np.random.default_rng([seed, _STREAM_Q1])
    groups = []
    for triple in triples:
        loss = params.loss if (params.loss == "mse" or triple[2] == "sigmoid") else "mse"
        leaves = {name: rng.uniform(params.low, params.high, per_group) for name in Q1_LEAVES}
        target = rng.uniform(0.05, 0.95, per_group) if loss == "bce" else rng.uniform(-1, 1, per_group)
        inputs, truth = _autograd_truth(triple, loss, leaves, target)
        groups.append(_frozen_group(triple, loss, inputs, truth))
    return tuple(groups)


def _autograd_truth(triple, loss, leaves, target):
    import torch  # 1 s to import; only the first Part 1 check of a run pays it

    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "sin": torch.sin,
            "softplus": lambda z: torch.logaddexp(torch.zeros_like(z), z), "identity": lambda z: z * 1.0}
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in leaves.items()}
    f1, f2, f3 = (acts[name] for name in triple)
    z1, z2 = t["w1"] * t["x"] + t["b1"], t["w2"] * t["x"] + t["b2"]
    h1, h2 = f1(z1), f2(z2)
    z3 = t["w3"] * h1 + t["w4"] * h2 + t["b3"]
    y_hat = f3(z3)
    y = torch.tensor(target, dtype=torch.float64)
    if loss == "bce":
        per_point = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat))
    else:
        per_point = (y_hat - y) ** 2 / 2
    # Points are independent, so the gradient of the sum is each point's own gradient.
    grads = torch.autograd.grad(per_point.sum(), [t[k] for k in Q1_LEAVES] + [y_hat])
    truth = {f"dL_d{k}": g.detach().numpy() for k, g in zip(Q1_LEAVES, grads)}
    inputs = {k: np.asarray(v, dtype=np.float64) for k, v in leaves.items()}
    inputs |= {k: v.detach().numpy() for k, v in
               dict(z1=z1, z2=z2, z3=z3, h1=h1, h2=h2, y_hat=y_hat, dL_dy_hat=grads[-1]).items()}
    return inputs, {name: truth[name] for name in Q1_NAMES}


def _frozen_group(triple, loss, inputs, truth) -> Q1Group:
    inputs = {k: _read_only(v) for k, v in inputs.items()}
    truth = {k: _read_only(v) for k, v in truth.items()}
    group = Q1Group(triple, loss, inputs, truth, {})
    env = inputs | group.functions()
    variants = {name: tuple((words, _read_only(np.broadcast_to(evaluate(expr, env), truth[name].shape)))
                            for words, expr in _variant_expressions(name))
                for name in Q1_NAMES}
    return Q1Group(triple, loss, inputs, truth, variants)


@functools.lru_cache(maxsize=len(Q1_NAMES))
def _variant_expressions(name: str) -> tuple:
    return tuple((words, parse_answer(text, Q1_SYMBOLS, Q1_FUNCTIONS)) for words, text in q1_variants(name))


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


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


# ----------------------------------------------------------------------------- Q1 check

def _q1_probes(rubric: Rubric, names: tuple[str, ...]) -> tuple[Probe, ...]:
    wanted = [n for n in Q1_NAMES if n in names]
    if not wanted:
        return ()
    groups = q1_groups(rubric.seed, rubric.checks.Q1)
    probes = []
    for g, group in enumerate(groups):
        kwargs = {k: v.tolist() for k, v in group.inputs.items()}
        for i, f in enumerate(group.f):
            kwargs[f"f{i + 1}"] = {"__fn__": f}
            kwargs[f"df{i + 1}"] = {"__fn__": f"d_{f}"}
        probes += [Probe(probe_key(name, str(g)), (name,), kwargs=kwargs) for name in wanted]
    return tuple(probes)


def _q1_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q1
    groups = q1_groups(rubric.seed, params)
    given = _q1_given(name, value, answers, groups)
    matches = [_close(v, grp.truth[name], params.rtol, params.atol) for v, grp in zip(given, groups)]
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
        expr = _expression_of(name, value, Q1_SYMBOLS, Q1_FUNCTIONS, Q1_DERIVATIVES)
        return [_evaluated(name, expr, grp.inputs | grp.functions() | {"dL": _loss_derivative(grp)}, k)
                for grp, k in zip(groups, n)]
    if value.kind in ("int", "float"):
        return [np.full(k, float(value.value)) for k in n]
    if value.kind == "callable":
        out = []
        for g, (grp, k) in enumerate(zip(groups, n)):
            what = f"the test points with f1={grp.f[0]}, f2={grp.f[1]}, f3={grp.f[2]}"
            vals = _probe_values(answers, name, probe_key(name, str(g)), what)
            if vals.size != k:
                raise _Unusable("fail", f"`{name}` returned {vals.size} values for {k} points on {what}; "
                                        "it must return one value per point (work element-wise).")
            out.append(vals)
        return out
    raise _Unusable("fail", f"`{name}` must be an expression string such as \"dL_dy_hat * df3(z3) * h1\" "
                            f"or a function of those symbols, but it is of type {_kind_words(value)}.")


def _loss_derivative(group: Q1Group) -> Callable:
    """L'(u): dL_dy_hat where u is y_hat, nan elsewhere (the loss is known only through dL_dy_hat)."""
    def d_loss(u):
        at_y_hat = _close(np.asarray(u, dtype=np.float64), group.inputs["y_hat"], 1e-9, 1e-12)
        return np.where(at_y_hat, group.inputs["dL_dy_hat"], np.nan)
    return d_loss


def _q1_counterexample(name: str, group: Q1Group, i: int, given: float) -> dict:
    point = {k: float(group.inputs[k][i]) for k in Q1_LEAVES + ("dL_dy_hat",)}
    return {"point": point, "f1": group.f[0], "f2": group.f[1], "f3": group.f[2], "loss": group.loss,
            "expected": float(group.truth[name][i]), "given": given}


def _q1_message(name: str, value: Value, c: dict) -> str:
    p = c["point"]
    where = ", ".join(f"{k}={_fmt(p[k])}" for k in Q1_LEAVES)
    loss = "binary cross-entropy" if c["loss"] == "bce" else "squared error"
    number = " It is a number, but the derivative depends on the point." if value.kind in ("int", "float") else ""
    return (f"`{name}` does not match the derivative.{number} Counterexample: with f1={c['f1']}, "
            f"f2={c['f2']}, f3={c['f3']} and {where} (so dL_dy_hat={_fmt(p['dL_dy_hat'])} under a "
            f"{loss} loss), the derivative is {_fmt(c['expected'])} but your answer gives {_fmt(c['given'])}.")


def _q1_diagnosis(name, given, groups, matches, params) -> str:
    for k, (words, _) in enumerate(groups[0].variants[name]):
        if all(_close(v, grp.variants[name][k][1], params.rtol, params.atol).all()
               for v, grp in zip(given, groups)):
            return f" It looks like your answer {words}."
    for other in Q1_NAMES:
        if other != name and all(_close(v, grp.truth[other], params.rtol, params.atol).all()
                                 for v, grp in zip(given, groups)):
            return f" It equals {other} instead."
    right = [grp.f for grp, m in zip(groups, matches) if m.all()]
    if right:
        shown = "; ".join(f"f1={a}, f2={b}, f3={c}" for a, b, c in right)
        return (f" It is right only for some activations ({shown}): write the activations' derivatives "
                "as df1(z1), df2(z2), df3(z3) rather than the formula of one activation.")
    return ""


# ----------------------------------------------------------------------------- Q2

def _graph_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    edges = _edge_list(name, value)
    deps = _core_dependencies(edges)
    nodes = {n for e in edges for n in e}
    expected = set(Q2_EDGES)
    right, extra = deps & expected, sorted(deps - expected)
    missing = sorted(expected - deps)
    fraction = max(0.0, (len(right) - len(extra)) / len(expected))
    if not missing and not extra:
        return Finding(name, "pass", 1.0, "The graph gives exactly the dependencies x→h, x→z, h→y.")
    parts = [f"Among x, h, z, y your graph gives {_arrows(sorted(deps)) or 'no dependencies'}; "
             "the equations give x→h, x→z, h→y."]
    absent = [n for n in Q2_CORE if n not in nodes]
    if absent:
        parts.append(f"Node(s) {', '.join(absent)} do not appear (node names are x, h, z, y).")
    if missing:
        parts.append(f"Missing: {_arrows(missing)}.")
    if extra:
        parts.append(f"Wrong extra: {_arrows(extra)} (each wrong edge cancels a right one).")
    return Finding(name, "fail", fraction, " ".join(parts),
                   {"missing": [list(e) for e in missing], "extra": [list(e) for e in extra]})


def _arrows(edges) -> str:
    return ", ".join(f"{u}→{v}" for u, v in edges)


_GRAPH_FORMS = ('`{name}` must be a list of (source, target) pairs such as [("x", "h"), ("x", "z"), ...]; '
                'a set or tuple of pairs, an adjacency dict {{"x": ["h", "z"], "h": ["y"]}} and strings '
                '"x -> h" are read too')
_ARROW = re.compile(r"\s*(?:->|→|-->|=>)\s*")


def _edge_list(name: str, value: Value) -> list[tuple[str, str]]:
    usage = _GRAPH_FORMS.format(name=name)
    if value.kind == "dict":
        edges = _adjacency_edges(usage, value.value)
    elif value.kind == "list":
        edges = [e for i, item in enumerate(value.value) for e in _item_edges(usage, i, item)]
    elif value.kind == "str" and _ARROW.search(value.value):
        edges = _arrow_edges(usage, value.value)
    else:
        raise _Unusable("fail", f"{usage}, but it is of type {_kind_words(value)}.")
    if not edges:
        raise _Unusable("fail", f"{usage}, but it holds no edges.")
    return edges


def _item_edges(usage: str, i: int, item) -> list[tuple[str, str]]:
    """One element of a list of edges: a (source, target) pair, or a string "x -> h" (a chain too)."""
    if isinstance(item, list) and len(item) == 2 and all(type(n) in (str, int, float) for n in item):
        return [(_node_name(item[0]), _node_name(item[1]))]
    if isinstance(item, str) and _ARROW.search(item):
        return _arrow_edges(usage, item)
    raise _Unusable("fail", f"{usage}; element {i} is {_short(item)}.")


def _arrow_edges(usage: str, text: str) -> list[tuple[str, str]]:
    """ "x -> h", "x->h", "x → h", "x -> h -> y", and several of them separated by commas or lines."""
    edges = []
    for part in re.split(r"[,;\n]+", text):
        if not part.strip():
            continue
        nodes = _ARROW.split(part.strip())
        if len(nodes) < 2 or not all(n.strip() for n in nodes):
            raise _Unusable("fail", f"{usage}; {_short(part.strip())} is not of the form \"source -> target\".")
        edges += [(_node_name(u), _node_name(v)) for u, v in zip(nodes, nodes[1:])]
    return edges


def _adjacency_edges(usage: str, adjacency: dict) -> list[tuple[str, str]]:
    edges = []
    for source, targets in adjacency.items():
        targets = [] if targets is None else targets if isinstance(targets, list) else [targets]
        if not all(type(t) in (str, int, float) for t in targets):
            raise _Unusable("fail", f"{usage}; the targets of {source!r} are {_short(targets)}.")
        edges += [(_node_name(source), _node_name(t)) for t in targets]
    return edges


def _short(item) -> str:
    text = repr(item)
    return text if len(text) <= 200 else f"{text[:200]}... (cut at 200 characters)"


def _node_name(node) -> str:
    return node.strip().lower() if isinstance(node, str) else _fmt(float(node))


def _core_dependencies(edges) -> set[tuple[str, str]]:
    """u→v among x, h, z, y when v is reachable from u through other nodes only (extra nodes contracted)."""
    successors: dict[str, set[str]] = {}
    for u, v in edges:
        successors.setdefault(u, set()).add(v)
    deps = set()
    for u in Q2_CORE:
        seen, stack = set(), list(successors.get(u, ()))
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in Q2_CORE:
                deps.add((u, node))
            else:
                stack.extend(successors.get(node, ()))
    return deps


@functools.lru_cache(maxsize=8)
def q2_points(seed: int, n: int = 20) -> dict[str, np.ndarray]:
    """x at random and h, z, y from the graph's equations: an answer in x, h, z, y is judged where
    the equations hold (h = 2x+1, z = x**2, y = sigmoid(h)), so "y*(1-y) - sigmoid(h)*(1-sigmoid(h))"
    is the 0 it is."""
    x = np.random.default_rng([seed, _STREAM_Q2]).uniform(-2, 2, n)
    h = 2 * x + 1
    return {"x": _read_only(x), "h": _read_only(h), "z": _read_only(x ** 2), "y": _read_only(activations.sigmoid(h))}


def _dy_dz_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if value.kind in ("int", "float"):
        given, shown = np.array([float(value.value)]), repr(value.value)
        point = None
    elif value.kind == "str":
        expr = _expression_of(name, value, Q2_CORE)
        point = q2_points(rubric.seed)
        given, shown = _evaluated(name, expr, point, point["x"].size), _shown(value, 200)
    else:
        raise _Unusable("fail", f"`{name}` must be an expression string or a number, "
                                f"but it is of type {_kind_words(value)}.")
    nonzero = ~(np.isfinite(given) & (np.abs(given) <= 1e-9))
    if not nonzero.any():
        return Finding(name, "pass", 1.0, "dy/dz = 0: y does not depend on z.")
    i = int(np.argmax(nonzero))
    at = "" if point is None else (f" at x={_fmt(point['x'][i])} (so h=2x+1={_fmt(point['h'][i])}, "
                                   f"z=x²={_fmt(point['z'][i])}, y=sigmoid(h)={_fmt(point['y'][i])})")
    return Finding(name, "fail", 0.0,
                   f"`{name}` = {shown} is not 0: it gives {_fmt(given[i])}{at}. In the graph no path "
                   "leads from z to y (y = sigmoid(h) and h = 2x+1 do not involve z), so dy/dz = 0.",
                   {"given": float(given[i]), "expected": 0.0})


# ----------------------------------------------------------------------------- Q3

def _units_item(expected: int, loss: str) -> Callable:
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
            raise _Unusable("review", f"`{name}` = {_shown(value, 200)} names several numbers "
                                      f"({', '.join(map(str, sorted(found)))}), so the grader cannot tell which "
                                      "is the number of output units; an instructor will read it (write just "
                                      "the number, e.g. 2).")
    raise _Unusable("fail", f"`{name}` must be a whole number (int), but it is of type {_kind_words(value)}.")


def _integers_named(text: str) -> set[int]:
    """The integers a text names: its numerals, or else its number words ("2 (one per class)" is 2:
    a numeral says the count, the words around it explain it)."""
    numerals = [float(m) for m in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\d.])", text)]
    if numerals:
        # 1.5 units names no count: the caller then says a whole number is needed
        return {int(v) for v in numerals} if all(v == int(v) for v in numerals) else set()
    words = re.findall(r"[a-z]+", text.lower())
    return {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}


def _activation_item(expected: str, loss: str) -> Callable:
    def check(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
        if value.kind != "str":
            raise _Unusable("fail", f"`{name}` must be the activation's name as a string "
                                    f"(e.g. \"{expected}\"), but it is of type {_kind_words(value)}.")
        if _activation_name(value.value) == expected:
            return Finding(name, "pass", 1.0, f"{expected} output for {loss}.")
        why = ("BCE takes one probability in (0, 1), which a sigmoid gives" if expected == "sigmoid" else
               "cross-entropy takes a probability distribution over the two classes, which a softmax gives")
        return Finding(name, "fail", 0.0, f"`{name}` is {_shown(value, 100)}, but the output activation "
                                          f"for {loss} is {expected}: {why}.")
    return check


def _activation_name(text: str) -> str:
    """sigmoid / softmax when the text names exactly one of the two ('nn.Softmax(dim=1)', 'Soft-max',
    'logistic sigmoid', 'σ'), otherwise the text reduced to its letters."""
    letters = re.sub(r"[^a-zσ]", "", text.lower())
    named = {family for family, words in (("sigmoid", _SIGMOID_NAMES), ("softmax", _SOFTMAX_NAMES))
             if any(word in letters for word in words)}
    return named.pop() if len(named) == 1 else letters


# ----------------------------------------------------------------------------- Q4

@functools.lru_cache(maxsize=8)
def q4_targets(seed: int, samples: int) -> np.ndarray:
    """Y (samples + 4, 2): income uniform 0..10000, age uniform 0..100, then the corner rows."""
    rng = np.random.default_rng([seed, _STREAM_Q4])
    y = np.column_stack([rng.uniform(_INCOME_LO, _INCOME_HI, samples), rng.uniform(_AGE_LO, _AGE_HI, samples)])
    return _read_only(np.vstack([y, np.array(Q4_EXTREMES)]))


_Q4_NORMALIZED = probe_key("normalize_output", "Y")
_Q4_ROUND_TRIP = probe_key("denormalize_output", "normalize_output(Y)")


def _q4_probes(rubric: Rubric, names: tuple[str, ...]) -> tuple[Probe, ...]:
    if "normalize_output" not in names and "denormalize_output" not in names:
        return ()
    y = q4_targets(rubric.seed, rubric.checks.Q4.samples).tolist()
    return (Probe(_Q4_NORMALIZED, ("normalize_output",), args=(y,), elementwise_fallback=False),
            Probe(_Q4_ROUND_TRIP, ("normalize_output", "denormalize_output"), args=(y,),
                  elementwise_fallback=False))


def _needed_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if _bool_of(name, value):
        return Finding(name, "pass", 1.0, "Output normalization is needed.")
    return Finding(name, "fail", 0.0, "Output normalization is needed: income (0..10000) and age (0..100) "
                                      "differ 100-fold in scale, so the income error dominates the MSE loss "
                                      "and its gradients, and age is barely learned.")


def _q4_outputs(name: str, answers: Answers, key: str, what: str, y: np.ndarray) -> np.ndarray:
    value = answers.values[name]
    if value.kind != "callable":
        raise _Unusable("fail", f"`{name}` must be a function (def {name}(Y): ...), "
                                f"but it is of type {_kind_words(value)}.")
    flat = _probe_values(answers, name, key, what)
    shape = _probe_shape(answers, key)
    if shape != y.shape:
        raise _Unusable("fail", f"{what} returned shape {tuple(shape)} for Y of shape {y.shape}; "
                                f"expected ({y.shape[0]}, 2): one row per sample, columns [income, age].")
    return flat.reshape(y.shape)


def _normalize_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q4
    y = q4_targets(rubric.seed, params.samples)
    out = _q4_outputs(name, answers, _Q4_NORMALIZED, "normalize_output(Y)", y)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise _Unusable("fail", f"normalize_output(Y) gives {out[i].tolist()} for the row Y = {y[i].tolist()}; "
                                "every normalized value must be finite.",
                        {"row": y[i].tolist(), "given": [str(v) for v in out[i]]})
    spread = out.std(axis=0)
    if np.allclose(out, y, rtol=1e-9, atol=1e-9):
        problem = "normalize_output returns Y unchanged: income still spans 0..10000 while age spans 0..100."
    elif spread.min() <= 0:
        column = ("income", "age")[int(np.argmin(spread))]
        problem = f"normalize_output maps every {column} to the same value, so it cannot be recovered."
    elif spread.max() / spread.min() > params.max_scale_ratio:
        problem = (f"after normalize_output the income column has spread (std) {_fmt(spread[0])} and the age "
                   f"column {_fmt(spread[1])}: a ratio of {_fmt(spread.max() / spread.min())}, more than the "
                   f"{_fmt(params.max_scale_ratio)} allowed, so one output still dominates the loss.")
    else:
        return Finding(name, "pass", 1.0, f"The normalized columns have comparable spreads "
                                          f"({_fmt(spread[0])} and {_fmt(spread[1])}).")
    if _answered_false(answers, "output_normalization_needed"):
        problem += (" You answered output_normalization_needed = False, but without it the income error "
                    "(up to 10000) swamps the age error (up to 100) in the MSE loss.")
    return Finding(name, "fail", 0.0, problem, {"spread": spread.tolist()})


def _answered_false(answers: Answers, name: str) -> bool:
    value = answers.values.get(name)
    try:
        return value is not None and not _bool_of(name, value)
    except _Unusable:
        return False


def _denormalize_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    params = rubric.checks.Q4
    y = q4_targets(rubric.seed, params.samples)
    if value.kind == "callable" and answers.values.get("normalize_output", Value("none")).kind != "callable":
        raise _Unusable("fail", "denormalize_output is checked by undoing normalize_output, "
                                "which is missing or not a function.")
    if value.kind == "callable" and not _normalized_shape_ok(answers, y):
        raise _Unusable("fail", "denormalize_output is checked by undoing normalize_output, but "
                                f"normalize_output(Y) raised an error or did not return an array of shape "
                                f"({y.shape[0]}, 2) (see normalize_output).")
    what = "denormalize_output(normalize_output(Y))"
    back = _q4_outputs(name, answers, _Q4_ROUND_TRIP, what, y)
    ok = _round_trip_ok(back, y, params.rtol, params.atol).all(axis=1)
    if not ok.all():
        i = int(np.argmin(ok))
        return Finding(name, "fail", 0.0, f"{what} does not give Y back: the row Y = {y[i].tolist()} comes back "
                                          f"as [{', '.join(_fmt(v) for v in back[i])}].",
                       {"row": y[i].tolist(), "given": [_fmt(v) for v in back[i]]})
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


# ----------------------------------------------------------------------------- Q5

def _q5_probes(rubric: Rubric, names: tuple[str, ...]) -> tuple[Probe, ...]:
    params = rubric.checks.Q5
    z = [float(v) for v in params.z]
    probes = [Probe(probe_key(n, "z"), (n,), args=(z,)) for n in ("f_nonneg", "f_nonpos") if n in names]
    if "f_bounded" in names:
        probes += [Probe(probe_key("f_bounded", str(i)), ("f_bounded",), args=(z, float(a), float(b)))
                   for i, (a, b) in enumerate(params.bounds)]
    return tuple(probes)


def _q5_values(name: str, value: Value, answers: Answers, z: np.ndarray, key: str,
               bounds: tuple[float, float] | None = None) -> np.ndarray:
    what = f"z = {', '.join(_fmt(v) for v in z)}" if bounds is None else \
        f"the test z values with a={_fmt(bounds[0])}, b={_fmt(bounds[1])}"
    if value.kind == "callable":
        out = _probe_values(answers, name, key, what)
    elif value.kind == "str":
        symbols = ("z",) if bounds is None else ("z", "a", "b")
        expr = _expression_of(name, value, symbols)
        env = {"z": z} if bounds is None else {"z": z, "a": bounds[0], "b": bounds[1]}
        out = _evaluated(name, expr, env, z.size)
    else:
        raise _Unusable("fail", f"`{name}` must be a function of z (or an expression string in z"
                                f"{'' if bounds is None else ', a, b'}), but it is of type {_kind_words(value)}.")
    if out.size != z.size:
        raise _Unusable("fail", f"`{name}` returned {out.size} values for {z.size} inputs on {what}; "
                                "it must work element-wise on a NumPy array.")
    return out


def _half_line_item(sign: int) -> Callable:
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
        return (f"{name}({_fmt(z[i])}) = {_fmt(out[i])}: {why}", {"z": float(z[i]), "given": _fmt(out[i])})

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
                       f"{_fmt(out[top])} can never be predicted.")
    if s[low] > params.reach_low:
        word = "below" if sign > 0 else "above"
        return at(low, f"this is its {'smallest' if sign > 0 else 'largest'} value, so a value {word} "
                       f"{_fmt(out[low])} can never be predicted.")
    return None


def _bounded_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
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
        return (f"{name}(z={_fmt(z[i])}, a={_fmt(a)}, b={_fmt(b)}) = {_fmt(out[i])}: {why}",
                {"z": float(z[i]), "a": a, "b": b, "given": _fmt(out[i])})

    tol = Q5_RANGE_TOL * max(1.0, abs(a), abs(b))
    if not np.isfinite(out).all():
        return at(int(np.argmax(~np.isfinite(out))), "the output must be a finite number.")
    outside = (out < a - tol) | (out > b + tol)
    if outside.any():
        return at(int(np.argmax(outside)), f"it is outside [a, b] = [{_fmt(a)}, {_fmt(b)}].")
    if np.unique(out).size == 1:
        return at(0, "it returns this same value for every z, so the output cannot depend on the network.")
    if out.max() - out.min() < cover * (b - a):
        lo, hi = int(np.argmin(out)), int(np.argmax(out))
        return at(hi, f"its values over the tested z only span [{_fmt(out[lo])}, {_fmt(out[hi])}] "
                      f"(smallest at z={_fmt(z[lo])}), less than {cover:.0%} of [a, b] = [{_fmt(a)}, {_fmt(b)}].")
    return None


def _q5_4_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if not _bool_of(name, value):
        return Finding(name, "pass", 1.0, "No: the weights were fitted for an output without the activation, "
                                          "so adding it afterwards changes the predictions the loss was "
                                          "minimised for.")
    return Finding(name, "review", 0.5, "You answered True (yes). The expected answer is No, but a partial yes "
                                        "can be argued (e.g. a clip only moves wrong predictions closer); an "
                                        "instructor will read q5_4_explanation and decide. Provisional: half.")


# ----------------------------------------------------------------------------- free text

# Endings a keyword may take and still be the same word ("scale" -> "scales", "normaliz" -> "normalized");
# a keyword ending in e may drop it ("scale" -> "scaling", "dominate" -> "dominating").
_ENDINGS = "s|es|d|ed|ing|e|er|ers|ion|ions|ation|ations|al|ally|ly|able"
_AFTER_E = "ing|ion|ions|ation|ations|al|able"


@functools.lru_cache(maxsize=256)
def _keyword_pattern(keyword: str) -> re.Pattern:
    words = keyword.lower().split()
    phrase = r"[\s\-]+".join(re.escape(w) for w in words)
    ends = f"(?:{_ENDINGS})?"
    if words[-1][-1].isalpha() and words[-1].endswith("e"):
        stem = r"[\s\-]+".join(re.escape(w) for w in words[:-1] + [words[-1][:-1]])
        phrase = f"(?:{phrase}{ends}|{stem}(?:{_AFTER_E}))"
    elif words[-1][-1].isalpha():
        phrase = f"{phrase}{ends}"
    return re.compile(rf"(?<!\w){phrase}(?!\w)", re.IGNORECASE)


def keyword_in(keyword: str, text: str) -> bool:
    """Whether `text` mentions `keyword` as a whole word or phrase ("none" does not mention "one", nor
    "networks" "two"), in any case, with the usual English endings ("normaliz" matches "normalized")."""
    return bool(keyword.strip()) and _keyword_pattern(keyword.strip()).search(text) is not None


def _free_text_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if value.kind != "str":
        raise _Unusable("fail", f"`{name}` must be text (a string), but it is of type {_kind_words(value)}.")
    text = value.value.lower()
    if not text.strip():
        return Finding(name, "missing", 0.0, f"`{name}` is empty.")
    groups = rubric.keywords.get(name, ())
    if not groups:
        return Finding(name, "review", 0.0, "An instructor will read and score this explanation.")
    found = [g for g in groups if any(keyword_in(word, text) for word in g)]
    absent = [g for g in groups if g not in found]
    shown = lambda gs: "; ".join(" / ".join(g) for g in gs) or "none"  # noqa: E731
    return Finding(name, "review", len(found) / len(groups),
                   f"Provisional score from key ideas: found {len(found)} of {len(groups)} "
                   f"(found: {shown(found)}; not found: {shown(absent)}). "
                   "An instructor will read the explanation and may change the score.")


# ----------------------------------------------------------------------------- registry of items

_ITEM_CHECKS: dict[str, Callable[[str, Value, Answers, Rubric], Finding]] = {
    **{name: _q1_item for name in Q1_NAMES},
    "graph_edges": _graph_item,
    "dy_dz": _dy_dz_item,
    "net1_output_units": _units_item(1, "binary cross-entropy"),
    "net1_output_activation": _activation_item("sigmoid", "binary cross-entropy"),
    "net2_output_units": _units_item(2, "cross-entropy"),
    "net2_output_activation": _activation_item("softmax", "cross-entropy"),
    "output_normalization_needed": _needed_item,
    "normalize_output": _normalize_item,
    "denormalize_output": _denormalize_item,
    "f_nonneg": _half_line_item(+1),
    "f_nonpos": _half_line_item(-1),
    "f_bounded": _bounded_item,
    "q5_4_answer": _q5_4_item,
    "q3_explanation": _free_text_item,
    "q4_explanation": _free_text_item,
    "q5_4_explanation": _free_text_item,
}
