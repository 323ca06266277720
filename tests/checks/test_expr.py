"""expr.py: untrusted strings are refused before anything runs; accepted ones evaluate in float64."""

import time

import numpy as np
import pytest

from grader.checks.expr import MAX_LENGTH, ExprError, evaluate, parse_answer

SYMBOLS = ("x", "w1", "z1", "dL_dy_hat")
FUNCTIONS = ("f1", "df1")
ENV = {"x": np.array([0.5, -1.0, 2.0]), "w1": 1.5, "z1": np.array([0.1, 0.2, 0.3]),
       "dL_dy_hat": 2.0, "f1": np.tanh, "df1": lambda z: 1 - np.tanh(z) ** 2}


def value_of(text):
    return evaluate(parse_answer(text, SYMBOLS, FUNCTIONS), ENV)


@pytest.mark.parametrize("text, expected", [
    ("dL_dy_hat * df1(z1) * x", lambda e: e["dL_dy_hat"] * e["df1"](e["z1"]) * e["x"]),
    ("x**2 - x/2 + -x", lambda e: e["x"] ** 2 - e["x"] / 2 - e["x"]),
    ("f1(w1*x)", lambda e: np.tanh(e["w1"] * e["x"])),
    ("exp(x) + log(abs(x)) + sqrt(x**2) + sin(x) + cos(x) + tanh(x)",
     lambda e: np.exp(e["x"]) + np.log(np.abs(e["x"])) + np.abs(e["x"]) + np.sin(e["x"]) + np.cos(e["x"])
     + np.tanh(e["x"])),
    ("sigmoid(x) + softplus(x) + relu(x)",
     lambda e: 1 / (1 + np.exp(-e["x"])) + np.log1p(np.exp(e["x"])) + np.maximum(e["x"], 0)),
    ("max(x, 0) + min(x, 1, w1)", lambda e: np.maximum(e["x"], 0) + np.minimum(np.minimum(e["x"], 1), 1.5)),
    ("pi * e", lambda e: np.pi * np.e),
    ("3", lambda e: 3.0),
    ("2.5e-1 * x", lambda e: 0.25 * e["x"]),
    ("-x^2 + 2*x^3", lambda e: -e["x"] ** 2 + 2 * e["x"] ** 3),
], ids=["chain-rule", "arithmetic", "student-function", "math-functions", "activations", "max-min",
        "constants", "integer", "float-literal", "caret-is-power-as-in-sympy"])
def test_accepted_expressions_evaluate_like_numpy(text, expected):
    np.testing.assert_allclose(value_of(text) * np.ones(3), expected(ENV) * np.ones(3), rtol=1e-12)


@pytest.mark.parametrize("text, reason", [
    ("__import__('os').system('ls')", "only plain function names"),
    ("x.__class__", "attribute access"),
    ("(lambda: 1)()", "plain function names"),
    ("lambda: 1", "a lambda"),
    ("x[0]", "indexing"),
    ("'abc'", "only numbers"),
    ("[t for t in (1, 2)]", "comprehension"),
    ("(1, 2)", "list/tuple"),
    ("x if x else 1", "if/else"),
    ("x < 1", "comparison"),
    ("x % 2", "`%`"),
    ("True * x", "constant True"),
    ("1j * x", "constant 1j"),
    ("y + 1", "the name `y`"),
    ("open(x)", "`open` is not a function"),
    ("exp(x, base=2)", "no keywords"),
    ("exp(*x)", "no keywords or *args"),
    ("exp(x, x)", "takes 1 argument"),
    ("df1", "is a function: call it"),
    ("x(1)", "`x` is not a function"),
    ("x +", "not valid Python syntax"),
    ("x = 1", "not valid Python syntax"),
    ("", "empty"),
    ("x + " * 600 + "x", "characters long"),
    ("-" * 300 + "x", "nested more than"),
], ids=["dunder-import", "attribute", "lambda-call", "lambda", "subscript", "string", "comprehension",
        "tuple", "ifexp", "compare", "modulo", "bool", "complex", "unknown-name",
        "builtin-call", "keyword-arg", "starargs", "arity", "function-as-value", "symbol-called",
        "syntax-error", "assignment", "empty", "too-long", "too-deep"])
def test_refused_expressions_say_why(text, reason):
    with pytest.raises(ExprError, match=None) as info:
        parse_answer(text, SYMBOLS, FUNCTIONS)
    assert reason in str(info.value)


def test_length_cap_is_checked_before_parsing():
    with pytest.raises(ExprError, match=str(MAX_LENGTH)):
        parse_answer("x" * (MAX_LENGTH + 1), SYMBOLS)


def test_huge_powers_neither_hang_nor_warn():
    start = time.perf_counter()
    out = value_of("9**9**9**9 * x + 1" + "0" * 400)
    assert time.perf_counter() - start < 0.5
    assert not np.isfinite(out).any()


def test_overflow_gives_inf_and_nan_without_warnings():
    out = evaluate(parse_answer("exp(z) - exp(z)", ("z",)), {"z": np.array([0.0, 1e6])})
    assert out[0] == 0 and np.isnan(out[1])


def test_a_sum_of_many_terms_is_accepted():
    expr = parse_answer(" + ".join(["x"] * 150), SYMBOLS)
    np.testing.assert_allclose(evaluate(expr, ENV), 150 * ENV["x"])


def test_the_tree_is_a_sympy_expression_in_the_given_symbols():
    expr = parse_answer("dL_dy_hat * df1(z1) * x", SYMBOLS, FUNCTIONS)
    assert {s.name for s in expr.free_symbols} == {"dL_dy_hat", "z1", "x"}


Z = np.array([-2.0, 0.0, 0.5, 3.0])


@pytest.mark.parametrize("text, expected", [
    ("z*Heaviside(z)", np.maximum(Z, 0)),
    ("Heaviside(z)", np.array([0.0, 0.5, 1.0, 1.0])),
    ("Heaviside(z, 1)", np.array([0.0, 1.0, 1.0, 1.0])),
    ("Max(z, 0) + Min(z, 0, 1)", np.maximum(Z, 0) + np.minimum(Z, 0)),
    ("Abs(z) + sign(z)", np.abs(Z) + np.sign(Z)),
    ("ln(exp(z)) + log(8, 2)", Z + 3),
    ("tan(z) + sinh(z) + cosh(z) + asinh(z) + atan(z)",
     np.tan(Z) + np.sinh(Z) + np.cosh(Z) + np.arcsinh(Z) + np.arctan(Z)),
    ("acosh(z**2 + 1) + atanh(z/4) + asin(z/4) + acos(z/4)",
     np.arccosh(Z ** 2 + 1) + np.arctanh(Z / 4) + np.arcsin(Z / 4) + np.arccos(Z / 4)),
    ("erf(z)", np.array([-0.9953222650189527, 0.0, 0.5204998778130465, 0.9999779095030014])),
    ("Rational(1, 2)*z + Rational(-3)", Z / 2 - 3),
    ("E**z * pi", np.exp(Z) * np.pi),
    ("Piecewise((z, z > 0), (0, True))", np.maximum(Z, 0)),
    ("Piecewise((1, (z > 0) & (z < 1)), (2, Eq(z, 0)), (3, ~(z < 1) | False), (4, True))",
     np.array([4.0, 2.0, 1.0, 3.0])),
    ("Piecewise((z, 0 < z <= 3 and not z == 1))", np.array([np.nan, np.nan, 0.5, 3.0])),
    ("z*DiracDelta(z) + Heaviside(z)", np.array([0.0, np.nan, 1.0, 1.0])),
], ids=["relu-heaviside", "heaviside-half-at-0", "heaviside-h0", "Max-Min", "Abs-sign", "ln-log-base",
        "trig-hyperbolic", "inverse-functions", "erf", "Rational", "E-pi", "piecewise-relu",
        "piecewise-conditions", "piecewise-no-branch-is-nan", "diracdelta-from-diff"])
def test_sympy_spellings_evaluate(text, expected):
    np.testing.assert_allclose(evaluate(parse_answer(text, ("z",)), {"z": Z}) * np.ones(4), expected,
                               rtol=1e-12)


DERIVATIVES = {"z1": np.array([0.1, -0.4]), "x": np.array([2.0, 3.0]), "w1": 1.5, "b1": 0.5,
               "f1": np.tanh, "df1": lambda u: 10 * u}


@pytest.mark.parametrize("text, expected", [
    ("Derivative(f1(z1), z1)", 10 * DERIVATIVES["z1"]),
    ("Subs(Derivative(f1(_xi_1), _xi_1), _xi_1, w1*x + b1)", 10 * (1.5 * DERIVATIVES["x"] + 0.5)),
    ("x*Subs(Derivative(f1(t), t), t, z1)", DERIVATIVES["x"] * 10 * DERIVATIVES["z1"]),
], ids=["derivative", "subs-dummy", "subs-any-dummy-name"])
def test_sympy_printout_of_a_derivative_means_dF(text, expected):
    expr = parse_answer(text, ("z1", "x", "w1", "b1"), ("f1", "df1"))
    np.testing.assert_allclose(evaluate(expr, DERIVATIVES), expected, rtol=1e-12)


@pytest.mark.parametrize("text, reason", [
    ("Derivative(f1(z1), (z1, 2))", "first derivative of one of f1"),
    ("Derivative(f1(z1), x)", "Derivative(f1(z1), z1) is df1(z1)"),
    ("Derivative(exp(x), x)", "first derivative of one of f1"),
    ("Subs(Derivative(f1(a), a), b, x)", "Subs(Derivative(f1(_xi_1), _xi_1), _xi_1, w1*x + b1)"),
    ("Subs(Derivative(f1(a), a), a)", "first derivative"),
    ("Piecewise(x)", "(value, condition) pairs"),
    ("Piecewise((x, x))", "must be a comparison"),
    ("Piecewise((x, x > __import__('os')))", "`__import__` is not a function"),
    ("Piecewise((x > 0, True))", "a comparison"),
    ("Rational(x, 2)", "whole numbers"),
    ("Rational(1, 0)", "divides by zero"),
    ("Heaviside(x, x, x)", "takes 1 to 2 argument(s)"),
], ids=["second-order", "wrong-variable", "math-function", "subs-mismatched-dummy", "subs-two-args",
        "piecewise-no-pair", "piecewise-bare-condition", "piecewise-condition-attack",
        "comparison-as-value", "rational-symbol", "rational-zero", "heaviside-arity"])
def test_sympy_forms_that_cannot_be_read_say_why(text, reason):
    with pytest.raises(ExprError) as info:
        parse_answer(text, SYMBOLS, FUNCTIONS)
    assert reason in str(info.value)


def test_derivative_cannot_be_read_without_a_function_to_map_it_to():
    with pytest.raises(ExprError, match="cannot be read in this answer"):
        parse_answer("Derivative(f1(z), z)", ("z",))
