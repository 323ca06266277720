"""Part 1 checkers on hand-built answers. Callables are probed exactly as the kernel would probe them."""

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from grader import kernel
from grader.extract import request_spec
from grader.checks import CHECKERS
from grader.checks.part1.q1 import torch_loss
from grader.checks.part1 import (Q1_LEAVES, Q1_NAMES, check_part1, part1_request, probe_key, q1_groups,
                                 q1_points, q1_reference, q4_targets)
from grader.extract import read_answers
from grader.model import Answers, NotebookRun, Value
from grader.rubric import load_rubric

ROOT = Path(__file__).parents[2]
RUBRIC = load_rubric(ROOT / "rubrics" / "hw3.yaml")
SCALE = np.array([10000.0, 100.0])
MU, SD = np.array([5000.0, 50.0]), np.array([2886.75, 28.8675])


def dL_dw4_callable(dL_dy_hat, df3, z3, h2):
    return dL_dy_hat * df3(z3) * h2


def dL_db3_scalar_only(dL_dy_hat, z3, df3):
    # float() fails on an array: the kernel falls back to one call per point
    return float(dL_dy_hat) * float(df3(z3))


def reference_namespace():
    """A correct notebook: strings, callables and an element-wise-only callable mixed."""
    ns = {name: q1_reference(name) for name in Q1_NAMES}
    ns |= {
        "dL_dw4": dL_dw4_callable,
        "dL_db3": dL_db3_scalar_only,
        "dL_dx": lambda dL_dy_hat, df3, z3, w3, w4, df1, df2, z1, z2, w1, w2:
            dL_dy_hat * df3(z3) * (w3 * df1(z1) * w1 + w4 * df2(z2) * w2),
        "graph_edges": [("x", "*2"), ("*2", "+1"), ("+1", "h"), ("x", "square"), ("square", "z"),
                        ("h", "sigmoid"), ("sigmoid", "y")],
        "dy_dz": 0,
        "net1_output_units": 1, "net1_output_activation": "sigmoid",
        "net2_output_units": 2, "net2_output_activation": "softmax",
        "q3_explanation": "Net-1 has one sigmoid unit; Net-2 has two units with a softmax.",
        "output_normalization_needed": np.bool_(True),
        "normalize_output": lambda Y: Y / SCALE,
        "denormalize_output": lambda Yn: Yn * SCALE,
        "q4_explanation": "Income has a much larger range and would dominate the MSE loss; "
                          "normalize both by dividing by their range.",
        "f_nonneg": lambda z: np.logaddexp(0.0, z),
        "f_nonpos": lambda z: -np.logaddexp(0.0, z),
        "f_bounded": lambda z, a, b: a + (b - a) / (1 + np.exp(-z)),
        "q5_4_answer": False,
        "q5_4_explanation": "No: the weights were trained without it, so adding it changes the output "
                            "the loss was minimised for.",
    }
    return ns


@pytest.fixture(scope="module")
def request_():
    return part1_request(RUBRIC)


@functools.lru_cache(maxsize=1)
def kernel_spec():
    """The request as the kernel receives it (what extract.kernel_code sends), built once."""
    return json.loads(json.dumps(request_spec(part1_request(RUBRIC))))


KERNEL = kernel.loaded()
"""The kernel-side modules, loaded as the setup cell loads them in a notebook's kernel."""


def kernel_answers(user_ns, request):
    """Answers as extract.py would read them after the kernel answered in a notebook with `user_ns`."""
    payload = json.loads(json.dumps(KERNEL.answers.extract(user_ns, kernel_spec())))
    run = NotebookRun(Path("H3P1.ipynb"), "H3P1", "ok", payload=payload)
    return read_answers(run, request)


def findings_with(request, **changes):
    ns = reference_namespace() | changes
    ns = {k: v for k, v in ns.items() if v is not DELETE}
    return {f.item: f for f in check_part1(kernel_answers(ns, request), RUBRIC)}


DELETE = object()


# ----------------------------------------------------------------------------- whole notebook

def test_reference_answers_get_full_marks(request_):
    findings = findings_with(request_)
    items = [i for q in ("Q1", "Q2", "Q3", "Q4", "Q5") for i in RUBRIC.questions[q].items]
    assert list(findings) == items
    for item, f in findings.items():
        assert f.fraction == 1.0, (item, f.message)
        assert f.status == ("review" if item.endswith("_explanation") else "pass"), (item, f.message)


def test_the_autograd_truth_is_computed_once_per_rubric(request_):
    answers = kernel_answers(reference_namespace(), request_)
    check_part1(answers, RUBRIC)
    before = q1_groups.cache_info()
    check_part1(answers, RUBRIC)
    after = q1_groups.cache_info()
    assert after.misses == before.misses and after.hits > before.hits


def test_the_request_needs_no_torch_and_its_points_are_autograds_forward_pass():
    # torch costs a run a second before its first kernel: only judging Q1 imports it.
    import subprocess
    import sys

    code = ("import sys; from grader.rubric import load_rubric; from grader.checks.part1 import part1_request; "
            f"part1_request(load_rubric({str(ROOT / 'rubrics' / 'hw3.yaml')!r})); print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    import torch

    for points in q1_points(RUBRIC.seed, RUBRIC.checks.Q1):
        leaves = {k: torch.tensor(points.inputs[k].copy(), requires_grad=True) for k in Q1_LEAVES}
        y_hat, loss = torch_loss(points.f, points.loss, leaves, points.target)
        (dl_dy_hat,) = torch.autograd.grad(loss.sum(), [y_hat])
        np.testing.assert_allclose(points.inputs["y_hat"], y_hat.detach().numpy(), rtol=1e-13)
        np.testing.assert_allclose(points.inputs["dL_dy_hat"], dl_dy_hat.numpy(), rtol=1e-12)


def test_request_is_deterministic_and_names_every_item(request_):
    again = part1_request(RUBRIC)
    assert again == request_
    assert set(request_.names) == {i for q in ("Q1", "Q2", "Q3", "Q4", "Q5") for i in RUBRIC.questions[q].items}
    keys = [p.key for p in request_.probes]
    assert len(keys) == len(set(keys))
    assert probe_key("dL_dw1", "0") in keys and probe_key("f_bounded", "3") in keys


def test_registry_has_part1():
    assert CHECKERS["H3P1"].request(RUBRIC, None, None) == part1_request(RUBRIC)
    assert CHECKERS["H3P1"].kernel_modules == ()


def test_missing_names_are_missing_with_the_reason():
    answers = Answers("H3P1", {}, {}, {name: f"`{name}` is not defined when the notebook has run"
                                       for name in part1_request(RUBRIC).names})
    findings = check_part1(answers, RUBRIC)
    assert {f.status for f in findings} == {"missing"}
    assert all(f.fraction == 0 and "is not defined" in f.message for f in findings)


def test_none_placeholder_counts_as_missing():
    answers = Answers("H3P1", {"dL_dw1": Value("none", None, "NoneType")})
    f = check_part1(answers, RUBRIC)[0]
    assert (f.item, f.status, f.fraction) == ("dL_dw1", "missing", 0.0)
    assert "None" in f.message


# ----------------------------------------------------------------------------- Q1

def q1_finding(request, name, answer):
    return findings_with(request, **{name: answer})[name]


EQUIVALENT = [
    ("dL_dw1", "x*w3*df1(w1*x + b1)*df3(w3*h1 + w4*h2 + b3)*dL_dy_hat"),
    ("dL_dw1", "(dL_dy_hat*df3(z3))*(w3*df1(z1))*x/1"),
    ("dL_dw2", "dL_dy_hat*df3(w3*f1(z1) + w4*f2(z2) + b3)*w4*df2(w2*x + b2)*x"),
    ("dL_dw3", "dL_dy_hat*df3(z3)*f1(z1)"),
    ("dL_dw3", "dL_dy_hat*df3(z3)*f1(w1*x + b1)"),
    ("dL_dw4", "h2*df3(z3)*dL_dy_hat"),
    ("dL_db1", "dL_dy_hat*df3(z3)*w3*df1(z1)*(x + 1 - x)"),
    ("dL_db2", lambda dL_dy_hat, df3, z3, w4, df2, z2: dL_dy_hat * df3(z3) * w4 * df2(z2)),
    ("dL_db3", "df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*dL_dy_hat"),
    ("dL_db3", lambda **kw: kw["dL_dy_hat"] * kw["df3"](kw["z3"])),
    ("dL_dx", "dL_dy_hat*df3(z3)*(w3*df1(z1)*w1 + w4*df2(z2)*w2)"),
    ("dL_dx", "dL_dy_hat*df3(z3)*w3*df1(z1)*w1 + dL_dy_hat*df3(z3)*w4*df2(z2)*w2"),
    ("dL_dx", "w1*w3*df1(z1)*df3(z3)*dL_dy_hat + df3(z3)*dL_dy_hat*w2*w4*df2(z2)"),
]


@pytest.mark.parametrize("name, answer", EQUIVALENT,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(EQUIVALENT)])
def test_equivalent_forms_pass(request_, name, answer):
    f = q1_finding(request_, name, answer)
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


WRONG = [
    ("dL_dw1", "dL_dy_hat*df3(z3)*w3*x", "is missing the factor df1(z1)"),
    ("dL_dw1", "dL_dy_hat*df3(z3)*w4*df1(z1)*x", "uses w4 where w3 belongs"),
    ("dL_dw1", "dL_dy_hat*df3(z3)*w3*df1(z1)", "is missing the factor x"),
    ("dL_dw2", "dL_dy_hat*df3(z3)*w4*df1(z1)*x", "uses df1(z1) where df2(z2) belongs"),
    ("dL_dw3", "dL_dy_hat*df3(z3)*h2", "uses h2 where h1 belongs"),
    ("dL_dw3", "dL_dy_hat*f3(z3)*h1", "uses f3 where its derivative df3 belongs"),
    ("dL_db1", "df3(z3)*w3*df1(z1)", "is missing the factor dL_dy_hat"),
    ("dL_db3", "-dL_dy_hat*df3(z3)", "has the wrong sign"),
    ("dL_dx", "dL_dy_hat*df3(z3)*w3*df1(z1)*w1", "is missing the path through h2"),
    ("dL_dx", "dL_dy_hat*df3(z3)*w4*df2(z2)*w2", "is missing the path through h1"),
    ("dL_dx", "dL_dy_hat*df3(z3)*(w3*df1(z1) + w4*df2(z2)*w2)", "is missing the factor w1 in the path through h1"),
    ("dL_dx", "dL_dy_hat*df3(z3)*(w4*df1(z1)*w1 + w3*df2(z2)*w2)", "swaps w3 and w4"),
    ("dL_dw1", lambda dL_dy_hat, df3, z3, w3, x: dL_dy_hat * df3(z3) * w3 * x, "is missing the factor df1(z1)"),
    ("dL_db3", "dL_dy_hat*sigmoid(z3)*(1 - sigmoid(z3))", "right only for some activations"),
]


@pytest.mark.parametrize("name, answer, diagnosis", WRONG,
                         ids=["missing-df1", "w3-w4-swapped", "missing-x", "df1-for-df2", "h2-for-h1",
                              "f3-for-df3", "missing-dL_dy_hat", "wrong-sign", "dx-missing-path-h2",
                              "dx-missing-path-h1", "dx-path-missing-w1", "dx-w3-w4-swapped",
                              "callable-missing-df1", "sigmoid-specific"])
def test_wrong_answers_show_a_counterexample_and_the_mistake(request_, name, answer, diagnosis):
    f = q1_finding(request_, name, answer)
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert diagnosis in f.message
    c = f.counterexample
    assert set(c["point"]) >= {"x", "w1", "w2", "w3", "w4", "b1", "b2", "b3", "dL_dy_hat"}
    assert f"the derivative is {c['expected']:.6g} but your answer gives {c['given']:.6g}" in f.message
    assert f"f1={c['f1']}, f2={c['f2']}, f3={c['f3']}" in f.message
    assert f"x={c['point']['x']:.6g}" in f.message
    assert not math.isclose(c["expected"], c["given"], rel_tol=1e-6)


def test_counterexample_expected_value_is_the_true_derivative(request_):
    f = q1_finding(request_, "dL_dw3", "dL_dy_hat*df3(z3)*h2")
    groups = q1_groups(RUBRIC.seed, RUBRIC.checks.Q1)
    p = f.counterexample["point"]
    group = next(g for g in groups if g.f == (f.counterexample["f1"], f.counterexample["f2"],
                                              f.counterexample["f3"]))
    i = int(np.argmin(np.abs(group.inputs["x"] - p["x"])))
    acts = group.functions()
    h1 = acts["f1"](p["w1"] * p["x"] + p["b1"])
    h2 = acts["f2"](p["w2"] * p["x"] + p["b2"])
    z3 = p["w3"] * h1 + p["w4"] * h2 + p["b3"]
    assert f.counterexample["expected"] == pytest.approx(p["dL_dy_hat"] * acts["df3"](z3) * h1, rel=1e-9)
    assert f.counterexample["expected"] == pytest.approx(group.truth["dL_dw3"][i], rel=1e-12)


@pytest.mark.parametrize("answer, status, words", [
    (0.5, "fail", "It is a number, but the derivative depends on the point"),
    (True, "fail", "must be an expression string"),
    ("dL_dy_hat*df3(z3)^2", "fail", "Counterexample"),
    ("dL_dy_hat*df3(z3)*y", "fail", "the name `y`"),
    (lambda x: 1 / 0, "fail", "ZeroDivisionError"),
    (lambda x: x * np.nan, "fail", "your answer gives nan"),
    (lambda x: np.zeros(3), "fail", "one value per point"),
], ids=["number", "bool", "caret", "unknown-symbol", "callable-raises", "callable-nan", "wrong-length"])
def test_unusable_q1_answers_fail_with_what_was_expected(request_, answer, status, words):
    f = q1_finding(request_, "dL_dw1", answer)
    assert (f.status, f.fraction) == (status, 0.0)
    assert words in f.message


def test_callable_without_probe_result_is_an_error_not_a_fail():
    answers = Answers("H3P1", {"dL_dw1": Value("callable", None, "function")})
    f = check_part1(answers, RUBRIC)[0]
    assert (f.status, f.fraction) == ("error", 0.0)
    assert "no result" in f.message


def test_q1_uses_enough_points_and_several_activations():
    groups = q1_groups(RUBRIC.seed, RUBRIC.checks.Q1)
    assert sum(g.truth["dL_dw1"].size for g in groups) >= RUBRIC.checks.Q1.points
    assert len({g.f for g in groups}) >= 3
    assert all(g.loss == ("bce" if g.f[2] == "sigmoid" else "mse") for g in groups)


# ----------------------------------------------------------------------------- Q2

@pytest.mark.parametrize("edges, fraction, words", [
    ([("x", "h"), ("x", "z"), ("h", "y")], 1.0, "exactly"),
    ([(" X ", "*2"), ("*2", "+1"), ("+1", "H"), ("x", "^2"), ("^2", "Z"), ("h", "sigmoid"), ("sigmoid", "y"),
      (2, "*2"), (1, "+1")], 1.0, "exactly"),
    ([("x", "h"), ("x", "z"), ("h", "y"), ("z", "y")], 2 / 3, "Wrong extra: z→y"),
    ([("x", "h"), ("h", "y")], 2 / 3, "Missing: x→z"),
    ([("x", "h"), ("h", "y"), ("z", "y")], 1 / 3, "Missing: x→z"),
    ([("x", "z"), ("z", "h"), ("h", "y")], 1 / 3, "Wrong extra: z→h"),
    ([("a", "b")], 0.0, "Node(s) x, h, z, y do not appear"),
], ids=["direct", "with-operation-nodes", "extra-z-y", "missing-x-z", "missing-and-extra", "chain",
        "no-core-nodes"])
def test_graph_edges_partial_credit(edges, fraction, words):
    answers = Answers("H3P1", {"graph_edges": Value("list", [list(e) for e in edges], "list")})
    f = next(f for f in check_part1(answers, RUBRIC) if f.item == "graph_edges")
    assert f.fraction == pytest.approx(fraction)
    assert f.status == ("pass" if fraction == 1 else "fail")
    assert words in f.message


@pytest.mark.parametrize("value, words", [
    (Value("list", [], "list"), "it holds no edges"),
    (Value("list", [["x", "h", "z"]], "list"), "element 0 is ['x', 'h', 'z']"),
    (Value("list", ["x h"], "list"), "element 0 is 'x h'"),
    (Value("list", ["x -> "], "list"), "'x ->' is not of the form \"source -> target\""),
    (Value("str", "x h z y", "str"), "it is of type str ('x h z y')"),
    (Value("dict", {"x": {"h": 1}}, "dict"), "the targets of 'x' are [{'h': 1}]"),
    (Value("dict", {}, "dict"), "it holds no edges"),
    (Value("other", None, "Graph"), "it is of type Graph"),
], ids=["empty", "triple", "string-without-arrow", "arrow-without-target", "bare-string", "nested-dict",
        "empty-dict", "unreadable-object"])
def test_graph_edges_of_the_wrong_form_fail_naming_the_forms_read(value, words):
    f = next(f for f in check_part1(Answers("H3P1", {"graph_edges": value}), RUBRIC) if f.item == "graph_edges")
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert "must be a list of (source, target) pairs" in f.message
    assert 'an adjacency dict {"x": ["h", "z"], "h": ["y"]}' in f.message and '"x -> h"' in f.message
    assert words in f.message


def right_graphs():
    import sympy as sp

    x, h, z, y = sp.symbols("x h z y")
    return {
        "set-of-pairs": {("x", "h"), ("x", "z"), ("h", "y")},
        "set-of-tuples-with-ops": {("x", "*2"), ("*2", "+1"), ("+1", "h"), ("x", "**2"), ("**2", "z"),
                                   ("h", "sigmoid"), ("sigmoid", "y")},
        "tuple-of-tuples": (("x", "h"), ("x", "z"), ("h", "y")),
        "adjacency-dict": {"x": ["h", "z"], "h": ["y"]},
        "adjacency-dict-single-targets": {"x": ("h", "z"), "h": "y", "z": [], "y": None},
        "arrow-strings": ["x -> h", "x->z", "h → y"],
        "arrow-chains": ["x -> h -> y", "X=>Z"],
        "one-string": "x -> h, x -> z\nh --> y",
        "upper-case": [("X", "H"), ("X", "Z"), ("H", "Y")],
        "sympy-symbols": [(x, h), (x, z), (h, y)],
    }


@pytest.mark.parametrize("name", list(right_graphs()), ids=list(right_graphs()))
def test_the_right_graph_in_any_container_gets_full_marks(request_, name):
    f = findings_with(request_, graph_edges=right_graphs()[name])["graph_edges"]
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


def test_a_string_with_one_edge_is_read_as_that_edge():
    f = next(f for f in check_part1(Answers("H3P1", {"graph_edges": Value("str", "x->h", "str")}), RUBRIC)
             if f.item == "graph_edges")
    assert (f.status, f.fraction) == ("fail", pytest.approx(1 / 3))
    assert "Missing: h→y, x→z." in f.message


def test_dy_dz_counterexample_respects_the_graph():
    from grader.checks.part1 import q2_points

    f = next(f for f in check_part1(Answers("H3P1", {"dy_dz": Value("str", "y*(1 - y)", "str")}), RUBRIC)
             if f.item == "dy_dz")
    p = q2_points(RUBRIC.seed)
    x = p["x"][0]
    y = 1 / (1 + math.exp(-(2 * x + 1)))
    assert f.status == "fail"
    assert (f"gives {y * (1 - y):.6g} at x={x:.6g} (so h=2x+1={2 * x + 1:.6g}, z=x²={x * x:.6g}, "
            f"y=sigmoid(h)={y:.6g})") in f.message
    assert f.counterexample == {"given": pytest.approx(y * (1 - y)), "expected": 0.0}


@pytest.mark.parametrize("text, type_name", [
    ("y*(1 - y) - sigmoid(h)*(1 - sigmoid(h))", "str"), ("z - x**2", "str"), ("h - 2*x - 1", "str"),
    ("0", "Zero"),
], ids=["zero-on-the-graph", "z-is-x-squared", "h-is-2x-plus-1", "sympy-Zero"])
def test_dy_dz_that_is_zero_where_the_equations_hold_passes(text, type_name):
    f = next(f for f in check_part1(Answers("H3P1", {"dy_dz": Value("str", text, type_name)}), RUBRIC)
             if f.item == "dy_dz")
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


@pytest.mark.parametrize("value, status", [
    (Value("int", 0, "int"), "pass"), (Value("float", 0.0, "float"), "pass"), (Value("str", "0", "str"), "pass"),
    (Value("str", "0*x + (z - z)", "str"), "pass"), (Value("str", "2*x", "str"), "fail"),
    (Value("float", 1.0, "float"), "fail"), (Value("str", "dy/dz", "str"), "fail"),
    (Value("callable", None, "function"), "fail"),
], ids=["int-0", "float-0", "str-0", "str-zero-expression", "str-2x", "number-1", "unknown-names", "callable"])
def test_dy_dz_must_be_zero(value, status):
    f = next(f for f in check_part1(Answers("H3P1", {"dy_dz": value}), RUBRIC) if f.item == "dy_dz")
    assert f.status == status, f.message
    if status == "fail" and value.kind == "str" and value.value == "2*x":
        assert "is not 0" in f.message and " at x=" in f.message


# ----------------------------------------------------------------------------- Q3

def q3(name, value):
    return next(f for f in check_part1(Answers("H3P1", {name: value}), RUBRIC) if f.item == name)


@pytest.mark.parametrize("name, value, status", [
    ("net1_output_units", Value("int", 1, "int"), "pass"),
    ("net1_output_units", Value("float", 1.0, "float"), "pass"),
    ("net1_output_units", Value("str", " 1 ", "str"), "pass"),
    ("net1_output_units", Value("str", "one", "str"), "pass"),
    ("net1_output_units", Value("int", 2, "int"), "fail"),
    ("net1_output_units", Value("bool", True, "bool"), "fail"),
    ("net1_output_units", Value("float", 1.5, "float"), "fail"),
    ("net2_output_units", Value("int", 2, "int"), "pass"),
    ("net2_output_units", Value("str", "2.0", "str"), "pass"),
    ("net2_output_units", Value("int", 1, "int"), "fail"),
    ("net2_output_units", Value("str", "2 units", "str"), "pass"),
    ("net2_output_units", Value("str", "two", "str"), "pass"),
    ("net2_output_units", Value("str", "many", "str"), "fail"),
], ids=["1", "1.0", "str-1", "one", "net1-2", "bool", "1.5", "net2-2", "str-2.0", "net2-1", "2-units", "two",
        "many"])
def test_output_units(name, value, status):
    f = q3(name, value)
    assert f.status == status, f.message


@pytest.mark.parametrize("name, text, status", [
    ("net1_output_activation", "sigmoid", "pass"),
    ("net1_output_activation", "Logistic", "pass"),
    ("net1_output_activation", "logistic sigmoid", "pass"),
    ("net1_output_activation", "σ", "pass"),
    ("net1_output_activation", "nn.Sigmoid()", "pass"),
    ("net1_output_activation", "Sigmoid function", "pass"),
    ("net1_output_activation", "softmax", "fail"),
    ("net2_output_activation", "Softmax", "pass"),
    ("net2_output_activation", "soft-max", "pass"),
    ("net2_output_activation", "Soft Max", "pass"),
    ("net2_output_activation", "torch.nn.Softmax(dim=1)", "pass"),
    ("net2_output_activation", "sigmoid", "fail"),
    ("net2_output_activation", "relu", "fail"),
    ("net2_output_activation", "Softmax activation over the 2 units", "pass"),
    ("net2_output_activation", "sigmoid or softmax", "fail"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_output_activation_synonyms(name, text, status):
    f = q3(name, Value("str", text, "str"))
    assert f.status == status, f.message
    if status == "fail":
        assert repr(text) in f.message


def test_output_activation_not_a_string_fails():
    f = q3("net1_output_activation", Value("int", 1, "int"))
    assert f.status == "fail" and "as a string" in f.message


# ----------------------------------------------------------------------------- Q4

@pytest.mark.parametrize("normalize, denormalize", [
    (lambda Y: Y / SCALE, lambda Yn: Yn * SCALE),
    (lambda Y: (Y - 0) / (SCALE - 0), lambda Yn: Yn * SCALE + 0),
    (lambda Y: (Y - MU) / SD, lambda Yn: Yn * SD + MU),
    (lambda Y: Y / np.array([100.0, 1.0]), lambda Yn: Yn * np.array([100.0, 1.0])),
], ids=["divide-by-range", "min-max", "standardize", "income-per-100"])
def test_normalizations_that_balance_the_columns_pass(request_, normalize, denormalize):
    f = findings_with(request_, normalize_output=normalize, denormalize_output=denormalize)
    assert f["normalize_output"].status == "pass", f["normalize_output"].message
    assert f["denormalize_output"].status == "pass", f["denormalize_output"].message


def test_identity_fails_both_and_says_why(request_):
    f = findings_with(request_, normalize_output=lambda Y: Y, denormalize_output=lambda Yn: Yn,
                      output_normalization_needed=False)
    assert f["normalize_output"].status == "fail"
    assert "income still spans 0..10000 while age spans 0..100" in f["normalize_output"].message
    assert "You answered output_normalization_needed = False" in f["normalize_output"].message
    assert f["denormalize_output"].status == "fail"
    assert "no normalization to undo" in f["denormalize_output"].message
    assert f["output_normalization_needed"].status == "fail"


@pytest.mark.parametrize("changes, item, words", [
    ({"normalize_output": lambda Y: Y / np.array([10000.0, 1.0])}, "normalize_output", "ratio of"),
    ({"normalize_output": lambda Y: Y.ravel()}, "normalize_output", "expected (504, 2)"),
    ({"normalize_output": lambda Y: Y / 0.0}, "normalize_output", "must be finite"),
    ({"normalize_output": lambda Y: Y * np.array([0.0, 0.01])}, "normalize_output", "same value"),
    ({"normalize_output": "Y / 10000"}, "normalize_output", "must be a function"),
    ({"denormalize_output": lambda Yn: Yn * 10000}, "denormalize_output", "does not give Y back"),
    ({"denormalize_output": lambda Yn: 1 / 0}, "denormalize_output", "ZeroDivisionError"),
    ({"normalize_output": DELETE}, "denormalize_output", "missing or not a function"),
    ({"normalize_output": lambda Y: Y.ravel()}, "denormalize_output", "(see normalize_output)"),
    ({"normalize_output": lambda Y: Y.foo}, "denormalize_output", "(see normalize_output)"),
    ({"normalize_output": lambda Y: Y.foo}, "normalize_output", "AttributeError"),
], ids=["income-only", "flattened", "infinite", "collapsed-column", "string", "wrong-inverse",
        "inverse-raises", "no-normalize", "flattened-blocks-inverse", "raising-blocks-inverse", "raises"])
def test_wrong_normalizations_fail_with_the_reason(request_, changes, item, words):
    f = findings_with(request_, **changes)[item]
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert words in f.message


def test_round_trip_counterexample_names_a_row(request_):
    f = findings_with(request_, denormalize_output=lambda Yn: Yn * 10000)["denormalize_output"]
    row = f.counterexample["row"]
    assert list(row) in q4_targets(RUBRIC.seed, RUBRIC.checks.Q4.samples).tolist()
    assert f"the row Y = {row}" in f.message


@pytest.mark.parametrize("value, status", [
    (True, "pass"), (np.bool_(True), "pass"), ("yes", "pass"), (False, "fail"), (1, "fail"),
], ids=["True", "np.bool_", "str-yes", "False", "int"])
def test_output_normalization_needed(request_, value, status):
    f = findings_with(request_, output_normalization_needed=value)["output_normalization_needed"]
    assert f.status == status, f.message


def test_callable_where_a_bool_belongs_fails(request_):
    f = findings_with(request_, output_normalization_needed=lambda: True)["output_normalization_needed"]
    assert f.status == "fail" and "must be True or False" in f.message


# ----------------------------------------------------------------------------- Q5

@pytest.mark.parametrize("name, answer", [
    ("f_nonneg", lambda z: np.exp(z)),
    ("f_nonneg", lambda z: np.maximum(z, 0)),
    ("f_nonneg", lambda z: z ** 2),
    ("f_nonneg", "exp(z)"),
    ("f_nonneg", "log(1 + exp(z))"),
    ("f_nonneg", lambda z: math.log1p(math.exp(min(z, 700))) if z < 700 else z),
    ("f_nonpos", lambda z: -np.exp(z)),
    ("f_nonpos", lambda z: np.minimum(z, 0)),
    ("f_nonpos", "-relu(z)"),
    ("f_bounded", lambda z, a, b: np.clip(z, a, b)),
    ("f_bounded", lambda z, a, b: a + (b - a) * (np.tanh(z) + 1) / 2),
    ("f_bounded", "a + (b - a)*sigmoid(z)"),
    ("f_bounded", "(a + b)/2 + (b - a)/2*tanh(z)"),
], ids=["exp", "relu", "square", "str-exp", "str-softplus", "scalar-softplus", "neg-exp", "neg-relu",
        "str-neg-relu", "clip", "tanh", "str-sigmoid", "str-tanh"])
def test_good_regression_activations_pass(request_, name, answer):
    f = findings_with(request_, **{name: answer})[name]
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


@pytest.mark.parametrize("name, answer, words", [
    ("f_nonneg", lambda z: 1 / (1 + np.exp(-z)), "f_nonneg(1e+06) = 1: this is its largest value, "
                                                 "so a price above 1 can never be predicted"),
    ("f_nonneg", "sigmoid(z)", "a price above 1 can never be predicted"),
    ("f_nonneg", lambda z: z, "f_nonneg(-1e+06) = -1e+06: the output must be ≥ 0"),
    ("f_nonneg", lambda z: np.exp(z) + 5, "so a value below 5 can never be predicted"),
    ("f_nonneg", lambda z: 0 * z, "same value for every z"),
    ("f_nonneg", lambda z: np.exp(z) - np.exp(z), "f_nonneg(1000) = nan"),
    ("f_nonneg", lambda z: np.log(z), "f_nonneg(-1e+06) = nan"),
    ("f_nonneg", 3.0, "must be a function of z"),
    ("f_nonpos", lambda z: -1 / (1 + np.exp(-z)), "f_nonpos(1e+06) = -1"),
    ("f_nonpos", lambda z: np.exp(z), "the output must be ≤ 0"),
    ("f_bounded", lambda z, a, b: b / (1 + np.exp(-z)), "a=-3, b=5"),
    ("f_bounded", lambda z, a, b: z, "is outside [a, b] = [0, 1]"),
    ("f_bounded", lambda z, a, b: (a + b) / 2 + 0 * z, "same value"),
    ("f_bounded", "a + (b - a)*exp(z)/(1 + exp(z))", "must be a finite number"),
    ("f_bounded", lambda z, a, b: a + (b - a) / (1 + np.exp(-z / 1e7)), "less than 98% of [a, b]"),
], ids=["sigmoid", "str-sigmoid", "identity", "shifted-exp", "zero", "inf-minus-inf", "log", "number",
        "neg-sigmoid", "exp-for-nonpos", "ignores-a", "identity-bounded", "constant-bounded",
        "overflowing-string", "too-flat"])
def test_bad_regression_activations_show_the_counterexample(request_, name, answer, words):
    f = findings_with(request_, **{name: answer})[name]
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert words in f.message
    if f.counterexample:
        assert f"{f.counterexample['z']:.6g}" in f.message


@pytest.mark.parametrize("value, status, fraction", [
    (False, "pass", 1.0), ("No", "pass", 1.0), (True, "review", 0.5), (3, "fail", 0.0),
], ids=["False", "str-No", "True", "int"])
def test_q5_4_answer(request_, value, status, fraction):
    f = findings_with(request_, q5_4_answer=value)["q5_4_answer"]
    assert (f.status, f.fraction) == (status, fraction)
    if status == "review":
        assert "instructor" in f.message


# ----------------------------------------------------------------------------- free text

@pytest.mark.parametrize("text, status, fraction, words", [
    ("One sigmoid unit vs two with softmax.", "review", 1.0, "found 4 of 4"),
    ("The sigmoid gives a probability.", "review", 0.25, "not found: softmax"),
    ("   ", "missing", 0.0, "is empty"),
], ids=["all-ideas", "one-idea", "blank"])
def test_free_text_gets_provisional_points_and_review(text, status, fraction, words):
    f = q3("q3_explanation", Value("str", text, "str"))
    assert (f.status, f.fraction) == (status, pytest.approx(fraction))
    assert words in f.message
    if status == "review":
        assert "instructor" in f.message


def test_free_text_that_is_not_text_fails():
    f = q3("q4_explanation", Value("list", ["a"], "list"))
    assert f.status == "fail" and "must be text" in f.message


# ----------------------------------------------------------------------------- kernel side: _plain, _probe

def plain(value):
    return json.loads(json.dumps(KERNEL.answers._plain(value)))


def sympy_objects():
    import sympy as sp

    x, w1, b1 = sp.symbols("x w1 b1")
    f1 = sp.Function("f1")
    return {
        "Mul": (sp.diff(f1(w1 * x + b1), w1), "x*Subs(Derivative(f1(_xi_1), _xi_1), _xi_1, b1 + w1*x)"),
        "Add": (x + 2 * b1, "2*b1 + x"),
        "Zero": (sp.diff(x ** 2, w1), "0"),
        "Symbol": (x, "x"),
        "Integer": (sp.Integer(2), "2"),
        "Derivative": (sp.Derivative(f1(x), x), "Derivative(f1(x), x)"),
    }


@pytest.mark.parametrize("tname", list(sympy_objects()), ids=list(sympy_objects()))
def test_a_sympy_object_travels_as_its_string(tname):
    value, text = sympy_objects()[tname]
    assert plain(value) == {"kind": "str", "value": text, "type": tname}


@pytest.mark.parametrize("value, expected", [
    ({("h", "y"), ("x", "z"), ("x", "h")}, {"kind": "list", "type": "set",
                                            "value": [["h", "y"], ["x", "h"], ["x", "z"]]}),
    (frozenset({"x -> h", "h -> y"}), {"kind": "list", "type": "frozenset", "value": ["h -> y", "x -> h"]}),
    ((("x", "h"), ("h", "y")), {"kind": "list", "type": "tuple", "value": [["x", "h"], ["h", "y"]]}),
    ({"x": ["h", "z"], "h": ("y",), "y": set()}, {"kind": "dict", "type": "dict",
                                                  "value": {"x": ["h", "z"], "h": ["y"], "y": []}}),
    ({"x": {"h": 1}}, {"kind": "dict", "type": "dict", "value": {"x": {"h": 1}}}),
    ({1: "h"}, {"kind": "other", "type": "dict", "why": "a key that is not a string"}),
    ({"x": object()}, {"kind": "other", "type": "dict", "why": "holds a object"}),
    ({str(i): i for i in range(10_001)}, {"kind": "other", "type": "dict", "why": "more than 10000 elements"}),
], ids=["set-of-pairs-sorted", "frozenset-of-strings", "tuple-of-tuples", "adjacency-dict", "nested-dict",
        "int-key", "unreadable-value", "too-large"])
def test_sets_and_dicts_become_plain_data(value, expected):
    assert plain(value) == expected


def test_extract_reads_a_dict_as_nbformat_delivers_it():
    import nbformat

    from grader.extract import _value

    raw = nbformat.from_dict({"kind": "dict", "value": {"X": ["H", "Z"], "H": {"Y": 1}}, "type": "dict"})
    assert _value(raw) == Value("dict", {"X": ["H", "Z"], "H": {"Y": 1}}, "dict")


def test_a_sympy_lambda_stays_a_callable():
    import sympy as sp

    z = sp.Symbol("z")
    assert plain(sp.Lambda(z, z ** 2)) == {"kind": "callable", "type": "Lambda"}


def test_sympy_symbols_as_graph_nodes_and_dict_keys():
    import sympy as sp

    x, h = sp.symbols("x h")
    assert plain({x: [h]}) == {"kind": "dict", "type": "dict", "value": {"x": ["h"]}}
    assert plain([(x, h)]) == {"kind": "list", "type": "list", "value": [["x", "h"]]}


@pytest.mark.parametrize("raw, expected", [
    ({"kind": "dict", "value": {"x": ["h", "z"], "h": "y"}, "type": "dict"},
     Value("dict", {"x": ["h", "z"], "h": "y"}, "dict")),
    ({"kind": "dict", "value": {"x": [None]}, "type": "dict"}, "the dict holds keys that are not strings"),
    ({"kind": "dict", "value": {"x": "h", "y": None}, "type": "dict"},
     Value("dict", {"x": "h", "y": None}, "dict")),
    ({"kind": "dict", "value": ["x"], "type": "dict"}, "the dict holds keys that are not strings"),
    ({"kind": "dict", "value": {"x" * 201: 1}, "type": "dict"}, "the dict holds keys that are not strings"),
], ids=["adjacency", "null-in-a-list", "null-value", "not-an-object", "long-key"])
def test_extract_reads_dicts_with_limits(raw, expected):
    from grader.extract import _value

    got = _value(raw)
    assert got == expected if isinstance(expected, Value) else got.startswith(expected)


Z_PROBE = [-1.0e6, -1.0, 0.0, 1.0e3, 1.0e6]


def torch_activations():
    import torch

    return {
        "nn.Softplus()": (torch.nn.Softplus(), [0.0, math.log1p(math.exp(-1)), math.log(2), 1e3, 1e6]),
        "torch.relu": (torch.relu, [0.0, 0.0, 0.0, 1e3, 1e6]),
        "torch.sigmoid": (torch.sigmoid, [0.0, 1 / (1 + math.e), 0.5, 1.0, 1.0]),
        "F.softplus": (torch.nn.functional.softplus, [0.0, math.log1p(math.exp(-1)), math.log(2), 1e3, 1e6]),
    }


@pytest.mark.parametrize("name", list(torch_activations()), ids=list(torch_activations()))
def test_probe_retries_pytorch_activations_with_a_float64_tensor(name):
    fn, expected = torch_activations()[name]
    out = KERNEL.answers._probe({"f": fn}, {"chain": ["f"], "args": [Z_PROBE]}, {})
    assert out["ok"], out
    np.testing.assert_allclose(np.array(out["value"]["flat"], dtype=float), expected, rtol=1e-12)


def test_a_tensor_that_requires_grad_is_detached():
    import torch

    out = KERNEL.answers._as_array(torch.tensor([1.0, 2.0], requires_grad=True) * 2)
    assert out.dtype == np.float64 and out.tolist() == [2.0, 4.0]


def math_exp_neg(z):
    from math import exp

    return -exp(z)


@pytest.mark.parametrize("fn, expected", [
    (lambda z: math.exp(z), [0.0, math.exp(-1), 1.0, "inf", "inf"]),
    (lambda z: math.log1p(math.exp(z)), [0.0, math.log1p(math.exp(-1)), math.log(2), "inf", "inf"]),
    (math_exp_neg, [-0.0, -math.exp(-1), -1.0, "-inf", "-inf"]),
    (lambda z: 1 / (1 + math.exp(-z)), [0.0, 1 / (1 + math.e), 0.5, 1.0, 1.0]),
    (lambda z: math.e ** z, [0.0, math.exp(-1), 1.0, "inf", "inf"]),
    (lambda z: -(math.e ** z), [-0.0, -math.exp(-1), -1.0, "-inf", "-inf"]),
    (lambda z: float(10 ** int(min(abs(z), 400))), ["inf", 10.0, 1.0, "inf", "inf"]),
], ids=["math.exp", "math-softplus", "from-math-import-exp-negated", "math-sigmoid", "float-power",
        "negated-float-power", "int-too-large-for-float"])
def test_scalar_math_overflows_to_inf_like_numpy(fn, expected):
    before = math.exp
    out = KERNEL.answers._probe({"f": fn}, {"chain": ["f"], "args": [Z_PROBE]}, {})
    assert out == {"ok": True, "value": {"shape": [5], "flat": expected}}
    assert math.exp is before  # the kernel's math module is given back as it was


@pytest.mark.parametrize("name, answer", [
    ("f_nonneg", lambda z: math.exp(z)),
    ("f_nonneg", lambda z: math.log1p(math.exp(z))),
    ("f_nonpos", lambda z: -math.exp(z)),
    ("f_bounded", lambda z, a, b: a + (b - a) / (1 + math.exp(-z))),
], ids=["math.exp", "math-softplus", "neg-math.exp", "math-sigmoid-bounded"])
def test_scalar_math_activations_get_their_points(request_, name, answer):
    f = findings_with(request_, **{name: answer})[name]
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


def test_pytorch_activations_get_their_points(request_):
    import torch

    f = findings_with(request_, f_nonneg=torch.nn.Softplus(), f_nonpos=lambda z: -torch.relu(z),
                      f_bounded=lambda z, a, b: a + (b - a) * torch.sigmoid(z))
    for name in ("f_nonneg", "f_nonpos", "f_bounded"):
        assert (f[name].status, f[name].fraction) == ("pass", 1.0), f[name].message


# ----------------------------------------------------------------------------- Q1 derived with SymPy

@functools.lru_cache(maxsize=1)
def sympy_derived():
    """Q1 answers as a student gets them from sympy.diff, with f1, f2, f3 (and the loss L) as
    sympy.Function: (as the objects, by name)."""
    import sympy as sp

    x, w1, w2, w3, w4, b1, b2, b3, dL_dy_hat = sp.symbols("x w1 w2 w3 w4 b1 b2 b3 dL_dy_hat")
    f1, f2, f3, L = (sp.Function(n) for n in ("f1", "f2", "f3", "L"))
    y_hat = f3(w3 * f1(w1 * x + b1) + w4 * f2(w2 * x + b2) + b3)
    leaves = dict(x=x, w1=w1, w2=w2, w3=w3, w4=w4, b1=b1, b2=b2, b3=b3)
    chain = {f"dL_d{k}": dL_dy_hat * sp.diff(y_hat, v) for k, v in leaves.items()}
    loss = {f"dL_d{k}": sp.diff(L(y_hat), v) for k, v in leaves.items()}
    return chain, loss


@pytest.mark.parametrize("form", ["chain", "loss-function"])
def test_derivatives_from_sympy_diff_pass_as_objects_and_as_strings(request_, form):
    answers = sympy_derived()[0 if form == "chain" else 1]
    assert "Subs(Derivative(f1(_xi_1), _xi_1), _xi_1, b1 + w1*x)" in str(answers["dL_dw1"])
    for given in (answers, {k: str(v) for k, v in answers.items()}):
        f = findings_with(request_, **given)
        for name in Q1_NAMES:
            assert (f[name].status, f[name].fraction) == ("pass", 1.0), (name, f[name].message)


@pytest.mark.parametrize("name, text", [
    ("dL_dw3", "dL_dy_hat*Derivative(f3(z3), z3)*h1"),
    ("dL_db1", "dL_dy_hat*Subs(Derivative(f3(_xi_1), _xi_1), _xi_1, z3)*w3*Derivative(f1(z1), z1)"),
    ("dL_db3", "Derivative(L(y_hat), y_hat)*df3(z3)"),
    ("dL_dw1", "dL_dy_hat*df3(z3)*w3*x*Piecewise((df1(z1), z1 > 0), (df1(z1), True)) "
               "+ 0*Max(z1, 0) + Heaviside(z1) - Heaviside(z1)"),
], ids=["Derivative", "Subs-and-Derivative", "loss-derivative-at-y_hat", "Heaviside-Piecewise-Max"])
def test_sympy_syntax_in_q1_strings_passes(request_, name, text):
    f = q1_finding(request_, name, text)
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


def test_loss_derivative_away_from_y_hat_fails_with_a_counterexample(request_):
    f = q1_finding(request_, "dL_db3", "Subs(Derivative(L(_xi_1), _xi_1), _xi_1, h1)*df3(z3)")
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert "your answer gives nan" in f.message


def test_an_unreadable_sympy_answer_names_its_type(request_):
    import sympy as sp

    f = q1_finding(request_, "dL_dw1", sp.Symbol("y") * sp.Symbol("x"))
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert "`dL_dw1` = 'x*y' (a Mul object, read as the text it prints as) could not be read" in f.message
    assert "the name `y`" in f.message


def test_a_long_answer_is_cut_in_the_message_and_says_so(request_):
    text = "x + " * 100 + "y"
    f = q1_finding(request_, "dL_dw1", text)
    assert f"(the first 300 of {len(text)} characters; the rest is in your notebook)" in f.message


# ----------------------------------------------------------------------------- Q3 as students write it

@pytest.mark.parametrize("name, value, status", [
    ("net1_output_units", Value("str", "1", "str"), "pass"),
    ("net1_output_units", Value("str", "a single unit", "str"), "pass"),
    ("net1_output_units", Value("str", "none", "str"), "fail"),
    ("net1_output_units", Value("str", "Dense(1)", "str"), "pass"),
    ("net2_output_units", Value("str", "2 (one per class)", "str"), "pass"),
    ("net2_output_units", Value("float", 2.0, "float"), "pass"),
    ("net2_output_units", Value("str", "two units", "str"), "pass"),
    ("net2_output_units", Value("str", "2units", "str"), "pass"),
    ("net2_output_units", Value("str", "Two", "str"), "pass"),
    ("net2_output_units", Value("str", "2", "Integer"), "pass"),
    ("net2_output_units", Value("str", "1.5 units", "str"), "fail"),
    ("net2_output_units", Value("str", "two, or one with a sigmoid", "str"), "review"),
    ("net2_output_units", Value("str", "nn.Linear(64, 2)", "str"), "review"),
    ("net2_output_units", Value("str", "2 and 2", "str"), "pass"),
], ids=["str-1", "a-single-unit", "none-is-not-one", "Dense(1)", "2-one-per-class", "float-2.0", "two-units",
        "2units", "Two", "sympy-Integer", "not-whole", "two-words", "several-numerals", "same-number-twice"])
def test_output_units_read_as_a_ta_would(name, value, status):
    f = q3(name, value)
    assert f.status == status, f.message
    assert f.fraction == (1.0 if status == "pass" else 0.0)


def test_several_numbers_say_which_were_seen():
    f = q3("net2_output_units", Value("str", "nn.Linear(64, 2)", "str"))
    assert "names several numbers (2, 64)" in f.message and "an instructor will read it" in f.message


@pytest.mark.parametrize("name, text", [
    ("net1_output_activation", "nn.Sigmoid()"),
    ("net1_output_activation", "Sigmoid function"),
    ("net1_output_activation", "tf.keras.activations.sigmoid"),
    ("net1_output_activation", "torch.sigmoid"),
    ("net2_output_activation", "torch.softmax"),
    ("net2_output_activation", "nn.Softmax(dim=1)"),
    ("net2_output_activation", "F.softmax"),
    ("net2_output_activation", "keras.layers.Softmax()"),
], ids=lambda v: v if "." in v or " " in v else None)
def test_output_activation_named_by_its_library_spelling(name, text):
    f = q3(name, Value("str", text, "str"))
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


# ----------------------------------------------------------------------------- Q4 in float32

@pytest.mark.parametrize("normalize, denormalize", [
    (lambda Y: (Y / SCALE).astype(np.float32), lambda Yn: Yn.astype(np.float32) * SCALE.astype(np.float32)),
    (lambda Y: ((Y - MU) / SD).astype(np.float32),
     lambda Yn: Yn.astype(np.float32) * SD.astype(np.float32) + MU.astype(np.float32)),
    (lambda Y: np.float32(Y) / np.float32([10000, 100]), lambda Yn: np.float32(Yn) * np.float32([10000, 100])),
], ids=["divide-float32", "standardize-float32", "float32-inputs"])
def test_a_float32_round_trip_passes(request_, normalize, denormalize):
    f = findings_with(request_, normalize_output=normalize, denormalize_output=denormalize)
    assert (f["denormalize_output"].status, f["denormalize_output"].fraction) == ("pass", 1.0), \
        f["denormalize_output"].message


def test_round_trip_tolerance_is_relative_to_each_columns_range():
    from grader.checks.part1.q4 import Q4_FLOAT32_RTOL, _round_trip_ok

    y = np.array([[0.0, 0.0], [10000.0, 100.0], [50.0, 50.0]])
    slack = Q4_FLOAT32_RTOL * np.array([10000.0, 100.0])
    near = y + 0.9 * slack
    far = y + 1.1 * slack + 1e-6
    assert _round_trip_ok(near, y, 1e-6, 1e-6).all()
    assert not _round_trip_ok(far, y, 1e-6, 1e-6).any()
    assert not _round_trip_ok(y * np.nan, y, 1e-6, 1e-6).any()


def test_a_round_trip_off_by_a_percent_still_fails(request_):
    f = findings_with(request_, denormalize_output=lambda Yn: Yn * SCALE * 1.01)["denormalize_output"]
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert "does not give Y back" in f.message


# ----------------------------------------------------------------------------- free text: whole words

@pytest.mark.parametrize("keyword, text, found", [
    ("one", "none of the outputs", False),
    ("two", "both networks", False),
    ("one", "One unit", True),
    ("two", "two-unit layer", True),
    ("1", "income up to 10000", False),
    ("1", "Net-1 has 1 unit", True),
    ("normaliz", "we normalized both", True),
    ("normaliz", "Normalization", True),
    ("scale", "scaling the targets", True),
    ("dominate", "income dominates", True),
    ("soft max", "a Soft-Max layer", True),
    ("soft max", "soft\nmax", True),
    ("min-max", "min-max scaling", True),
    ("loss", "the losses", True),
    ("train", "retrain", False),
    ("change", "exchange", False),
    ("output", "outputs", True),
    ("σ", "σ(z)", True),
], ids=lambda v: v if isinstance(v, str) else None)
def test_keywords_match_whole_words_and_phrases(keyword, text, found):
    from grader.checks.part1 import keyword_in

    assert keyword_in(keyword, text) is found


def test_none_and_networks_earn_no_keyword_points():
    f = q3("q3_explanation", Value("str", "A sigmoid for none of the softmax networks.", "str"))
    assert f.fraction == pytest.approx(2 / 4)
    assert "not found: one / 1 / single; two / 2" in f.message


@pytest.mark.parametrize("name, text", [
    ("f_nonneg", "Max(z, 0)"),
    ("f_nonneg", "z*Heaviside(z)"),
    ("f_nonneg", "Piecewise((z, z > 0), (0, True))"),
    ("f_nonneg", "Abs(z)"),
    ("f_nonneg", "log(1 + E**z)"),
    ("f_nonpos", "Min(z, 0)"),
    ("f_nonpos", "-z*Heaviside(z)"),
    ("f_bounded", "Min(Max(z, a), b)"),
    ("f_bounded", "Piecewise((a, z < a), (b, z > b), (z, True))"),
    ("f_bounded", "a + (b - a)*(1 + erf(z))/2"),
    ("f_bounded", "(a + b)/2 + (b - a)/pi*atan(z)"),
], ids=["Max", "z-Heaviside", "Piecewise", "Abs", "log-E", "Min", "neg-Heaviside", "Min-Max", "Piecewise-clip",
        "erf", "atan"])
def test_q5_strings_in_sympy_syntax_pass(request_, name, text):
    f = findings_with(request_, **{name: text})[name]
    assert (f.status, f.fraction) == ("pass", 1.0), f.message


def test_q5_heaviside_alone_is_bounded_by_one(request_):
    f = findings_with(request_, f_nonneg="Heaviside(z)")["f_nonneg"]
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert "a price above 1 can never be predicted" in f.message


def raises_long(z):
    raise ValueError("x" * 1000)


def test_a_cut_error_message_says_it_was_cut(request_):
    f = findings_with(request_, f_nonneg=raises_long)["f_nonneg"]
    assert (f.status, f.fraction) == ("fail", 0.0)
    assert f.message.endswith("(the kernel keeps the first 500 characters of an error)")


def test_a_long_value_in_a_type_message_says_it_was_cut():
    f = q3("net1_output_activation", Value("int", 10 ** 300, "int"))
    assert "... (cut at 200 characters)" in f.message
