"""Part 2 introspection. Runs INSIDE the student's kernel; never imported by the grader.

extract.py concatenates this source after kernel_side.py in one fresh namespace, so `HANDLERS`,
`_numbers`, `_finite`, `_with_alarm` and `_ProbeTimeout` come from there. This file registers
HANDLERS["part2"]: it looks at the student's models by calling them and hands back plain JSON data
(arrays as {"shape", "flat"}, non-finite floats as "inf"/"-inf"/"nan"). It decides nothing: the grader
(grader/checks/part2.py) judges the data in its own process. Hidden labels never come here, only
hidden features.

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

P2_ERROR_CHARS = 300
P2_MAX_COLUMNS = 200


P2_MAX_NUMBERS = 100_000


def _p2_pack(arr):
    """{"ok": True, "value": numbers} or {"ok": False, "error"} when the array is too large."""
    if arr.size > P2_MAX_NUMBERS:
        return {"ok": False, "error": f"result too large: shape {tuple(arr.shape)}"}
    return {"ok": True, "value": _numbers(arr)}


def _p2_error(exc):
    return f"{type(exc).__name__}: {exc}"[:P2_ERROR_CHARS]


class _P2Clock:
    """Per-call limit inside an overall budget, so a slow notebook costs its own items only."""

    def __init__(self, seconds, budget, columns=None):
        self.seconds = float(seconds)
        self.deadline = time.monotonic() + float(budget)
        self.columns = [str(c)[:100] for c in columns][:P2_MAX_COLUMNS] if isinstance(columns, list) else None
        self.notes = {}
        """Student function -> how it had to be called (a DataFrame instead of an array)."""

    def call(self, fn):
        """-> (True, value) or (False, error text). Student code runs only through here."""
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            return False, "skipped: the time budget of the grader's Part 2 probes ran out"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                try:
                    return True, _with_alarm(fn, min(self.seconds, left))
                except _ProbeTimeout as exc:
                    return False, f"TimeoutError: {exc}"
                except (Exception, SystemExit) as exc:
                    return False, _p2_error(exc)


def _p2_framework(obj):
    """"torch" for a torch.nn.Module, "keras" for a keras.Model, else the type's name (no imports)."""
    for cls in type(obj).__mro__:
        mod = getattr(cls, "__module__", "") or ""
        if cls.__name__ == "Module" and mod.startswith("torch.nn"):
            return "torch"
        if cls.__name__ == "Model" and mod.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
            return "keras"
    return type(obj).__name__


def _p2_heads(parts):
    """Concatenated columns when every part is one (N,) or (N, 1) head of the same N, else None."""
    if len(parts) < 2:
        return None
    cols = [p.reshape(-1, 1) if p.ndim == 1 else p for p in parts]
    if any(c.ndim != 2 or c.shape[1] != 1 or c.shape[0] != cols[0].shape[0] for c in cols):
        return None
    return np.concatenate(cols, axis=1)


def _p2_array(out, first_of_tuple=False):
    """Tensor / array / DataFrame / nested list from the student's code -> float64 ndarray.

    A list (or dict) of one-unit heads with the same rows, as a Keras model with two Dense(1) outputs
    returns, becomes their columns side by side; otherwise a model's (outputs, extras) gives outputs.
    """
    if isinstance(out, dict) and out:
        out = list(out.values())[0] if len(out) == 1 else list(out.values())
    if isinstance(out, (tuple, list)) and out and any(hasattr(v, "shape") for v in out):
        parts = [_p2_array(v) for v in out]
        heads = _p2_heads(parts)
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


def _p2_forward(model, framework, x):
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
        return _p2_array(out, first_of_tuple=True)
    if framework == "keras":
        xx = np.ascontiguousarray(x, dtype=np.float32)
        try:
            out = model(xx, training=False)
        except Exception:
            out = model.predict(xx, verbose=0)
        return _p2_array(out, first_of_tuple=True)
    try:
        return _p2_array(model(x), first_of_tuple=True)
    except Exception:
        if "torch" not in sys.modules:
            raise
        import torch  # a plain function wrapping a torch model

        return _p2_array(model(torch.as_tensor(x, dtype=torch.float32)), first_of_tuple=True)


def _p2_apply(fn, x, clock=None, name=""):
    """Call a student's array function on raw rows x (a NumPy float array, as the contract says).

    If it rejects that, retry on a torch tensor (when torch is loaded), then on a pandas DataFrame with
    the training CSV's column names (when the request gave them): a student who wrote df[["x1", "x2"]]
    loses nothing for it, and the retry is noted for the report.
    """
    try:
        return _p2_array(fn(x.copy()))
    except Exception as first:
        error = first
    if "torch" in sys.modules:
        import torch

        try:
            return _p2_array(fn(torch.as_tensor(x.copy(), dtype=torch.float32)))
        except Exception:
            pass
    columns = getattr(clock, "columns", None)
    if columns and len(columns) == x.shape[-1]:
        try:
            import pandas as pd

            out = _p2_array(fn(pd.DataFrame(x.copy(), columns=list(columns))))
        except Exception:
            raise error from None  # the report shows what the contract's call raised
        if name:
            clock.notes[name] = "a pandas DataFrame with the training CSV's columns " + ", ".join(columns)
        return out
    raise error


def _p2_loss(obj):
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


def _p2_model_loss(user_ns, obj, framework, loss_name):
    """Keras: model.loss (loss1/loss2 as fallback); PyTorch and others: loss1/loss2."""
    if framework == "keras":
        try:
            found = _p2_loss(getattr(obj, "loss", None))
        except Exception as exc:
            found = {"kind": "other", "name": "?", "module": "", "repr": _p2_error(exc)}
        if found is not None:
            found["source"] = "model.loss"
            return found
    found = _p2_loss(user_ns.get(loss_name))
    if found is not None:
        found["source"] = loss_name
    return found


def _p2_stats(arr):
    """Shape, per-column min/max over finite values, and the count of non-finite values."""
    a = np.asarray(arr, dtype=np.float64)
    cols = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(-1, 1)
    cols = cols[:, :P2_MAX_COLUMNS]
    finite = np.isfinite(cols)
    big = np.where(finite, cols, -np.inf).max(axis=0) if cols.size else np.zeros(0)
    small = np.where(finite, cols, np.inf).min(axis=0) if cols.size else np.zeros(0)
    return {"shape": list(a.shape), "min": [_finite(float(v)) for v in small],
            "max": [_finite(float(v)) for v in big], "nonfinite": int((~np.isfinite(a)).sum())}


def _p2_column_spread(arr):
    a = np.asarray(arr, dtype=np.float64)
    cols = a.reshape(a.shape[0], -1)[:, :P2_MAX_COLUMNS] if a.ndim >= 1 and a.shape[0] else a.reshape(0, 0)
    with np.errstate(all="ignore"):
        return {"shape": list(a.shape),
                "mean": [_finite(float(v)) for v in cols.mean(axis=0)],
                "std": [_finite(float(v)) for v in cols.std(axis=0)],
                "nonfinite": int((~np.isfinite(a)).sum())}


def _p2_preprocess(user_ns, X, clock):
    """-> (ndarray or None, {"ok", "error"?, "shape"?})."""
    fn = user_ns.get("preprocess")
    if fn is None or not callable(fn):
        return None, {"ok": False, "error": "preprocess is not defined" if fn is None else "preprocess is not callable"}
    ok, out = clock.call(lambda: _p2_apply(fn, X, clock, "preprocess"))
    if not ok:
        return None, {"ok": False, "error": out}
    if out.ndim < 1 or out.shape[0] != X.shape[0]:
        return None, {"ok": False, "error": f"preprocess returned shape {tuple(out.shape)} for {X.shape[0]} rows"}
    return out, {"ok": True, "shape": list(out.shape)}


def _p2_net(user_ns, name, loss_name, Z, spec, clock):
    obj = user_ns.get(name)
    if obj is None:
        return {"present": False}
    framework = _p2_framework(obj)
    info = {"present": True, "framework": framework, "type": type(obj).__name__[:100],
            "loss": _p2_model_loss(user_ns, obj, framework, loss_name)}
    if Z is None:
        info["error"] = "not called: preprocess(X) failed"
        return info
    ok, out = clock.call(lambda: _p2_forward(obj, framework, Z))
    if not ok:
        info["error"] = out
        return info
    packed = _p2_pack(out)
    if not packed["ok"]:
        info["error"] = packed["error"]
        return info
    info["outputs"] = packed["value"]
    rows = Z[: int(spec.get("probe_rows", 64))]
    probes = []
    for scale in spec.get("probe_scales", [1, 10, 100, 1000, -1000]):
        ok, got = clock.call(lambda: _p2_forward(obj, framework, rows * float(scale)))
        packed = _p2_pack(got) if ok else {"ok": False, "error": got}
        probes.append({"scale": scale, "outputs": packed["value"]} if packed["ok"]
                      else {"scale": scale, "error": packed["error"]})
    info["probes"] = probes
    return info


def _p2_t1(user_ns, spec, X, clock):
    result = {"task": "H3P2T1"}
    train = np.asarray(spec.get("train_X", []), dtype=np.float64)
    if train.ndim != 2 or not train.size:
        result["preprocess_train"] = {"ok": False, "grader": True,
                                      "error": "the grader sent no training features to probe preprocess with"}
    else:
        Zt, info = _p2_preprocess(user_ns, train, clock)
        if Zt is not None:
            info.update(_p2_column_spread(Zt))
            info["raw_std"] = [_finite(float(v)) for v in train.std(axis=0)[:P2_MAX_COLUMNS]]
        result["preprocess_train"] = info
    Z, result["preprocess_hidden"] = _p2_preprocess(user_ns, X, clock)
    result["nets"] = {name: _p2_net(user_ns, name, loss, Z, spec, clock)
                      for name, loss in (("net1", "loss1"), ("net2", "loss2"))}
    return result


def _p2_t2(user_ns, spec, X, clock):
    result = {"task": "H3P2T2"}
    model = user_ns.get("model")
    pre = user_ns.get("preprocess")
    predict = user_ns.get("predict")
    norm = user_ns.get("normalize_output")
    denorm = user_ns.get("denormalize_output")
    framework = _p2_framework(model) if model is not None else None
    info = {"present": model is not None}
    Z, result["preprocess_hidden"] = _p2_preprocess(user_ns, X, clock)
    outputs = None
    if model is not None:
        info.update(framework=framework, type=type(model).__name__[:100])
        if Z is None:
            info["error"] = "not called: preprocess(X) failed"
        else:
            ok, out = clock.call(lambda: _p2_forward(model, framework, Z))
            packed = _p2_pack(out) if ok else {"ok": False, "error": out}
            if packed["ok"]:
                outputs = out
                info["outputs"] = packed["value"]
            else:
                info["error"] = packed["error"]
    result["model"] = info

    def call(fn, name, arg):
        if fn is None or not callable(fn):
            return None, {"ok": False, "error": f"{name} is not defined" if fn is None else f"{name} is not callable"}
        ok, out = clock.call(lambda: _p2_apply(fn, arg, clock, name))
        if not ok:
            return None, {"ok": False, "error": out}
        packed = _p2_pack(out)
        return (out if packed["ok"] else None), packed

    if outputs is not None:
        _, result["denorm_outputs"] = call(denorm, "denormalize_output", outputs)
    _, result["predict"] = call(predict, "predict", X)
    Y = spec.get("Y_sample")
    if Y is not None:
        Y = np.asarray(Y, dtype=np.float64)
        normed, result["normalize"] = call(norm, "normalize_output", Y)
        if normed is not None:
            _, result["roundtrip"] = call(denorm, "denormalize_output", normed)

    extremes = []
    for scale in spec.get("extreme_scales", [1e3, -1e3, 1e6, -1e6, -1]):
        Xs = X * float(scale)
        entry = {"scale": scale}
        if predict is not None and callable(predict):
            ok, out = clock.call(lambda: _p2_apply(predict, Xs, clock))
            entry["predict"] = _p2_stats(out) if ok else {"error": out}
        if model is not None and pre is not None and callable(pre):
            def via_model():
                raw = _p2_forward(model, framework, _p2_apply(pre, Xs, clock))
                return _p2_apply(denorm, raw) if callable(denorm) else raw
            ok, out = clock.call(via_model)
            entry["model"] = _p2_stats(out) if ok else {"error": out}
        extremes.append(entry)
    result["extremes"] = extremes
    return result


def part2(user_ns, spec):
    """HANDLERS["part2"]: introspect the Part 2 objects named by the contract, return plain data."""
    task = spec.get("task")
    X = np.asarray(spec.get("hidden_X", []), dtype=np.float64)
    if X.ndim != 2:
        return {"error": f"hidden_X must be 2-D, got shape {tuple(X.shape)}"}
    clock = _P2Clock(spec.get("seconds", 30), spec.get("budget", 240), spec.get("columns"))
    if task == "H3P2T1":
        result = _p2_t1(user_ns, spec, X, clock)
    elif task == "H3P2T2":
        result = _p2_t2(user_ns, spec, X, clock)
    else:
        return {"error": f"unknown task {task!r}"}
    if clock.notes:
        result["called_with"] = dict(clock.notes)
    return result


HANDLERS["part2"] = part2
