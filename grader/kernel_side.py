"""Code that runs INSIDE the student's kernel; never run by the grader.

kernel_guard.py installs this file's source (with the task's handlers) before the student's first
cell, in a private namespace, and calls extract(user_ns, request) when the grader asks; its result
goes back signed on the answer channel, and the grader parses it with type and size limits and
judges it in its own process. Nothing here decides a grade: it only turns the student's objects
into plain JSON data.
"""

MAX_STR = 20_000
MAX_ITEMS = 200_000
PROBE_SECONDS = 10


def _activations():
    import numpy as np

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    table = {
        "sigmoid": sigmoid,
        "tanh": np.tanh,
        "softplus": lambda z: np.logaddexp(0.0, z),
        "sin": np.sin,
        "identity": lambda z: z * 1.0,
        "d_sigmoid": lambda z: sigmoid(z) * (1.0 - sigmoid(z)),
        "d_tanh": lambda z: 1.0 - np.tanh(z) ** 2,
        "d_softplus": sigmoid,
        "d_sin": np.cos,
        "d_identity": lambda z: z * 0.0 + 1.0,
    }
    return table


def _finite(x):
    """JSON has no inf/nan: non-finite floats travel as strings."""
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return x


def _numbers(value):
    """Array-like -> nested lists of floats (non-finite as strings). Raises on anything else."""
    import numpy as np

    arr = np.asarray(value, dtype=np.float64)
    if arr.size > MAX_ITEMS:
        raise ValueError(f"result too large ({arr.size} numbers)")
    flat = [_finite(float(v)) for v in arr.ravel().tolist()]
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
        return {"kind": "float", "value": _finite(float(value)), "type": tname}
    if isinstance(value, str):
        text = str.__str__(value)
        if len(text) > MAX_STR:
            return {"kind": "other", "type": tname, "why": f"string longer than {MAX_STR} characters"}
        return {"kind": "str", "value": text, "type": tname}
    if depth < 3 and (type(value) in (list, tuple) or isinstance(value, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        if len(items) > 10_000:
            return {"kind": "other", "type": tname, "why": "more than 10000 elements"}
        out = []
        for item in items:
            inner = _plain(item, depth + 1)
            if inner["kind"] in ("other", "callable"):
                return {"kind": "other", "type": tname, "why": f"holds a {inner['type']}"}
            out.append(inner.get("value"))
        return {"kind": "list", "value": out, "type": tname}
    if callable(value):
        return {"kind": "callable", "type": tname}
    return {"kind": "other", "type": tname}


class _ProbeTimeout(Exception):
    pass


def _with_alarm(fn, seconds):
    """Bound one student call in time, so one endless function costs one answer, not all of them."""
    import signal

    def on_alarm(signum, frame):
        raise _ProbeTimeout(f"did not return within {seconds} s")

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
                out = _with_alarm(lambda: _call_chain(funcs, args, kwargs), PROBE_SECONDS)
                arr = np.asarray(out, dtype=np.float64)
                if len(shape) == 1 and arr.ndim <= 1 and arr.size in (1, shape[0]):
                    arr = np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, shape)
                return {"ok": True, "value": _numbers(arr)}
            except _ProbeTimeout as exc:
                return {"ok": False, "error": f"TimeoutError: {exc}"}
            except Exception as exc:
                first = f"{type(exc).__name__}: {exc}"[:500]
            if not (probe.get("elementwise_fallback", True) and len(shape) == 1):
                return {"ok": False, "error": first}
            try:
                def each():
                    vals = []
                    for i in range(shape[0]):
                        pick = lambda v: float(v[i]) if isinstance(v, np.ndarray) else v
                        one = _call_chain(funcs, [pick(a) for a in args],
                                          {k: pick(v) for k, v in kwargs.items()})
                        vals.append(float(np.asarray(one, dtype=np.float64).reshape(-1)[0]))
                    return vals
                return {"ok": True, "value": _numbers(_with_alarm(each, PROBE_SECONDS))}
            except Exception as exc:
                return {"ok": False, "error": first + f" (element by element: {type(exc).__name__}: {exc})"[:500]}


HANDLERS = {}
"""Task-specific handlers added by other kernel-side sources: name -> fn(user_ns, spec) -> JSON data."""


def extract(user_ns, request):
    fns = _activations()
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
        try:
            extra[name] = HANDLERS[name](user_ns, spec)
        except Exception as exc:
            extra[name] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    return {"values": values, "probes": probes, "extra": extra}
