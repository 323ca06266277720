"""Code that runs INSIDE the student's kernel; never run by the grader.

guard.py loads this module (with the task's handlers) before the student's first cell, in a private
module object, and calls extract(user_ns, request, handlers) when the grader asks; its result
goes back signed on the answer channel, and the grader parses it with type and size limits and
judges it in its own process. Nothing here decides a grade: it only turns the student's objects
into plain JSON data.
"""

from grader.kernel import activations, protocol
from grader.kernel.protocol import MAX_CONTAINER, MAX_DEPTH, MAX_ITEMS, MAX_STR, finite

PROBE_SECONDS = 10


def numbers(value):
    """Array-like -> nested lists of floats (non-finite as strings). Raises on anything else."""
    import numpy as np

    arr = np.asarray(value, dtype=np.float64)
    if arr.size > MAX_ITEMS:
        raise ValueError(f"result too large ({arr.size} numbers)")
    flat = [finite(float(v)) for v in arr.ravel().tolist()]
    return {"shape": list(arr.shape), "flat": flat}


def _plain(value, depth=0):
    """Student object -> {"kind", "value", "type"} with only JSON types inside."""
    import numpy as np

    tname = type(value).__name__
    if value is None:
        return {"kind": "none", "type": tname}
    if type(value) is bool or type(value) is np.bool_:
        return {"kind": "bool", "value": bool(value), "type": tname}
    if type(value) is int or isinstance(value, np.integer):
        return {"kind": "int", "value": int(value), "type": tname}
    if type(value) is float or isinstance(value, np.floating):
        return {"kind": "float", "value": finite(float(value)), "type": tname}
    if isinstance(value, str):
        return _plain_text(str.__str__(value), tname)
    if _is_sympy(value) and not callable(value):  # a sympy.Lambda is called like any function
        # A derived SymPy expression prints as a contract string; the grader reads that string.
        text = str(value)
        return _plain_text(text, tname) if type(text) is str else {"kind": "other", "type": tname}
    if depth < MAX_DEPTH and (type(value) in (list, tuple, set, frozenset) or isinstance(value, np.ndarray)):
        return _plain_list(value, depth, tname)
    if depth < MAX_DEPTH and type(value) is dict:
        return _plain_dict(value, depth, tname)
    if callable(value):
        return {"kind": "callable", "type": tname}
    return {"kind": "other", "type": tname}


def _plain_text(text, tname):
    if len(text) > MAX_STR:
        return {"kind": "other", "type": tname, "why": f"string longer than {MAX_STR} characters"}
    return {"kind": "str", "value": text, "type": tname}


def _is_sympy(value):
    import sys

    # Only a notebook that imported SymPy can hold its objects; importing it here would cost a second.
    sympy = sys.modules.get("sympy")
    return sympy is not None and isinstance(value, sympy.Basic)


def _plain_items(items, depth, tname):
    """Plain values of a container's elements, or the "other" answer saying which one is unreadable."""
    if len(items) > MAX_CONTAINER:
        return None, {"kind": "other", "type": tname, "why": f"more than {MAX_CONTAINER} elements"}
    out = []
    for item in items:
        inner = _plain(item, depth + 1)
        if inner["kind"] in ("other", "callable"):
            return None, {"kind": "other", "type": tname, "why": f"holds a {inner['type']}"}
        out.append(inner.get("value"))
    return out, None


def _plain_list(value, depth, tname):
    import json

    import numpy as np

    items = value.tolist() if isinstance(value, np.ndarray) else list(value)
    out, bad = _plain_items(items, depth, tname)
    if bad:
        return bad
    if type(value) in (set, frozenset):
        # A set's order changes from run to run (string hashing); its plain elements' text does not.
        out.sort(key=lambda v: json.dumps(v, sort_keys=True))
    return {"kind": "list", "value": out, "type": tname}


def _plain_dict(value, depth, tname):
    keys = [_plain(k, depth + 1) for k in value]
    if any(k["kind"] != "str" for k in keys):
        return {"kind": "other", "type": tname, "why": "a key that is not a string"}
    out, bad = _plain_items(list(value.values()), depth, tname)
    if bad:
        return bad
    return {"kind": "dict", "value": dict(zip((k["value"] for k in keys), out)), "type": tname}


class ProbeTimeout(Exception):
    pass


def with_alarm(fn, seconds):
    """Bound one student call in time, so one endless function costs one answer, not all of them."""
    import signal

    def on_alarm(signum, frame):
        raise ProbeTimeout(f"did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _resolve(arg, fns, as_array):
    import numpy as np

    if isinstance(arg, dict) and "__fn__" in arg:
        return fns[arg["__fn__"]]
    if as_array and isinstance(arg, list):
        return np.asarray(arg, dtype=np.float64)
    return arg


def _accepted(func, kwargs):
    """Keep the keyword arguments the callable declares (all of them if it takes **kwargs)."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _call_chain(funcs, args, kwargs):
    result = funcs[0](*args, **_accepted(funcs[0], kwargs))
    for func in funcs[1:]:
        result = func(result)
    return result


def _shape_of(args, kwargs):
    import numpy as np

    for v in list(args) + list(kwargs.values()):
        if isinstance(v, np.ndarray):
            return v.shape
    return ()


def _as_array(out):
    """A student's result as float64 NumPy; torch tensors are detached first (np.asarray refuses them
    when they require grad)."""
    import sys

    import numpy as np

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(out, torch.Tensor):
        out = out.detach().cpu().to(torch.float64).numpy()
    return np.asarray(out, dtype=np.float64)


def _vectorised(funcs, args, kwargs, shape):
    import numpy as np

    arr = _as_array(_call_chain(funcs, args, kwargs))
    if len(shape) == 1 and arr.ndim <= 1 and arr.size in (1, shape[0]):
        arr = np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, shape)
    return arr


def _as_tensors(args, kwargs):
    """The arrays among the arguments as float64 torch tensors, or None when torch is not imported."""
    import sys

    import numpy as np

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    def convert(v):
        return torch.from_numpy(np.array(v, dtype=np.float64)) if isinstance(v, np.ndarray) else v
    return [convert(a) for a in args], {k: convert(v) for k, v in kwargs.items()}


def _torch_retry(funcs, args, kwargs, shape):
    """The vectorised call again with tensors, for activations written with PyTorch (nn.Softplus(),
    torch.relu), which refuse NumPy arrays. None when that does not work either."""
    import sys

    tensors = _as_tensors(args, kwargs)
    if tensors is None:
        return None
    try:
        with sys.modules["torch"].no_grad():
            return with_alarm(lambda: _vectorised(funcs, tensors[0], tensors[1], shape), PROBE_SECONDS)
    except ProbeTimeout:
        raise
    except Exception:
        return None


def _ieee(fn):
    import numpy as np

    def overflowing(*xs):
        return float(fn(*[np.float64(x) for x in xs]))
    return overflowing


def _ieee_math(namespaces):
    """Replacements that make the math module overflow to inf as NumPy does, instead of raising.

    A scalar softplus written with math.exp is right for a price; np.exp's inf at z = 1e6 is
    judged as a value, so math.exp must be too. Returns (owner, name, original, replacement) to restore.
    """
    import math

    import numpy as np

    table = {"exp": np.exp, "expm1": np.expm1, "cosh": np.cosh, "sinh": np.sinh, "pow": np.power}
    patched = []
    for name, fn in table.items():
        original, replacement = getattr(math, name), _ieee(fn)
        patched.append((math, name, original, replacement))
        # `from math import exp` in the notebook binds the function itself in its namespace
        patched += [(ns, key, original, replacement) for ns in namespaces
                    for key, v in list(ns.items()) if v is original]
    for owner, key, _, replacement in patched:
        if isinstance(owner, dict):
            owner[key] = replacement
        else:
            setattr(owner, key, replacement)
    return patched


def _restore(patched):
    for owner, key, original, _ in reversed(patched):
        if isinstance(owner, dict):
            owner[key] = original
        else:
            setattr(owner, key, original)


def _element(funcs, args, kwargs, i):
    import numpy as np

    def call(number):
        pick = lambda v: number(v[i]) if isinstance(v, np.ndarray) else v  # noqa: E731
        one = _call_chain(funcs, [pick(a) for a in args], {k: pick(v) for k, v in kwargs.items()})
        return float(_as_array(one).reshape(-1)[0])

    try:
        return call(float)
    except OverflowError:
        pass
    try:
        # Python floats raise where float64 gives inf (math.e ** z); np.float64 is a float whose
        # arithmetic overflows as np.exp does, so -math.e ** z becomes -inf, as it should.
        return call(np.float64)
    except OverflowError:
        return float("inf")  # what exp's overflow gives; the sign cannot be told


def _elementwise(user_ns, funcs, args, kwargs, shape):
    spaces = {id(ns): ns for ns in [user_ns] + [getattr(f, "__globals__", None) for f in funcs]
              if isinstance(ns, dict)}
    patched = _ieee_math(list(spaces.values()))
    try:
        return [_element(funcs, args, kwargs, i) for i in range(shape[0])]
    finally:
        _restore(patched)


def _probe(user_ns, probe, fns):
    import warnings

    import numpy as np

    funcs = []
    for name in probe["chain"]:
        if name not in user_ns or not callable(user_ns[name]):
            return None
        funcs.append(user_ns[name])
    as_array = probe.get("as_array", True)
    args = [_resolve(a, fns, as_array) for a in probe.get("args", [])]
    kwargs = {k: _resolve(v, fns, as_array) for k, v in probe.get("kwargs", {}).items()}
    shape = _shape_of(args, kwargs)
    with warnings.catch_warnings():
        # Overflow in exp() is the student's numerics, judged on the values, not on the warning.
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                arr = with_alarm(lambda: _vectorised(funcs, args, kwargs, shape), PROBE_SECONDS)
                return {"ok": True, "value": numbers(arr)}
            except ProbeTimeout as exc:
                return protocol.failed("timed_out", f"TimeoutError: {exc}")
            except Exception as exc:
                first = f"{type(exc).__name__}: {exc}"
            try:
                arr = _torch_retry(funcs, args, kwargs, shape)
            except ProbeTimeout as exc:
                return protocol.failed("timed_out", f"TimeoutError: {exc}")
            if arr is not None:
                return {"ok": True, "value": numbers(arr)}
            if not (probe.get("elementwise_fallback", True) and len(shape) == 1):
                return protocol.failed("raised", first)
            try:
                vals = with_alarm(lambda: _elementwise(user_ns, funcs, args, kwargs, shape), PROBE_SECONDS)
                return {"ok": True, "value": numbers(vals)}
            except Exception as exc:
                return protocol.failed("raised", first[:500] + f" (element by element: {type(exc).__name__}: {exc})")


def extract(user_ns, request, handlers=None):
    """The request's answers as plain data. handlers: request `extra` name -> fn(user_ns, spec)
    (the loaded part2 module's handle)."""
    handlers = handlers or {}
    fns = activations.table()
    values = {}
    for name in request.get("names", []):
        if name in user_ns:
            try:
                values[name] = _plain(user_ns[name])
            except Exception as exc:
                values[name] = {"kind": "other", "type": "?", "why": f"{type(exc).__name__}: {exc}"[:300]}
    probes = {}
    for probe in request.get("probes", []):
        result = _probe(user_ns, probe, fns)
        if result is not None:
            probes[probe["key"]] = result
    extra = {}
    for name, spec in request.get("extra", {}).items():
        if name not in handlers:
            extra[name] = {"error": f"the kernel has no handler {name!r}"}
            continue
        try:
            extra[name] = handlers[name](user_ns, spec)
        except Exception as exc:
            extra[name] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    return {"values": values, "probes": probes, "extra": extra}
