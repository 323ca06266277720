"""Untrusted answer strings -> SymPy expressions -> float64 arrays, without ever calling eval.

A student's string is checked against a whitelist of Python syntax and names, then turned into a
SymPy tree by walking its AST ourselves (sympy.parse_expr would eval the text). The tree is built
unevaluated, so `9**9**9**9` is a node, not a computation, and numeric evaluation is done by our own
walker in float64 NumPy (lambdify would emit Python integer arithmetic, which can hang on the same
input). Nothing here decides a grade.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy

from ..kernel.activations import sigmoid

MAX_LENGTH = 2000
MAX_DEPTH = 200
"""Deepest AST nesting accepted (a sum of n terms is n deep); keeps recursion far from Python's limit."""


def _max(*args):
    return np.maximum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args]))


def _min(*args):
    return np.minimum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args]))


def _log(x, base=None):
    return np.log(x) if base is None else np.log(x) / np.log(base)


def _heaviside(x, at_zero=0.5):
    # SymPy's Heaviside(0) is 1/2 unless a second argument says otherwise.
    return np.heaviside(x, at_zero)


def _dirac_delta(x):
    # What SymPy's diff of Heaviside gives; zero away from 0, which is all a random point sees.
    x = np.asarray(x, dtype=np.float64)
    return np.where(x == 0, np.inf, 0.0)


_erf = np.vectorize(math.erf, otypes=[np.float64])

_ONE, _TWO = range(1, 2), range(1, 3)
# name -> (SymPy constructor, NumPy implementation, allowed argument counts). SymPy's own spellings
# (what str() of a SymPy expression prints) and the usual Python ones.
_MATH: dict[str, tuple[Callable, Callable, range]] = {
    "exp": (sympy.exp, np.exp, _ONE),
    "log": (sympy.log, _log, _TWO),
    "ln": (sympy.log, _log, _ONE),
    "sqrt": (sympy.sqrt, np.sqrt, _ONE),
    "sin": (sympy.sin, np.sin, _ONE),
    "cos": (sympy.cos, np.cos, _ONE),
    "tan": (sympy.tan, np.tan, _ONE),
    "asin": (sympy.asin, np.arcsin, _ONE),
    "acos": (sympy.acos, np.arccos, _ONE),
    "atan": (sympy.atan, np.arctan, _ONE),
    "sinh": (sympy.sinh, np.sinh, _ONE),
    "cosh": (sympy.cosh, np.cosh, _ONE),
    "tanh": (sympy.tanh, np.tanh, _ONE),
    "asinh": (sympy.asinh, np.arcsinh, _ONE),
    "acosh": (sympy.acosh, np.arccosh, _ONE),
    "atanh": (sympy.atanh, np.arctanh, _ONE),
    "erf": (sympy.erf, _erf, _ONE),
    "abs": (sympy.Abs, np.abs, _ONE),
    "Abs": (sympy.Abs, np.abs, _ONE),
    "sign": (sympy.sign, np.sign, _ONE),
    "Heaviside": (sympy.Heaviside, _heaviside, _TWO),
    "DiracDelta": (sympy.DiracDelta, _dirac_delta, _ONE),
    "sigmoid": (sympy.Function("sigmoid"), sigmoid, _ONE),
    "softplus": (sympy.Function("softplus"), lambda z: np.logaddexp(0.0, z), _ONE),
    "relu": (sympy.Function("relu"), lambda z: np.maximum(z, 0.0), _ONE),
    "max": (sympy.Max, _max, range(2, 9)),
    "min": (sympy.Min, _min, range(2, 9)),
    "Max": (sympy.Max, _max, range(2, 9)),
    "Min": (sympy.Min, _min, range(2, 9)),
}
# Calls with a shape of their own, checked and built by dedicated code below.
_SPECIAL = frozenset({"Piecewise", "Rational", "Derivative", "Subs"})
MATH_FUNCTIONS = frozenset(_MATH) | _SPECIAL
"""Function names every answer may use."""
CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E}

# SymPy class name -> NumPy implementation, for evaluating the tree
_NUMERIC = {getattr(ctor, "__name__", name): impl for name, (ctor, impl, _) in _MATH.items()}
_NUMERIC["log"] = _log  # "ln" builds the same class

_COMPARISONS = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
                ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}
_RELATIONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
              "==": np.equal, "!=": np.not_equal}

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


@dataclass(frozen=True)
class _Names:
    """What an answer may name: its symbols, its own functions, and how to read their derivatives."""

    symbols: frozenset[str]
    functions: frozenset[str]
    derivatives: Mapping[str, str]
    """Function name -> the function its Derivative(...) stands for (f1 -> df1)."""

    def known(self) -> frozenset[str]:
        return self.symbols | self.functions | MATH_FUNCTIONS | frozenset(CONSTANTS)


def parse_answer(text: str, symbols: Iterable[str], functions: Iterable[str] = (),
                 derivatives: Mapping[str, str] | None = None) -> sympy.Expr:
    """The expression in `text`, over the given symbol and function names plus the math functions.

    `derivatives` says how SymPy's printout of a derivative is read: {"f1": "df1"} turns
    Derivative(f1(z1), z1) into df1(z1) and Subs(Derivative(f1(_xi_1), _xi_1), _xi_1, u) into df1(u).
    By default every function F whose derivative dF is also given (f1 and df1).
    Raises ExprError with a student-readable reason when the text is too long, not Python syntax,
    or uses anything outside the whitelist (attributes, subscripts, strings, unknown names, ...).
    """
    functions = frozenset(functions)
    if derivatives is None:
        derivatives = {f: f"d{f}" for f in functions if f"d{f}" in functions}
    names = _Names(frozenset(symbols), functions, dict(derivatives))
    tree = _checked_tree(text, names)
    with sympy.evaluate(False):
        return _sympy_of(tree.body, names)


def evaluate(expr: sympy.Expr, values: Mapping[str, object]) -> np.ndarray:
    """Float64 values of `expr`: symbols from arrays/numbers in `values`, functions from callables.

    Math functions need not be given. Overflow and invalid operations give inf/nan, never warnings.
    """
    with np.errstate(all="ignore"):
        return np.asarray(_numeric(expr, values), dtype=np.float64)


def _checked_tree(text: str, names: _Names) -> ast.Expression:
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
    _check_node(tree, names, 0)
    return tree


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ExprError(f"it is nested more than {MAX_DEPTH} levels deep (or chains too many operations)")


def _check_node(node: ast.AST, names: _Names, depth: int) -> None:
    _check_depth(depth)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATOR_HINTS:
        raise ExprError(_OPERATOR_HINTS[type(node.op)])
    if not isinstance(node, _ALLOWED_NODES):
        raise ExprError(f"it uses {_describe(node)}, which is not allowed in an answer expression")
    if isinstance(node, ast.Constant) and (type(node.value) not in (int, float)):
        raise ExprError(f"it contains the constant {node.value!r}; only numbers are allowed")
    if isinstance(node, ast.Name) and node.id not in names.known():
        known = ", ".join(sorted(names.symbols | names.functions | frozenset(CONSTANTS)))
        raise ExprError(f"it uses the name `{node.id}`, which is not one of: {known} "
                        "(nor one of the math functions)")
    if isinstance(node, ast.Name) and node.id in (names.functions | MATH_FUNCTIONS) - names.symbols:
        raise ExprError(f"`{node.id}` is a function: call it, as in {node.id}(z1)")
    if isinstance(node, ast.Call):
        _check_call(node, names, depth)  # it checks its own arguments: some calls have a shape of their own
        return
    for child in ast.iter_child_nodes(node):
        _check_node(child, names, depth + 1)


def _check_call(node: ast.Call, names: _Names, depth: int) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExprError("only plain function names may be called, such as exp(x) or df1(z1)")
    name = node.func.id
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise ExprError(f"call {name}(...) with plain arguments only (no keywords or *args)")
    if name in names.functions:
        _check_arity(name, node, _ONE)
    elif name in _MATH:
        _check_arity(name, node, _MATH[name][2])
    elif name in _SPECIAL:
        _SPECIAL_CHECKS[name](node, names, depth)
        return
    else:
        raise ExprError(f"`{name}` is not a function that an answer may call (it may call "
                        f"{', '.join(sorted(names.functions | MATH_FUNCTIONS))})")
    for arg in node.args:
        _check_node(arg, names, depth + 1)


def _check_arity(name: str, node: ast.Call, arities: range) -> None:
    if len(node.args) not in arities:
        want = arities.start if len(arities) == 1 else f"{arities.start} to {arities.stop - 1}"
        raise ExprError(f"{name}(...) takes {want} argument(s), not {len(node.args)}")


def _check_piecewise(node: ast.Call, names: _Names, depth: int) -> None:
    usage = "Piecewise takes (value, condition) pairs, as in Piecewise((z, z > 0), (0, True))"
    if not node.args:
        raise ExprError(usage)
    for pair in node.args:
        if not (isinstance(pair, ast.Tuple) and len(pair.elts) == 2):
            raise ExprError(usage)
        _check_node(pair.elts[0], names, depth + 2)
        _check_condition(pair.elts[1], names, depth + 2)


def _check_condition(node: ast.AST, names: _Names, depth: int) -> None:
    _check_depth(depth)
    if isinstance(node, ast.Constant) and type(node.value) is bool:
        return
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARISONS for op in node.ops):
        for side in [node.left, *node.comparators]:
            _check_node(side, names, depth + 1)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords \
            and node.func.id in _CONDITION_CALLS:
        _check_arity(node.func.id, node, _CONDITION_CALLS[node.func.id])
        inner = _check_node if node.func.id in ("Eq", "Ne") else _check_condition
        for arg in node.args:
            inner(arg, names, depth + 1)
        return
    parts = _condition_parts(node)
    if parts is None:
        raise ExprError("a Piecewise condition must be a comparison such as z > 0 (joined with &, |, ~ "
                        "or and/or/not) or True")
    for part in parts:
        _check_condition(part, names, depth + 1)


def _condition_parts(node: ast.AST) -> list[ast.AST] | None:
    """The operands of a logical combination of conditions (&, |, ~, and, or, not), else None."""
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Invert, ast.Not)):
        return [node.operand]
    return None


def _check_rational(node: ast.Call, names: _Names, depth: int) -> None:
    _check_arity("Rational", node, _TWO)
    if any(_int_literal(a) is None for a in node.args):
        raise ExprError("Rational(p, q) takes whole numbers, as in Rational(1, 2)")
    if len(node.args) == 2 and _int_literal(node.args[1]) == 0:
        raise ExprError("Rational(p, 0) divides by zero")


def _int_literal(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _int_literal(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _derivative_hint(names: _Names) -> str:
    if not names.derivatives:
        return "Derivative(...) and Subs(...) cannot be read in this answer: write the expression itself"
    fs = ", ".join(sorted(names.derivatives))
    return (f"Derivative(...) and Subs(...) are read only as the first derivative of one of {fs} at its "
            "argument, as SymPy prints it: Derivative(f1(z1), z1) is df1(z1), and "
            "Subs(Derivative(f1(_xi_1), _xi_1), _xi_1, w1*x + b1) is df1(w1*x + b1)")


def _derivative_of(node: ast.AST, names: _Names, dummy: str | None = None) -> tuple[str, ast.AST] | None:
    """(function name, argument) of Derivative(F(u), u); with a dummy, u must be that bare name."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Derivative"
            and len(node.args) == 2 and not node.keywords):
        return None
    inner, var = node.args
    if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and len(inner.args) == 1
            and not inner.keywords and inner.func.id in names.derivatives):
        return None
    (arg,) = inner.args
    if dummy is not None:
        ok = all(isinstance(n, ast.Name) and n.id == dummy for n in (arg, var))
    else:
        ok = ast.dump(arg) == ast.dump(var)
    return (inner.func.id, arg) if ok else None


def _check_derivative(node: ast.Call, names: _Names, depth: int) -> None:
    parts = _derivative_of(node, names)
    if parts is None:
        raise ExprError(_derivative_hint(names))
    _check_node(parts[1], names, depth + 2)


def _check_subs(node: ast.Call, names: _Names, depth: int) -> None:
    dummy = node.args[1].id if len(node.args) == 3 and isinstance(node.args[1], ast.Name) else None
    if dummy is None or _derivative_of(node.args[0], names, dummy) is None:
        raise ExprError(_derivative_hint(names))
    _check_node(node.args[2], names, depth + 1)


_SPECIAL_CHECKS = {"Piecewise": _check_piecewise, "Rational": _check_rational,
                   "Derivative": _check_derivative, "Subs": _check_subs}
_CONDITION_CALLS = {"Eq": range(2, 3), "Ne": range(2, 3), "And": range(1, 9), "Or": range(1, 9),
                    "Not": _ONE}


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[i])",
        ast.Lambda: "a lambda", ast.Compare: "a comparison (allowed only in a Piecewise condition)",
        ast.BoolOp: "and/or", ast.IfExp: "if/else (write Piecewise((a, cond), (b, True)))",
        ast.JoinedStr: "an f-string", ast.Starred: "*args", ast.NamedExpr: "an assignment (:=)",
    }
    for kind, words in names.items():
        if isinstance(node, kind):
            return words
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return "a comprehension"
    if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
        return "a list/tuple/set/dict"
    return f"Python syntax `{type(node).__name__}`"


def _sympy_of(node: ast.AST, names: _Names) -> sympy.Expr:
    """Already-checked AST node -> unevaluated SymPy tree (called under sympy.evaluate(False))."""
    rec = lambda n: _sympy_of(n, names)  # noqa: E731
    if isinstance(node, ast.Constant):
        return sympy.Integer(node.value) if type(node.value) is int else sympy.Float(repr(node.value))
    if isinstance(node, ast.Name):
        is_constant = node.id in CONSTANTS and node.id not in names.symbols
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
    return _sympy_call(node, names)


def _sympy_call(node: ast.Call, names: _Names) -> sympy.Expr:
    rec = lambda n: _sympy_of(n, names)  # noqa: E731
    name = node.func.id
    if name in names.functions:
        return sympy.Function(name)(*[rec(a) for a in node.args])
    if name == "Piecewise":
        return sympy.Piecewise(*[(rec(p.elts[0]), _sympy_condition(p.elts[1], names)) for p in node.args])
    if name == "Rational":
        return sympy.Rational(*[_int_literal(a) for a in node.args])
    if name == "Derivative":
        function, arg = _derivative_of(node, names)
        return sympy.Function(names.derivatives[function])(rec(arg))
    if name == "Subs":
        function, _ = _derivative_of(node.args[0], names, node.args[1].id)
        return sympy.Function(names.derivatives[function])(rec(node.args[2]))
    return _MATH[name][0](*[rec(a) for a in node.args])


def _sympy_condition(node: ast.AST, names: _Names):
    cond = lambda n: _sympy_condition(n, names)  # noqa: E731
    if isinstance(node, ast.Constant):
        return sympy.true if node.value else sympy.false
    if isinstance(node, ast.Compare):
        sides = [_sympy_of(s, names) for s in [node.left, *node.comparators]]
        rels = [_COMPARISONS[type(op)](a, b) for op, a, b in zip(node.ops, sides, sides[1:])]
        return rels[0] if len(rels) == 1 else sympy.And(*rels)
    if isinstance(node, ast.Call):
        name = node.func.id
        if name in ("Eq", "Ne"):
            return getattr(sympy, name)(*[_sympy_of(a, names) for a in node.args])
        return getattr(sympy, name)(*[cond(a) for a in node.args])
    if isinstance(node, ast.BoolOp):
        return (sympy.And if isinstance(node.op, ast.And) else sympy.Or)(*[cond(v) for v in node.values])
    if isinstance(node, ast.BinOp):
        return (sympy.And if isinstance(node.op, ast.BitAnd) else sympy.Or)(cond(node.left), cond(node.right))
    return sympy.Not(cond(node.operand))


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
    if isinstance(node, sympy.Piecewise):
        return _piecewise(node, values)
    name = type(node).__name__
    func = values.get(name) if name in values else _NUMERIC.get(name)
    if not callable(func):
        raise KeyError(f"no value given for the function {name}")
    return func(*[rec(a) for a in node.args])


def _truth(node: sympy.Basic, values: Mapping[str, object]) -> np.ndarray:
    """Boolean values of a Piecewise condition."""
    if node is sympy.true or node is sympy.false:
        return np.bool_(node is sympy.true)
    if node.is_Relational:
        return _RELATIONS[node.rel_op](_numeric(node.lhs, values), _numeric(node.rhs, values))
    parts = [_truth(a, values) for a in node.args]
    if isinstance(node, sympy.And):
        return np.logical_and.reduce(np.broadcast_arrays(*parts))
    if isinstance(node, sympy.Or):
        return np.logical_or.reduce(np.broadcast_arrays(*parts))
    if isinstance(node, sympy.Not):
        return np.logical_not(parts[0])
    raise KeyError(f"cannot evaluate the condition {node}")


def _piecewise(node: sympy.Piecewise, values: Mapping[str, object]) -> np.ndarray:
    # The first pair whose condition holds gives the value, as in SymPy; none holding gives nan.
    pairs = [(_numeric(e, values), _truth(c, values)) for e, c in node.args]
    flat = np.broadcast_arrays(*[a for pair in pairs for a in pair])
    out = np.full(flat[0].shape, np.nan)
    done = np.zeros(flat[0].shape, dtype=bool)
    for value, cond in zip(flat[::2], flat[1::2]):
        take = cond & ~done
        out = np.where(take, value, out)
        done = done | cond
    return out
