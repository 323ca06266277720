"""The Part 2 data generators and CSV files (fast: no training beyond a tiny numpy logistic regression)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader import datasets
from grader.model import HiddenSet

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("make", [datasets.make_t1, datasets.make_t2], ids=["t1", "t2"])
def test_same_seed_same_data_other_seed_other_data(make):
    X1, y1 = make(7, 300)
    X2, y2 = make(7, 300)
    X3, _ = make(8, 300)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.allclose(X1, X3)


def test_t1_shapes_labels_and_balance():
    X, y = datasets.make_t1(datasets.TRAIN_SEED, 2000)
    assert X.shape == (2000, 5) and X.dtype == np.float64
    assert y.shape == (2000,) and set(np.unique(y)) == {0, 1}
    assert 0.4 < y.mean() < 0.6


def test_t1_features_on_very_different_scales():
    X, _ = datasets.make_t1(datasets.TRAIN_SEED, 2000)
    std = X.std(axis=0)
    assert std.max() / std.min() > 1e6
    assert 0 <= X[:, 0].min() and X[:, 0].max() <= 1
    assert 0 <= X[:, 1].min() and X[:, 1].max() <= 1000


def _logistic_accuracy(X, y, steps=300, lr=0.5):
    Z = np.column_stack([(X - X.mean(0)) / X.std(0), np.ones(len(X))])
    w = np.zeros(Z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-Z @ w))
        w -= lr * Z.T @ (p - y) / len(y)
    return np.mean((Z @ w > 0) == y)


def test_t1_is_not_linearly_separable():
    X, y = datasets.make_t1(datasets.TRAIN_SEED, 2000)
    assert _logistic_accuracy(X, y) < 0.7


def test_t2_shapes_and_ranges_reach_both_ends():
    X, Y = datasets.make_t2(datasets.TRAIN_SEED, 2000)
    assert X.shape == (2000, 5) and Y.shape == (2000, 2)
    income, age = Y[:, 0], Y[:, 1]
    assert 0 <= income.min() and income.max() <= 10000
    assert 0 <= age.min() and age.max() <= 100
    assert income.min() < 100 and income.max() > 9900
    assert age.min() < 1 and age.max() > 99
    assert np.abs(X).max() < 1000  # moderate feature scales


def test_csv_round_trip(tmp_path):
    written = datasets.write_datasets(tmp_path / "train", tmp_path / "hidden", 1, 2, n_train=50, n_hidden=30)
    assert sorted(p.name for p in written) == sorted(
        ["H3P2T1_train.csv", "H3P2T2_train.csv", "H3P2T1_test.csv", "H3P2T2_test.csv"]
    )
    hidden = datasets.load_hidden(tmp_path / "hidden")
    assert set(hidden) == {"H3P2T1", "H3P2T2"}
    t1, t2 = hidden["H3P2T1"], hidden["H3P2T2"]
    assert isinstance(t1, HiddenSet) and t1.task == "H3P2T1"
    X, y = datasets.make_t1(2, 30)
    assert t1.X.shape == (30, 5) and t1.X.dtype == np.float64
    assert np.allclose(t1.X, X, rtol=1e-5) and np.array_equal(t1.y, y) and t1.y.dtype == np.int64
    X, Y = datasets.make_t2(2, 30)
    assert t2.X.shape == (30, 5) and t2.y.shape == (30, 2)
    assert np.allclose(t2.X, X, rtol=1e-5) and np.allclose(t2.y, Y, rtol=1e-5)
    header = (tmp_path / "train" / "H3P2T1_train.csv").read_text().splitlines()[0]
    assert header == "x1,x2,x3,x4,x5,label"
    header = (tmp_path / "train" / "H3P2T2_train.csv").read_text().splitlines()[0]
    assert header == "x1,x2,x3,x4,x5,income,age"


def test_same_seeds_rejected(tmp_path):
    with pytest.raises(ValueError, match="differ"):
        datasets.write_datasets(tmp_path / "a", tmp_path / "b", 5, 5)


def test_load_hidden_skips_absent_files(tmp_path):
    assert datasets.load_hidden(tmp_path) == {}


def test_committed_files_match_the_generator(tmp_path):
    """reference/data and rubrics/hidden are what `write_datasets` makes from the default seeds."""
    datasets.write_datasets(tmp_path / "train", tmp_path / "hidden")
    for ours, committed in (
        (tmp_path / "train" / "H3P2T1_train.csv", ROOT / "reference/data/H3P2T1_train.csv"),
        (tmp_path / "train" / "H3P2T2_train.csv", ROOT / "reference/data/H3P2T2_train.csv"),
        (tmp_path / "hidden" / "H3P2T1_test.csv", ROOT / "rubrics/hidden/H3P2T1_test.csv"),
        (tmp_path / "hidden" / "H3P2T2_test.csv", ROOT / "rubrics/hidden/H3P2T2_test.csv"),
    ):
        assert ours.read_bytes() == committed.read_bytes(), committed
    hidden = datasets.load_hidden(ROOT / "rubrics/hidden")
    assert hidden["H3P2T1"].X.shape == (1000, 5) and hidden["H3P2T2"].y.shape == (1000, 2)


@pytest.mark.parametrize("task", ["H3P2T1", "H3P2T2"], ids=["t1", "t2"])
def test_a_training_csv_reads_with_its_header_names(task):
    """The grader's own copy of the training set (--data) is what the Part 2 probes are built from."""
    train = datasets.read_task(ROOT / "reference" / "data" / f"{task}_train.csv", task)
    assert train.features == ("x1", "x2", "x3", "x4", "x5")
    assert train.X.shape == (datasets.N_TRAIN, 5)
