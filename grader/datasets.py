"""The Part 2 data: deterministic generators, CSV files, and the hidden test sets.

Both tasks are synthetic and drawn from ``numpy.random.default_rng(seed)``, so one seed always gives
the same file. The handout ships a training set made from ``TRAIN_SEED``; the grader keeps a hidden
test set made from another seed. The one committed under ``rubrics/hidden/`` uses ``HIDDEN_SEED``;
an instructor who wants a private hidden set writes one with their own seed
(``write_datasets(..., hidden_seed=<secret>)``) to a folder outside the repository and passes that
folder to the grader as ``--hidden``.

H3P2T1 (classification): five features on very different scales (0..1, 0..1000, N(0, 1e4),
N(50, 5), N(0.002, 0.0005)); the label is a ring in two standardized features plus an XOR-like
product of two others, with 2% of the labels flipped. A small MLP on standardized inputs learns it;
a linear model does not; an MLP on raw inputs does measurably worse.

H3P2T2 (regression): five features on moderate scales; ``income`` (0..10000) and ``age`` (0..100)
are non-linear in them and squashed by a sigmoid, so both reach close to each end of their range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import TARGET_RANGES, TARGETS, HiddenSet

TRAIN_SEED = 3
"""Seed of the training sets shipped with the handout (reference/data/)."""
HIDDEN_SEED = 20261125
"""Seed of the hidden sets committed under rubrics/hidden/ (an instructor uses a private one)."""
N_TRAIN = 2000
N_HIDDEN = 1000

T1_FEATURES = ("x1", "x2", "x3", "x4", "x5")
T2_FEATURES = ("x1", "x2", "x3", "x4", "x5")
T2_TARGETS = TARGETS
T2_RANGES = tuple(TARGET_RANGES.values())
"""Known range of each T2 target, in the order of T2_TARGETS."""

# Population mean and std of each T1 feature (the rule is written on these standardized values).
_T1_MEAN = np.array([0.5, 500.0, 0.0, 50.0, 0.002])
_T1_STD = np.array([1 / np.sqrt(12), 1000 / np.sqrt(12), 1.0e4, 5.0, 0.0005])
_T1_THRESHOLD = 1.715
"""Median of the T1 score over the population, so that the two classes are about balanced."""
_T1_FLIP = 0.02

_T2_MEAN = np.array([10.0, 40.0, 0.0, 0.0, 5.0])
_T2_STD = np.array([20 / np.sqrt(12), 80 / np.sqrt(12), 1.0, 2 / np.sqrt(12), 2.0])

FILES = {"H3P2T1": ("H3P2T1_train.csv", "H3P2T1_test.csv"), "H3P2T2": ("H3P2T2_train.csv", "H3P2T2_test.csv")}
"""Task -> (training file name, hidden file name)."""


def _t1_score(s: np.ndarray) -> np.ndarray:
    """The T1 rule on standardized features: a ring in (s1, s3) bent by an XOR-like s2*s5 term."""
    return s[:, 0] ** 2 + s[:, 2] ** 2 + 0.75 * s[:, 1] * s[:, 4]


def make_t1(seed: int, n: int = N_TRAIN) -> tuple[np.ndarray, np.ndarray]:
    """H3P2T1 data: features X float64 (n, 5) and labels y int64 (n,) of 0/1."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.uniform(0.0, 1.0, n),
            rng.uniform(0.0, 1000.0, n),
            rng.normal(0.0, 1.0e4, n),
            rng.normal(50.0, 5.0, n),
            rng.normal(0.002, 0.0005, n),
        ]
    )
    s = (X - _T1_MEAN) / _T1_STD
    y = (_t1_score(s) < _T1_THRESHOLD).astype(np.int64)
    flip = rng.random(n) < _T1_FLIP
    y[flip] = 1 - y[flip]
    return X, y


def make_t2(seed: int, n: int = N_TRAIN) -> tuple[np.ndarray, np.ndarray]:
    """H3P2T2 data: features X float64 (n, 5) and targets Y float64 (n, 2) = [income, age]."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.uniform(0.0, 20.0, n),  # e.g. years of education
            rng.uniform(0.0, 80.0, n),  # e.g. hours worked per week
            rng.normal(0.0, 1.0, n),
            rng.uniform(-1.0, 1.0, n),
            rng.normal(5.0, 2.0, n),
        ]
    )
    s = (X - _T2_MEAN) / _T2_STD
    a = 1.6 * s[:, 0] + 1.2 * np.sin(1.5 * s[:, 2]) + 0.9 * s[:, 1] * s[:, 3] + 0.4 * s[:, 4] ** 2 - 0.4
    b = 1.8 * s[:, 4] + 1.0 * np.cos(1.2 * s[:, 0]) + 0.6 * s[:, 1] - 0.5 * s[:, 2] * s[:, 3] - 0.6
    a = a + rng.normal(0.0, 0.1, n)
    b = b + rng.normal(0.0, 0.1, n)
    (ilo, ihi), (alo, ahi) = T2_RANGES
    income = ilo + (ihi - ilo) / (1.0 + np.exp(-1.3 * a))
    age = alo + (ahi - alo) / (1.0 + np.exp(-1.3 * b))
    Y = np.column_stack([income, age])
    Y = np.clip(np.round(Y, 2), [ilo, alo], [ihi, ahi])
    return X, Y


def write_csv(path: Path, X: np.ndarray, y: np.ndarray, features: tuple[str, ...], targets: tuple[str, ...]) -> None:
    """Write features then targets with compact formatting ('%.6g'; integer labels as integers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    y2 = y.reshape(len(y), -1)
    is_int = np.issubdtype(y2.dtype, np.integer)
    lines = [",".join(features + targets)]
    for row, t in zip(X, y2):
        cells = [f"{v:.6g}" for v in row]
        cells += [str(int(v)) for v in t] if is_int else [f"{v:.6g}" for v in t]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Header and float64 data of one of our CSV files."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    return header, data


def read_task(path: Path, task: str) -> HiddenSet:
    """One task's CSV (hidden or training) as a HiddenSet: X (N, d) float64; y (N,) int64 for H3P2T1,
    (N, 2) float64 for H3P2T2; features from its header."""
    header, data = read_csv(path)
    if task == "H3P2T1":
        if header[-1] != "label":
            raise ValueError(f"{path}: last column must be 'label', found {header[-1]!r}")
        return HiddenSet(task=task, X=data[:, :-1].copy(), y=data[:, -1].astype(np.int64),
                         features=tuple(header[:-1]))
    if task == "H3P2T2":
        if tuple(header[-2:]) != T2_TARGETS:
            raise ValueError(f"{path}: last columns must be 'income,age', found {header[-2:]}")
        return HiddenSet(task=task, X=data[:, :-2].copy(), y=data[:, -2:].copy(), features=tuple(header[:-2]))
    raise ValueError(f"unknown Part 2 task {task!r}")


def load_hidden(path_folder: Path) -> dict[str, HiddenSet]:
    """The hidden test sets in a folder (H3P2T1_test.csv, H3P2T2_test.csv), by task; absent files are skipped."""
    folder = Path(path_folder)
    out: dict[str, HiddenSet] = {}
    for task, (_, hidden_name) in FILES.items():
        path = folder / hidden_name
        if path.is_file():
            out[task] = read_task(path, task)
    return out


def write_datasets(
    train_dir: Path | None,
    hidden_dir: Path | None,
    train_seed: int = TRAIN_SEED,
    hidden_seed: int = HIDDEN_SEED,
    n_train: int = N_TRAIN,
    n_hidden: int = N_HIDDEN,
) -> list[Path]:
    """Write the training CSVs to train_dir and the hidden ones to hidden_dir (either may be None).

    Returns the paths written. The two seeds must differ, or the hidden set would repeat the training set.
    """
    if train_dir is not None and hidden_dir is not None and train_seed == hidden_seed:
        raise ValueError("the hidden seed must differ from the training seed")
    written: list[Path] = []
    for folder, seed, n, which in ((train_dir, train_seed, n_train, 0), (hidden_dir, hidden_seed, n_hidden, 1)):
        if folder is None:
            continue
        folder = Path(folder)
        X, y = make_t1(seed, n)
        p = folder / FILES["H3P2T1"][which]
        write_csv(p, X, y, T1_FEATURES, ("label",))
        written.append(p)
        X, Y = make_t2(seed, n)
        p = folder / FILES["H3P2T2"][which]
        write_csv(p, X, Y, T2_FEATURES, T2_TARGETS)
        written.append(p)
    return written


def main(
    train_dir: Path | None = Path("reference/data"),
    hidden_dir: Path | None = Path("rubrics/hidden"),
    train_seed: int = TRAIN_SEED,
    hidden_seed: int = HIDDEN_SEED,
) -> list[Path]:
    """Entry point for `grader make-data`: the defaults rewrite the committed files."""
    return write_datasets(train_dir, hidden_dir, train_seed, hidden_seed)


if __name__ == "__main__":  # pragma: no cover
    for p in main():
        print(p)
