"""What a Part 2 notebook's kernel is asked for: the contract names and the part2 handler's spec.

Only hidden FEATURES enter the spec, never labels. Everything the kernel probes with comes from
here, because a notebook may overwrite data/ in its scratch folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...model import HiddenSet, Request
from ...rubric import Part2Params, Rubric

T1, T2 = "H3P2T1", "H3P2T2"
NAMES = {
    T1: ("preprocess", "net1", "net2", "loss1", "loss2"),
    T2: ("preprocess", "model", "normalize_output", "denormalize_output", "predict"),
}
"""Contract names each task's notebook must leave defined (read with the extraction request)."""


def roundtrip_sample(params: Part2Params) -> np.ndarray:
    """Deterministic [income, age] rows across both ranges for the normalize/denormalize round trip."""
    p = params.H3P2T2
    k = p.roundtrip_rows
    steps = np.arange(k, dtype=np.float64)
    (ilo, ihi), (alo, ahi) = p.ranges.income, p.ranges.age
    income = ilo + (ihi - ilo) * steps / (k - 1)
    age = alo + (ahi - alo) * ((steps * 7) % k) / (k - 1)
    return np.column_stack([income, age])


def training_sample(X: Any, rows: int, seed: int) -> np.ndarray:
    """`rows` training rows drawn without replacement by `seed`, in file order (all of them if fewer)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] <= rows:
        return X
    picked = np.random.default_rng(seed).choice(X.shape[0], size=rows, replace=False)
    return X[np.sort(picked)]


def feature_names(data: HiddenSet | None, d: int) -> tuple[str, ...] | None:
    """The CSV header's feature names of a data set, when it has exactly d of them."""
    names = tuple(getattr(data, "features", ()) or ())
    return names if len(names) == d and all(isinstance(n, str) and n for n in names) else None


def part2_request(task: str, rubric: Rubric, hidden: HiddenSet, train: HiddenSet | None = None) -> Request:
    """The extraction request for one Part 2 notebook: contract names + the "part2" handler's spec.

    `train` is the grader's own copy of the task's training set (read from --data); H3P2T1 sends a
    deterministic sample of its rows (T1Params.train_rows, drawn with the rubric's seed) to observe
    preprocess on. Without it the hidden features stand in: they come from the same generator.
    """
    if task not in NAMES:
        raise ValueError(f"unknown Part 2 task {task!r}; expected {T1} or {T2}")
    params = rubric.part2
    X = np.asarray(hidden.X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"hidden features of {task} must be 2-D, got shape {X.shape}")
    spec: dict[str, Any] = {"task": task, "hidden_X": X.tolist(), "seconds": params.seconds_per_call,
                            "budget": params.budget}
    columns = feature_names(train if train is not None else hidden, X.shape[1])
    if columns is not None:
        spec["columns"] = list(columns)
    if task == T1:
        t1_params = params.H3P2T1
        spec["probe_scales"] = list(t1_params.probe_scales)
        spec["probe_rows"] = t1_params.probe_rows
        source = train.X if train is not None else X
        spec["train_X"] = training_sample(source, t1_params.train_rows, rubric.seed).tolist()
    else:
        spec["extreme_scales"] = list(params.H3P2T2.extreme_scales)
        spec["Y_sample"] = roundtrip_sample(params).tolist()
    return Request(names=NAMES[task], extra={"part2": spec})
