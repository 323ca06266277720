"""Q2: the computational graph (its edges) and dy/dz."""

from __future__ import annotations

import functools
import re

import numpy as np

from ...kernel import activations
from ...model import Answers, Finding, Value
from ...rubric import Rubric
from .common import STREAM_Q2, Verdict, evaluated, expression_of, kind_words, number_text, read_only, shown


Q2_CORE = ("x", "h", "z", "y")


Q2_EDGES = (("x", "h"), ("x", "z"), ("h", "y"))


def graph_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
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
        raise Verdict("fail", f"{usage}, but it is of type {kind_words(value)}.")
    if not edges:
        raise Verdict("fail", f"{usage}, but it holds no edges.")
    return edges


def _item_edges(usage: str, i: int, item) -> list[tuple[str, str]]:
    """One element of a list of edges: a (source, target) pair, or a string "x -> h" (a chain too)."""
    if isinstance(item, list) and len(item) == 2 and all(type(n) in (str, int, float) for n in item):
        return [(_node_name(item[0]), _node_name(item[1]))]
    if isinstance(item, str) and _ARROW.search(item):
        return _arrow_edges(usage, item)
    raise Verdict("fail", f"{usage}; element {i} is {_short(item)}.")


def _arrow_edges(usage: str, text: str) -> list[tuple[str, str]]:
    """ "x -> h", "x->h", "x → h", "x -> h -> y", and several of them separated by commas or lines."""
    edges = []
    for part in re.split(r"[,;\n]+", text):
        if not part.strip():
            continue
        nodes = _ARROW.split(part.strip())
        if len(nodes) < 2 or not all(n.strip() for n in nodes):
            raise Verdict("fail", f"{usage}; {_short(part.strip())} is not of the form \"source -> target\".")
        edges += [(_node_name(u), _node_name(v)) for u, v in zip(nodes, nodes[1:])]
    return edges


def _adjacency_edges(usage: str, adjacency: dict) -> list[tuple[str, str]]:
    edges = []
    for source, targets in adjacency.items():
        targets = [] if targets is None else targets if isinstance(targets, list) else [targets]
        if not all(type(t) in (str, int, float) for t in targets):
            raise Verdict("fail", f"{usage}; the targets of {source!r} are {_short(targets)}.")
        edges += [(_node_name(source), _node_name(t)) for t in targets]
    return edges


def _short(item) -> str:
    text = repr(item)
    return text if len(text) <= 200 else f"{text[:200]}... (cut at 200 characters)"


def _node_name(node) -> str:
    return node.strip().lower() if isinstance(node, str) else number_text(float(node))


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
    x = np.random.default_rng([seed, STREAM_Q2]).uniform(-2, 2, n)
    h = 2 * x + 1
    return {"x": read_only(x), "h": read_only(h), "z": read_only(x ** 2), "y": read_only(activations.sigmoid(h))}


def dy_dz_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if value.kind in ("int", "float"):
        given, quoted = np.array([float(value.value)]), repr(value.value)
        point = None
    elif value.kind == "str":
        expr = expression_of(name, value, Q2_CORE)
        point = q2_points(rubric.seed)
        given, quoted = evaluated(name, expr, point, point["x"].size), shown(value, 200)
    else:
        raise Verdict("fail", f"`{name}` must be an expression string or a number, "
                                f"but it is of type {kind_words(value)}.")
    nonzero = ~(np.isfinite(given) & (np.abs(given) <= 1e-9))
    if not nonzero.any():
        return Finding(name, "pass", 1.0, "dy/dz = 0: y does not depend on z.")
    i = int(np.argmax(nonzero))
    at = "" if point is None else (f" at x={number_text(point['x'][i])} (so h=2x+1={number_text(point['h'][i])}, "
                                   f"z=x²={number_text(point['z'][i])}, y=sigmoid(h)={number_text(point['y'][i])})")
    return Finding(name, "fail", 0.0,
                   f"`{name}` = {quoted} is not 0: it gives {number_text(given[i])}{at}. In the graph no path "
                   "leads from z to y (y = sigmoid(h) and h = 2x+1 do not involve z), so dy/dz = 0.",
                   {"given": float(given[i]), "expected": 0.0})
