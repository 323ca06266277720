"""Untrusted answer strings -> SymPy expressions -> float64 arrays, without ever calling eval.

A student's string is checked against a whitelist of Python syntax and names, then turned into a
SymPy tree by walking its AST ourselves (sympy.parse_expr would eval the text). The tree is built
unevaluated, so `9**9**9**9` is a node, not a computation, and numeric evaluation is done by our own
walker in float64 NumPy (lambdify would emit Python integer arithmetic, which can hang on the same
input). Nothing here decides a grade.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import sympy

MAX_LENGTH = 2000
MAX_DEPTH = 200
"""Deepest AST nesting accepted (a sum of n terms is n deep); keeps recursion far from Python's limit."""


def stable_sigmoid(z):
    # exp(-|z|) never overflows; both branches agree where they meet.
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _max(*args):
    return np.maximum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args]))


def _min(*args):
    return np.minimum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args]))


# name -> (SymPy constructor, NumPy implementation, allowed argument counts)
_MATH: dict[str, tuple[Callable, Callable, range]] = {
    "exp": (sympy.exp, np.exp, range(1, 2)),
    "log": (sympy.log, np.log, range(1, 2)),
    "sin": (sympy.sin, np.sin, range(1, 2)),
    "cos": (sympy.cos, np.cos, range(1, 2)),
    "tanh": (sympy.tanh, np.tanh, range(1, 2)),
    "sqrt": (sympy.sqrt, np.sqrt, range(1, 2)),
    "abs": (sympy.Abs, np.abs, range(1, 2)),
    "sigmoid": (sympy.Function("sigmoid"), stable_sigmoid, range(1, 2)),
    "softplus": (sympy.Function("softplus"), lambda z: np.logaddexp(0.0, z), range(1, 2)),
    "relu": (sympy.Function("relu"), lambda z: np.maximum(z, 0.0), range(1, 2)),
    "max": (sympy.Max, _max, range(2, 9)),
    "min": (sympy.Min, _min, range(2, 9)),
}
MATH_FUNCTIONS = frozenset(_MATH)
"""Function names every answer may use."""
CONSTANTS = {"pi": sympy.pi, "e": sympy.E}

# SymPy class name -> NumPy implementation, for evaluating the tree
_NUMERIC = {getattr(ctor, "__name__", name): impl for name, (ctor, impl, _) in _MATH.items()}

_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub)
_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load,
                  ast.Constant) + _BINARY + _UNARY
_OPERATOR_HINTS = {
    ast.Mod: "`%` is not allowed",
    ast.FloorDiv: "`//` is not allowed: use / for division",
    ast.MatMult: "`@` is not allowed",
}


class ExprError(ValueError):
    """A student's string is not an expression the grader accepts; the message says why, for them."""


def parse_answer(text: str, symbols: Iterable[str], functions: Iterable[str] = ()) -> sympy.Expr:
    """The expression in `text`, over the given symbol and function names plus the math functions.

    Raises ExprError with a student-readable reason when the text is too long, not Python syntax,
    or uses anything outside the whitelist (attributes, subscripts, strings, unknown names, ...).
    """
    symbols, functions = frozenset(symbols), frozenset(functions)
    tree = _checked_tree(text, symbols, functions)
    with sympy.evaluate(False):
        return _sympy_of(tree.body, symbols, functions)


def evaluate(expr: sympy.Expr, values: Mapping[str, object]) -> np.ndarray:
    """Float64 values of `expr`: symbols from arrays/numbers in `values`, functions from callables.

    Math functions need not be given. Overflow and invalid operations give inf/nan, never warnings.
    """
    with np.errstate(all="ignore"):
        return np.asarray(_numeric(expr, values), dtype=np.float64)


def _checked_tree(text: str, symbols: frozenset[str], functions: frozenset[str]) -> ast.Expression:
    if not isinstance(text, str):
        raise ExprError("it is not a string")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"it is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ExprError("it is empty")
    try:
        # SymPy syntax (the contract's) reads ^ as a power, as parse_expr's convert_xor does.
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"it is not valid Python syntax: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError("it is nested too deeply") from None
    _check_node(tree, symbols, functions, 0)
    return tree


def _check_node(node: ast.AST, symbols: frozenset[str], functions: frozenset[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ExprError(f"it is nested more than {MAX_DEPTH} levels deep (or chains too many operations)")
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATOR_HINTS:
        raise ExprError(_OPERATOR_HINTS[type(node.op)])
    if not isinstance(node, _ALLOWED_NODES):
        raise ExprError(f"it uses {_describe(node)}, which is not allowed in an answer expression")
    if isinstance(node, ast.Constant) and (type(node.value) not in (int, float)):
        raise ExprError(f"it contains the constant {node.value!r}; only numbers are allowed")
    if isinstance(node, ast.Name) and node.id not in symbols | functions | MATH_FUNCTIONS | set(CONSTANTS):
        known = ", ".join(sorted(symbols | functions | MATH_FUNCTIONS | set(CONSTANTS)))
        raise ExprError(f"it uses the name `{node.id}`, which is not one of: {known}")
    if isinstance(node, ast.Name) and node.id in (functions | MATH_FUNCTIONS) - symbols:
        raise ExprError(f"`{node.id}` is a function: call it, as in {node.id}(z1)")
    children = ast.iter_child_nodes(node)
    if isinstance(node, ast.Call):
        _check_call(node, functions)
        children = node.args  # the called name is checked by _check_call, as a function
    for child in children:
        _check_node(child, symbols, functions, depth + 1)


def _check_call(node: ast.Call, functions: frozenset[str]) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExprError("only plain function names may be called, such as exp(x) or df1(z1)")
    name = node.func.id
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise ExprError(f"call {name}(...) with plain arguments only (no keywords or *args)")
    if name in functions:
        arities = range(1, 2)
    elif name in _MATH:
        arities = _MATH[name][2]
    else:
        raise ExprError(f"`{name}` is not a function that an answer may call")
    if len(node.args) not in arities:
        want = arities.start if len(arities) == 1 else f"{arities.start} or more"
        raise ExprError(f"{name}(...) takes {want} argument(s), not {len(node.args)}")


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[i])",
        ast.Lambda: "a lambda", ast.Compare: "a comparison", ast.BoolOp: "and/or",
        ast.IfExp: "if/else", ast.JoinedStr: "an f-string", ast.Starred: "*args",
        ast.NamedExpr: "an assignment (:=)",
    }
    for kind, words in names.items():
        if isinstance(node, kind):
            return words
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return "a comprehension"
    if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
        return "a list/tuple/set/dict"
    return f"Python syntax `{type(node).__name__}`"


def _sympy_of(node: ast.AST, symbols: frozenset[str], functions: frozenset[str]) -> sympy.Expr:
    """Already-checked AST node -> unevaluated SymPy tree (called under sympy.evaluate(False))."""
    rec = lambda n: _sympy_of(n, symbols, functions)  # noqa: E731
    if isinstance(node, ast.Constant):
        return sympy.Integer(node.value) if type(node.value) is int else sympy.Float(repr(node.value))
    if isinstance(node, ast.Name):
        is_constant = node.id in CONSTANTS and node.id not in symbols
        return CONSTANTS[node.id] if is_constant else sympy.Symbol(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = rec(node.operand)
        return sympy.Mul(sympy.Integer(-1), inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = rec(node.left), rec(node.right)
        return {
            ast.Add: lambda: sympy.Add(left, right),
            ast.Sub: lambda: sympy.Add(left, sympy.Mul(sympy.Integer(-1), right)),
            ast.Mult: lambda: sympy.Mul(left, right),
            ast.Div: lambda: sympy.Mul(left, sympy.Pow(right, sympy.Integer(-1))),
            ast.Pow: lambda: sympy.Pow(left, right),
        }[type(node.op)]()
    assert isinstance(node, ast.Call)
    name = node.func.id
    args = [rec(a) for a in node.args]
    ctor = sympy.Function(name) if name in functions else _MATH[name][0]
    return ctor(*args)


def _numeric(node: sympy.Basic, values: Mapping[str, object]):
    rec = lambda n: _numeric(n, values)  # noqa: E731
    if node.is_Symbol:
        return np.asarray(values[node.name], dtype=np.float64)
    if node.is_Number or node.is_NumberSymbol:
        try:
            return np.float64(float(node))
        except OverflowError:  # a literal with hundreds of digits
            return np.float64(np.inf) if node > 0 else np.float64(-np.inf)
    if node.is_Add:
        return sum((rec(a) for a in node.args), np.float64(0.0))
    if node.is_Mul:
        out = np.float64(1.0)
        for a in node.args:
            out = out * rec(a)
        return out
    if node.is_Pow:
        return np.power(rec(node.base), rec(node.exp))
    name = type(node).__name__
    func = values.get(name) if name in values else _NUMERIC.get(name)
    if not callable(func):
        raise KeyError(f"no value given for the function {name}")
    return func(*[rec(a) for a in node.args])
