"""Signs of tampering -> held points. A static scan of a notebook's code for the idioms that reach
into the grader's machinery, and the rule that a notebook with such signs keeps no points until an
instructor has looked (an override in overrides.yaml restores them).

The scan reads the source as an AST, never runs it. It looks for what an honest HW3 notebook has
no reason to do: reach IPython's event hooks, display publisher, comm manager or kernel session;
assign into builtins, sys.modules or the modules the grader computes with; walk frames, closures
or the garbage collector; load ctypes; exec/eval a string it built. Plotting, progress bars,
writing files, `gc.collect()` and `%matplotlib inline` are not signs of anything.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import replace

from .model import Finding

# Attribute names that only code reaching into IPython/the kernel or into Python's internals uses.
_SENSITIVE_ATTRS = {
    "display_pub": "reaches IPython's display publisher",
    "events": None,  # judged with its call below (ip.events.register)
    "comm_manager": "reaches the kernel's comm manager",
    "shell_handlers": "reaches the kernel's message handlers",
    "iopub_socket": "reaches the kernel's output socket",
    "input_transformers_cleanup": "rewrites cells before they run (input transformers)",
    "input_transformers_post": "rewrites cells before they run (input transformers)",
    "ast_transformers": "rewrites cells before they run (AST transformers)",
    "__closure__": "reads function closures",
    "cell_contents": "reads function closures",
    "f_back": "walks the call stack",
    "f_globals": "walks the call stack",
    "f_locals": "walks the call stack",
    "_getframe": "walks the call stack",
    "get_referrers": "searches the garbage collector's objects",
    "get_referents": "searches the garbage collector's objects",
    "get_objects": "searches the garbage collector's objects",
    "meta_path": "changes how modules are imported",
}
_REGISTER_CALLS = {"register", "register_target", "unregister"}
# Modules whose attributes the grader's kernel-side code relies on: assigning into them is tampering.
_GUARDED_MODULES = {"builtins", "__builtins__", "json", "np", "numpy", "math", "inspect", "signal", "sys",
                    "IPython", "display", "torch", "nn", "F", "keras", "tf", "hmac", "hashlib"}
_GUARDED_CLASSES = {"Module", "Tensor", "Model", "Sequential", "Layer", "InteractiveShell", "Session"}
_BANNED_IMPORTS = {"ctypes": "loads ctypes (raw memory access)", "_ctypes": "loads ctypes (raw memory access)"}
# Honest notebooks eval their own answer strings to try them, so exec/eval of a computed string
# is put before the instructor without holding points: whatever such code does to the grader's
# machinery, the kernel-side guard sees at answer time.
_ONLY_NOTED = "note: "
_MAGIC = re.compile(r"^\s*[%!].*$", re.M)


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(_MAGIC.sub("pass", source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _root_name(node: ast.AST) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


# Aliases whose real module is cheap to look at: an assignment that only adds a name
# (`np.float = float`, a fix old code needs under NumPy 2) replaces nothing the grader uses.
_LIGHT_MODULES = {"builtins": "builtins", "__builtins__": "builtins", "json": "json", "np": "numpy",
                  "numpy": "numpy", "math": "math", "inspect": "inspect", "signal": "signal",
                  "hmac": "hmac", "hashlib": "hashlib"}


def _exists(alias: str, attr: str) -> bool:
    if alias not in _LIGHT_MODULES:
        return True
    return hasattr(importlib.import_module(_LIGHT_MODULES[alias]), attr)


def _assigned_into_guarded(target: ast.AST) -> str:
    """'json.dumps' for `json.dumps = ...`; 'sys.modules' for `sys.modules['x'] = ...`; else ''."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute) \
            and target.value.attr == "modules" and _root_name(target.value) == "sys":
        return "sys.modules"
    if isinstance(target, ast.Attribute):
        inner = target.value
        if isinstance(inner, ast.Name) and inner.id == "sys":
            # sys.argv, sys.stdout and friends are set by honest code; these reach the grader.
            return f"sys.{target.attr}" if target.attr in ("modules", "meta_path", "path_hooks") else ""
        if isinstance(inner, ast.Name) and inner.id in _GUARDED_MODULES and _exists(inner.id, target.attr):
            return f"{inner.id}.{target.attr}"
        # torch.nn.Module.__call__ = ..., but not torch.backends.cudnn.deterministic = True.
        if isinstance(inner, ast.Attribute) and inner.attr in _GUARDED_CLASSES:
            return f"{_root_name(inner)}...{inner.attr}.{target.attr}"
    if isinstance(target, ast.Name) and target.id in ("__builtins__", "__import__"):
        return target.id
    return ""


def _flat(targets):
    """Assignment targets with tuples unpacked (a, json.dumps = ...)."""
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            yield from _flat(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _flat([target.value])
        else:
            yield target


def _node_signs(node: ast.AST) -> list[str]:
    signs = []
    if isinstance(node, ast.Attribute) and _SENSITIVE_ATTRS.get(node.attr):
        signs.append(f"{_SENSITIVE_ATTRS[node.attr]} ({node.attr})")
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _REGISTER_CALLS and \
                isinstance(func.value, ast.Attribute) and func.value.attr in ("events", "comm_manager"):
            signs.append(f"registers an IPython hook ({func.value.attr}.{func.attr})")
        if isinstance(func, ast.Name) and func.id in ("exec", "eval", "compile") and node.args \
                and not isinstance(node.args[0], ast.Constant):
            signs.append(f"{_ONLY_NOTED}runs code it builds at run time ({func.id} of a computed string)")
        if isinstance(func, ast.Name) and func.id == "setattr" and node.args and \
                isinstance(node.args[0], ast.Name) and node.args[0].id in _GUARDED_MODULES:
            signs.append(f"changes the module {node.args[0].id} (setattr)")
        if isinstance(func, ast.Name) and func.id == "__import__" and node.args and \
                isinstance(node.args[0], ast.Constant) and node.args[0].value in _BANNED_IMPORTS:
            signs.append(_BANNED_IMPORTS[node.args[0].value])
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in _flat(targets):
            where = _assigned_into_guarded(target)
            if where:
                signs.append(f"assigns into {where}")
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
            node.name in ("__import__", "__builtins__"):
        signs.append(f"defines {node.name}")
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        signs += [_BANNED_IMPORTS[n.split(".")[0]] for n in names if n.split(".")[0] in _BANNED_IMPORTS]
    return signs


def scan_source(source: str) -> list[str]:
    """Signs of tampering in one code cell (each once, in source order)."""
    tree = _parse(source)
    if tree is None:
        return []
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        found += [(getattr(node, "lineno", 0), getattr(node, "col_offset", 0), sign) for sign in _node_signs(node)]
    signs: list[str] = []
    for _, _, sign in sorted(found):
        if sign not in signs:
            signs.append(sign)
    return signs


def scan_notebook(nb) -> tuple[str, ...]:
    """'cell N: sign' for every code cell (numbered from 1 as in Jupyter) with signs of tampering."""
    lines = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") == "code":
            lines += [f"cell {number}: {sign}" for sign in scan_source(str(cell.get("source", "")))]
    return tuple(lines[:20])


def holds_points(sign: str) -> bool:
    """Whether a sign holds the notebook's points (the others are only put before the instructor)."""
    return not sign.split(": ", 1)[-1].startswith(_ONLY_NOTED)


def held(findings: list[Finding], tampering: tuple[str, ...]) -> list[Finding]:
    """Every finding of a notebook with signs of tampering, held at 0 for review, saying what was found
    and what the checker would have given."""
    tampering = tuple(sign for sign in tampering if holds_points(sign))
    if not tampering:
        return findings
    why = "; ".join(tampering[:3]) + (f"; and {len(tampering) - 3} more (see the attention list)" if len(tampering) > 3 else "")
    return [replace(f, status="review", fraction=0.0,
                    message=f"held for the instructor: the notebook shows signs of tampering with the grader ({why}). "
                            f"The checker found: {f.status}, {f.fraction:.0%} of the points"
                            + (f" ({f.message})" if f.message else "")) for f in findings]
