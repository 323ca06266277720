"""Part 2 introspection. Runs INSIDE the student's kernel; the grader imports only its docs.

`handle(user_ns, spec)` answers the request's `extra["part2"]`: it looks at the student's models by
calling them and hands back plain JSON data (arrays as {"shape", "flat"}, non-finite floats as
"inf"/"-inf"/"nan", a call that gave nothing as {"ok": False, "kind", "detail"} with a kind from
protocol.ERROR_KINDS). It decides nothing: the grader (grader/checks/part2/) parses the data into
typed observations and judges them in its own process. Hidden labels never come here, only hidden
features.

A framework is imported only when a student's object belongs to it (told from the class's MRO, which
needs no import), so a Keras notebook never pays for importing torch and vice versa.

Spec (all keys optional except task and hidden_X):
  task            "H3P2T1" | "H3P2T2"
  hidden_X        (N, d) raw hidden features
  train_X         (M, d) raw training features (H3P2T1), a sample of the grader's own copy of the CSV:
                  the kernel never reads data/ for grading, which the student's code may have changed
  columns         the training CSV's feature names, for a preprocess/predict that only takes a DataFrame
  probe_scales    factors the preprocessed rows are multiplied by to probe the output layer (T1)
  probe_rows      rows used for those probes
  extreme_scales  factors the raw hidden features are multiplied by for the range probes (T2)
  Y_sample        (K, 2) [income, age] rows for the normalize/denormalize round trip (T2)
  seconds         limit per student call; budget: limit for the whole handler
"""

import sys
import time
import warnings

import numpy as np

from grader.kernel.answers import ProbeTimeout, numbers, with_alarm
from grader.kernel.protocol import failed, finite

ERROR_CHARS = 300
MAX_COLUMNS = 200
MAX_NUMBERS = 100_000


def _pack(arr):
    """A Call: {"ok": True, "value": numbers} or too_large."""
    if arr.size > MAX_NUMBERS:
        return failed("too_large", f"result too large: shape {tuple(arr.shape)}")
    return {"ok": True, "value": numbers(arr)}


def _error(exc):
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


class _Clock:
    """Per-call limit inside an overall budget, so a slow notebook costs its own items only."""

    def __init__(self, seconds, budget, columns=None):
        self.seconds = float(seconds)
        self.deadline = time.monotonic() + float(budget)
        self.columns = [str(c)[:100] for c in columns][:MAX_COLUMNS] if isinstance(columns, list) else None
        self.notes = {}
        """Student function -> how it had to be called (a DataFrame instead of an array)."""

    def call(self, fn):
        """-> (True, value) or (False, a failed Call). Student code runs only through here."""
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            return False, failed("skipped", "skipped: the time budget of the grader's Part 2 probes ran out")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                try:
                    return True, with_alarm(fn, min(self.seconds, left))
                except ProbeTimeout as exc:
                    return False, failed("timed_out", f"TimeoutError: {exc}")
                except (Exception, SystemExit) as exc:
                    return False, failed("raised", _error(exc))


def _framework(obj):
    """"torch" for a torch.nn.Module, "keras" for a keras.Model, else the type's name (no imports)."""
    for cls in type(obj).__mro__:
        mod = getattr(cls, "__module__", "") or ""
        if cls.__name__ == "Module" and mod.startswith("torch.nn"):
            return "torch"
        if cls.__name__ == "Model" and mod.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
            return "keras"
    return type(obj).__name__


def _heads(parts):
    """Concatenated columns when every part is one (N,) or (N, 1) head of the same N, else None."""
    if len(parts) < 2:
        return None
    cols = [p.reshape(-1, 1) if p.ndim == 1 else p for p in parts]
    if any(c.ndim != 2 or c.shape[1] != 1 or c.shape[0] != cols[0].shape[0] for c in cols):
        return None
    return np.concatenate(cols, axis=1)


def _array(out, first_of_tuple=False):
    """Tensor / array / DataFrame / nested list from the student's code -> float64 ndarray.

    A list (or dict) of one-unit heads with the same rows, as a Keras model with two Dense(1) outputs
    returns, becomes their columns side by side; otherwise a model's (outputs, extras) gives outputs.
    """
    if isinstance(out, dict) and out:
        out = list(out.values())[0] if len(out) == 1 else list(out.values())
    if isinstance(out, (tuple, list)) and out and any(hasattr(v, "shape") for v in out):
        parts = [_array(v) for v in out]
        heads = _heads(parts)
        if heads is not None:
            return heads
        if first_of_tuple and hasattr(out[0], "shape"):
            return parts[0]
        return np.asarray(parts, dtype=np.float64)
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # torch.Tensor, maybe requiring grad
        out = out.detach().cpu().numpy()
    elif hasattr(out, "to_numpy") and not isinstance(out, np.ndarray):  # pandas DataFrame / Series
        out = out.to_numpy(dtype=np.float64)
    elif not isinstance(out, np.ndarray) and hasattr(out, "numpy"):  # tf / keras tensor
        out = out.numpy()
    return np.asarray(out, dtype=np.float64)


def _forward(model, framework, x):
    """The model's raw outputs on float64 rows x, in inference mode, as float64."""
    if framework == "torch":
        import torch

        dtype = torch.float32
        for p in model.parameters():
            if p.is_floating_point():
                dtype = p.dtype
                break
        modes = [(m, m.training) for m in model.modules()]
        try:
            model.eval()
            with torch.no_grad():
                out = model(torch.as_tensor(np.ascontiguousarray(x), dtype=dtype))
        finally:
            for m, mode in modes:
                m.training = mode
        return _array(out, first_of_tuple=True)
    if framework == "keras":
        xx = np.ascontiguousarray(x, dtype=np.float32)
        try:
            out = model(xx, training=False)
        except Exception:
            out = model.predict(xx, verbose=0)
        return _array(out, first_of_tuple=True)
    try:
        return _array(model(x), first_of_tuple=True)
    except Exception:
        if "torch" not in sys.modules:
            raise
        import torch  # a plain function wrapping a torch model

        return _array(model(torch.as_tensor(x, dtype=torch.float32)), first_of_tuple=True)


def _apply(fn, x, clock=None, name=""):
    """Call a student's array function on raw rows x (a NumPy float array, as the contract says).

    If it rejects that, retry on a torch tensor (when torch is loaded), then on a pandas DataFrame with
    the training CSV's column names (when the request gave them): a student who wrote df[["x1", "x2"]]
    loses nothing for it, and the retry is noted for the report.
    """
    try:
        return _array(fn(x.copy()))
    except Exception as first:
        error = first
    if "torch" in sys.modules:
        import torch

        try:
            return _array(fn(torch.as_tensor(x.copy(), dtype=torch.float32)))
        except Exception:
            pass
    columns = getattr(clock, "columns", None)
    if columns and len(columns) == x.shape[-1]:
        try:
            import pandas as pd

            out = _array(fn(pd.DataFrame(x.copy(), columns=list(columns))))
        except Exception:
            raise error from None  # the report shows what the contract's call raised
        if name:
            clock.notes[name] = "a pandas DataFrame with the training CSV's columns " + ", ".join(columns)
        return out
    raise error


def _loss(obj):
    """What a loss object is, as names: the grader maps them to kinds."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return {"kind": "str", "name": obj[:100], "module": ""}
    if isinstance(obj, (dict, list, tuple)):
        return {"kind": "other", "name": type(obj).__name__, "module": "", "repr": repr(obj)[:200]}
    if isinstance(obj, type):
        return {"kind": "class", "name": obj.__name__[:100], "module": str(obj.__module__)[:100]}
    cls = type(obj)
    if cls.__name__ in ("function", "builtin_function_or_method", "method"):
        return {"kind": "function", "name": str(getattr(obj, "__name__", "?"))[:100],
                "module": str(getattr(obj, "__module__", "") or "")[:100]}
    info = {"kind": "object", "name": cls.__name__[:100], "module": str(cls.__module__)[:100]}
    try:
        from_logits = getattr(obj, "from_logits", None)
        if isinstance(from_logits, (bool, np.bool_)):
            info["from_logits"] = bool(from_logits)
        fn_name = getattr(obj, "name", None)
        if isinstance(fn_name, str):
            info["fn_name"] = fn_name[:100]
        inner = getattr(obj, "fn", None)  # keras LossFunctionWrapper around a plain function
        if callable(inner) and isinstance(getattr(inner, "__name__", None), str):
            info["fn_name"] = inner.__name__[:100]
            kwargs = getattr(obj, "_fn_kwargs", None)
            if isinstance(kwargs, dict) and isinstance(kwargs.get("from_logits"), bool):
                info.setdefault("from_logits", kwargs["from_logits"])
    except Exception:
        pass
    return info


def _model_loss(user_ns, obj, framework, loss_name):
    """Keras: model.loss (loss1/loss2 as fallback); PyTorch and others: loss1/loss2."""
    if framework == "keras":
        try:
            found = _loss(getattr(obj, "loss", None))
        except Exception as exc:
            found = {"kind": "other", "name": "?", "module": "", "repr": _error(exc)}
        if found is not None:
            found["source"] = "model.loss"
            return found
    found = _loss(user_ns.get(loss_name))
    if found is not None:
        found["source"] = loss_name
    return found


def range_stats(arr):
    """{"ok": True, shape, per-column min/max over finite values, count of non-finite values}."""
    a = np.asarray(arr, dtype=np.float64)
    cols = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(-1, 1)
    cols = cols[:, :MAX_COLUMNS]
    finite_ = np.isfinite(cols)
    big = np.where(finite_, cols, -np.inf).max(axis=0) if cols.size else np.zeros(0)
    small = np.where(finite_, cols, np.inf).min(axis=0) if cols.size else np.zeros(0)
    return {"ok": True, "shape": list(a.shape), "min": [finite(float(v)) for v in small],
            "max": [finite(float(v)) for v in big], "nonfinite": int((~np.isfinite(a)).sum())}


def _column_spread(arr):
    a = np.asarray(arr, dtype=np.float64)
    cols = a.reshape(a.shape[0], -1)[:, :MAX_COLUMNS] if a.ndim >= 1 and a.shape[0] else a.reshape(0, 0)
    with np.errstate(all="ignore"):
        return {"mean": [finite(float(v)) for v in cols.mean(axis=0)],
                "std": [finite(float(v)) for v in cols.std(axis=0)],
                "nonfinite": int((~np.isfinite(a)).sum())}


def _function(user_ns, name):
    """(the student's callable, None) or (None, a failed Call saying why there is none)."""
    fn = user_ns.get(name)
    if fn is None:
        return None, failed("not_defined", f"{name} is not defined")
    if not callable(fn):
        return None, failed("not_callable", f"{name} is not callable")
    return fn, None


def _call(user_ns, name, arg, clock):
    """(array or None, Call) of the student's function `name` on arg."""
    fn, missing = _function(user_ns, name)
    if missing:
        return None, missing
    ok, out = clock.call(lambda: _apply(fn, arg, clock, name))
    if not ok:
        return None, out
    packed = _pack(out)
    return (out if packed["ok"] else None), packed


def _preprocess(user_ns, X, clock):
    """(preprocess(X) or None, {"ok": True, "shape"} or a failed Call)."""
    fn, missing = _function(user_ns, "preprocess")
    if missing:
        return None, missing
    ok, out = clock.call(lambda: _apply(fn, X, clock, "preprocess"))
    if not ok:
        return None, out
    if out.ndim < 1 or out.shape[0] != X.shape[0]:
        return None, failed("bad_shape", f"preprocess returned shape {tuple(out.shape)} for {X.shape[0]} rows")
    return out, {"ok": True, "shape": list(out.shape)}


NOT_CALLED = failed("not_called", "not called: preprocess(X) failed")


def _outputs(model, framework, Z, clock):
    """(raw outputs or None, Call) of a model on preprocessed rows Z (None: preprocess failed)."""
    if Z is None:
        return None, NOT_CALLED
    ok, out = clock.call(lambda: _forward(model, framework, Z))
    if not ok:
        return None, out
    packed = _pack(out)
    return (out if packed["ok"] else None), packed


def _net(user_ns, name, loss_name, Z, spec, clock):
    obj = user_ns.get(name)
    if obj is None:
        return {"present": False}
    framework = _framework(obj)
    info = {"present": True, "framework": framework, "type": type(obj).__name__[:100],
            "loss": _model_loss(user_ns, obj, framework, loss_name)}
    out, info["outputs"] = _outputs(obj, framework, Z, clock)
    if out is None:
        return info
    rows = Z[: int(spec.get("probe_rows", 64))]
    info["probes"] = [{"scale": scale, "outputs": _outputs(obj, framework, rows * float(scale), clock)[1]}
                      for scale in spec.get("probe_scales", [1, 10, 100, 1000, -1000])]
    return info


def _preprocess_train(user_ns, spec, clock):
    train = np.asarray(spec.get("train_X", []), dtype=np.float64)
    if train.ndim != 2 or not train.size:
        return failed("no_input", "the grader sent no training features to probe preprocess with")
    Zt, info = _preprocess(user_ns, train, clock)
    if Zt is None:
        return info
    return {**info, **_column_spread(Zt), "raw_std": [finite(float(v)) for v in train.std(axis=0)[:MAX_COLUMNS]]}


def _t1(user_ns, spec, X, clock):
    result = {"task": "H3P2T1", "preprocess_train": _preprocess_train(user_ns, spec, clock)}
    Z, result["preprocess_hidden"] = _preprocess(user_ns, X, clock)
    result["nets"] = {name: _net(user_ns, name, loss, Z, spec, clock)
                      for name, loss in (("net1", "loss1"), ("net2", "loss2"))}
    return result


def _model(user_ns, Z, clock):
    """({"present", "framework"?, "type"?, "outputs"?: Call}, raw outputs or None)."""
    model = user_ns.get("model")
    if model is None:
        return {"present": False}, None
    framework = _framework(model)
    info = {"present": True, "framework": framework, "type": type(model).__name__[:100]}
    out, info["outputs"] = _outputs(model, framework, Z, clock)
    return info, out


def _extremes(user_ns, spec, X, clock):
    """Range probes: predict and denormalize_output(model(preprocess(.))) on scaled hidden features."""
    model, pre, predict, denorm = (user_ns.get(n) for n in ("model", "preprocess", "predict", "denormalize_output"))
    framework = _framework(model) if model is not None else None
    entries = []
    for scale in spec.get("extreme_scales", [1e3, -1e3, 1e6, -1e6, -1]):
        Xs = X * float(scale)
        entry = {"scale": scale}
        if predict is not None and callable(predict):
            ok, out = clock.call(lambda: _apply(predict, Xs, clock))
            entry["predict"] = range_stats(out) if ok else out
        if model is not None and pre is not None and callable(pre):
            def via_model():
                raw = _forward(model, framework, _apply(pre, Xs, clock))
                return _apply(denorm, raw) if callable(denorm) else raw
            ok, out = clock.call(via_model)
            entry["model"] = range_stats(out) if ok else out
        entries.append(entry)
    return entries


def _t2(user_ns, spec, X, clock):
    result = {"task": "H3P2T2"}
    Z, result["preprocess_hidden"] = _preprocess(user_ns, X, clock)
    result["model"], outputs = _model(user_ns, Z, clock)
    if outputs is not None:
        _, result["denorm_outputs"] = _call(user_ns, "denormalize_output", outputs, clock)
    _, result["predict"] = _call(user_ns, "predict", X, clock)
    Y = spec.get("Y_sample")
    if Y is not None:
        normed, result["normalize"] = _call(user_ns, "normalize_output", np.asarray(Y, dtype=np.float64), clock)
        if normed is not None:
            _, result["roundtrip"] = _call(user_ns, "denormalize_output", normed, clock)
    result["extremes"] = _extremes(user_ns, spec, X, clock)
    return result


def handle(user_ns, spec):
    """The request's extra["part2"]: the Part 2 objects named by the contract, as plain data."""
    task = spec.get("task")
    X = np.asarray(spec.get("hidden_X", []), dtype=np.float64)
    if X.ndim != 2:
        return {"error": f"hidden_X must be 2-D, got shape {tuple(X.shape)}"}
    clock = _Clock(spec.get("seconds", 30), spec.get("budget", 240), spec.get("columns"))
    if task == "H3P2T1":
        result = _t1(user_ns, spec, X, clock)
    elif task == "H3P2T2":
        result = _t2(user_ns, spec, X, clock)
    else:
        return {"error": f"unknown task {task!r}"}
    if clock.notes:
        result["called_with"] = dict(clock.notes)
    return result
