"""Write every Part 2 notebook the project ships: references, templates and the sample class.

    python reference/build_part2_notebooks.py            # from the repository root

Sources live here, one function per notebook, with the common parts shared. Cells get fixed ids and no
outputs, so a re-run writes byte-identical files. The sample class's notebooks are the reference code
with ONE deliberate mistake each (the ``bug`` argument); which student gets which scenario is the
SCENARIOS table below, and tests/e2e/expected_part2.md says, by hand, what each one should lose.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"
SUBMISSIONS = ROOT / "submissions"

# Student id (submissions/roster.csv) -> Part 2 scenario (SCENARIOS below). Students not named here
# hand in no Part 2 notebook. Each student makes at most one mistake in Part 2, so every verdict can be
# decided by hand (tests/e2e/expected_part2.md).
STUDENTS: dict[str, str] = {
    "alice": "both_clean",
    "bob": "softmax_ce",
    "carol": "no_input_norm",
    "dave": "net2_one_unit",
    "erin": "no_output_norm",
    "frank": "linear_output",
    "grace": "predict_1d",
    "heidi": "one_framework",
    "ivan": "both_keras_crash",
    "judy": "keras_only",
    "ken": "from_logits_softmax",
    "liam": "t1_only",
}


# --------------------------------------------------------------------------------------------------
# Notebook plumbing
# --------------------------------------------------------------------------------------------------

def _md(text: str) -> tuple[str, str]:
    return ("markdown", text.strip("\n"))


def _code(text: str) -> tuple[str, str]:
    return ("code", text.strip("\n"))


def _notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A v4.5 notebook with fixed cell ids (c00, c01, ...) and no outputs."""
    nb = new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, src) in enumerate(cells):
        cell = new_markdown_cell(src) if kind == "markdown" else new_code_cell(src)
        cell["id"] = f"c{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def _write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Shared text
# --------------------------------------------------------------------------------------------------

T1_TASK = """
# H3P2T1 — Classification with two networks ({framework})

The file `data/H3P2T1_train.csv` holds 2000 samples with five features `x1 … x5` on **very different
scales** and a `label` column (0 or 1). Train two networks that differ only in their output layer:

- **Net-1**, trained with **binary cross-entropy**;
- **Net-2**, trained with **cross-entropy** over the two classes.

The grader evaluates both networks on a hidden test set. At the end, the notebook must leave defined:

| name | what |
|---|---|
| `preprocess(X)` | raw features, a NumPy array (N, 5) → the input of the networks (your input normalization) |
| `net1` | the trained Net-1 |
| `net2` | the trained Net-2 |
{torch_rows}
"""

T1_TORCH_ROWS = """| `loss1`, `loss2` | the PyTorch loss modules used to train `net1` and `net2` |"""

T2_TASK = """
# H3P2T2 — Regression of income and age ({framework})

The file `data/H3P2T2_train.csv` holds 2000 samples with five features `x1 … x5` and two targets:
`income` (monthly, between 0 and 10,000) and `age` (between 0 and 100). Train one network with two
outputs that predicts both.

The grader evaluates the network on a hidden test set, and also feeds it extreme inputs: predictions
must always stay inside [0, 10000] × [0, 100]. At the end, the notebook must leave defined:

| name | what |
|---|---|
| `preprocess(X)` | raw features, a NumPy array (N, 5) → the input of the network |
| `model` | the trained network (two outputs) |
| `normalize_output(Y)` | targets (N, 2) `[income, age]` → the scale the network is trained on |
| `denormalize_output(Yn)` | the inverse of `normalize_output` |
| `predict(X)` | raw features (N, 5) → NumPy array (N, 2) `[income, age]` in original units |
"""

LOAD_T1 = """
import numpy as np

data = np.loadtxt("data/H3P2T1_train.csv", delimiter=",", skiprows=1)
X_train, y_train = data[:, :-1], data[:, -1].astype(np.int64)
print(X_train.shape, "class balance:", y_train.mean().round(3))
print("feature means:", X_train.mean(axis=0))
print("feature stds: ", X_train.std(axis=0))
"""

LOAD_T2 = """
import numpy as np

data = np.loadtxt("data/H3P2T2_train.csv", delimiter=",", skiprows=1)
X_train, Y_train = data[:, :-2], data[:, -2:]
print(X_train.shape, Y_train.shape)
print("income range:", Y_train[:, 0].min(), Y_train[:, 0].max())
print("age range:   ", Y_train[:, 1].min(), Y_train[:, 1].max())
"""

PREPROCESS_MD = """
## Input normalization

The features live on wildly different scales (one in 0..1, one with a standard deviation of 10,000, one
of about 0.0005). Fed raw, the large ones dominate the first layer and training crawls. Standardize
each feature with the **training** mean and standard deviation; the same function is applied to any
new data.
"""

PREPROCESS = """
X_mean = X_train.mean(axis=0)
X_std = X_train.std(axis=0)


def preprocess(X):
    \"\"\"Standardize raw features with the training mean and std.\"\"\"
    X = np.asarray(X, dtype=np.float64)
    return ((X - X_mean) / X_std).astype(np.float32)


X_in = preprocess(X_train)
print("after preprocess: means", X_in.mean(axis=0).round(3), "stds", X_in.std(axis=0).round(3))
"""

PREPROCESS_BUG_IDENTITY = """
# the networks can learn the scales themselves
def preprocess(X):
    return np.asarray(X, dtype=np.float32)


X_in = preprocess(X_train)
"""

OUTPUT_NORM_MD = """
## Output normalization

Income (0..10,000) and age (0..100) differ by a factor of 100: with a plain MSE on raw values, the
income error would swamp the age error, and the large raw targets make training unstable. Both ranges
are known, so min-max scale each target to [0, 1]. A **sigmoid** output layer then matches that range
and also guarantees that de-normalized predictions stay inside [0, 10000] × [0, 100], whatever the input.
"""

OUTPUT_NORM = """
Y_MIN = np.array([0.0, 0.0])
Y_MAX = np.array([10000.0, 100.0])


def normalize_output(Y):
    \"\"\"[income, age] in original units -> [0, 1] each.\"\"\"
    return (np.asarray(Y, dtype=np.float64) - Y_MIN) / (Y_MAX - Y_MIN)


def denormalize_output(Yn):
    \"\"\"Inverse of normalize_output.\"\"\"
    return np.asarray(Yn, dtype=np.float64) * (Y_MAX - Y_MIN) + Y_MIN


Yn_train = normalize_output(Y_train).astype(np.float32)
assert np.allclose(denormalize_output(Yn_train), Y_train, atol=1e-3)
"""

OUTPUT_NORM_BUG_IDENTITY = """
# the targets are already numbers, no need to rescale them
def normalize_output(Y):
    return np.asarray(Y, dtype=np.float64)


def denormalize_output(Yn):
    return np.asarray(Yn, dtype=np.float64)


Yn_train = normalize_output(Y_train).astype(np.float32)
"""

T2_TRAIN_MAE = """
P_train = predict(X_train)
print("predictions:", P_train.shape)
print("training MAE  income: %.1f   age: %.2f" % tuple(np.abs(P_train - Y_train).mean(axis=0)))
for scale in (1e6, -1e6):
    P = predict(X_train[:5] * scale)
    print(f"X * {scale:g}: income in [{P[:, 0].min():.1f}, {P[:, 0].max():.1f}],",
          f"age in [{P[:, 1].min():.2f}, {P[:, 1].max():.2f}]")
"""


# --------------------------------------------------------------------------------------------------
# How real students write it (issue 8 §1): the same computations in the idioms of a course notebook.
# Each idiom keeps the numbers of the reference code (pandas parses these CSVs to the same float64 as
# np.loadtxt; StandardScaler standardizes with the same mean and ddof-0 std), so a student's planted
# mistake, and only that, decides what they lose.
# --------------------------------------------------------------------------------------------------

IDIOMS = frozenset({
    "pandas",         # pd.read_csv, feature columns by name
    "scaler",         # sklearn StandardScaler instead of a hand-written standardization
    "df_preprocess",  # preprocess takes a DataFrame and picks its columns by name (df[FEATURES])
    "split",          # train_test_split: train on 80 %, report validation accuracy
    "shuffle_over",   # saves a shuffled copy (with pandas' index column) over data/<task>_train.csv
    "shuffle_copy",   # saves a shuffled copy to data/shuffled.csv
    "tqdm",           # a progress bar over the epochs
    "device",         # device = "cuda" if torch.cuda.is_available() else "cpu"
    "plot",           # %matplotlib inline, a loss curve, plt.show()
    "checkpoint",     # torch.save / model.save into the working folder
    "two_heads",      # Keras T2: two Dense(1) heads instead of one Dense(2)
})


def _load_pandas(task: str, targets: tuple[str, ...], style: frozenset[str]) -> str:
    """The data cell of a student who uses pandas; X_train stays a DataFrame for a DataFrame preprocess."""
    y = '["label"].to_numpy().astype(np.int64)' if targets == ("label",) else f"[{list(targets)!r}].to_numpy()"
    x = "df[FEATURES]" if "df_preprocess" in style else "df[FEATURES].to_numpy()"
    lines = [
        "import numpy as np",
        "import pandas as pd",
        "",
        f'df = pd.read_csv("data/{task}_train.csv")',
        f"FEATURES = [c for c in df.columns if c not in {list(targets)!r}]",
        f"X_train, {'y_train' if targets == ('label',) else 'Y_train'} = {x}, df{y}",
        "print(df.shape)",
        "df.describe()",
    ]
    if "shuffle_over" in style:
        lines[-2:-2] = ["# keep a shuffled copy of the data for the next runs",
                        f'df.sample(frac=1, random_state=0).to_csv("data/{task}_train.csv")']
    if "shuffle_copy" in style:
        lines[-2:-2] = ['df.sample(frac=1).to_csv("data/shuffled.csv")  # shuffled copy for later']
    return "\n".join(lines)


SPLIT_T1 = """
from sklearn.model_selection import train_test_split

X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=0.2, random_state=0,
                                                  stratify=y_train)
print("train", X_train.shape, "validation", X_val.shape)
"""

PREPROCESS_SCALER = """
from sklearn.preprocessing import StandardScaler

scaler = StandardScaler().fit(X_train)


def preprocess(X):
    \"\"\"Standardize with the training mean and std (sklearn).\"\"\"
    return scaler.transform(np.asarray(X, dtype=np.float64)).astype(np.float32)


X_in = preprocess(X_train)
print("after preprocess: means", X_in.mean(axis=0).round(3), "stds", X_in.std(axis=0).round(3))
"""

PREPROCESS_SCALER_DF = """
from sklearn.preprocessing import StandardScaler

scaler = StandardScaler().fit(X_train)


def preprocess(df):
    \"\"\"Standardize the feature columns of a DataFrame with the training mean and std.\"\"\"
    return scaler.transform(df[FEATURES]).astype(np.float32)


X_in = preprocess(X_train)
print("after preprocess: means", X_in.mean(axis=0).round(3), "stds", X_in.std(axis=0).round(3))
"""


def _load(task: str, style: frozenset[str]) -> str:
    if "pandas" not in style:
        return LOAD_T1 if task == "H3P2T1" else LOAD_T2
    return _load_pandas(task, ("label",) if task == "H3P2T1" else ("income", "age"), style)


def _preprocess(style: frozenset[str], bug: str | None = None) -> str:
    if bug == "no_input_norm":
        return PREPROCESS_BUG_IDENTITY
    if "scaler" in style:
        return PREPROCESS_SCALER_DF if "df_preprocess" in style else PREPROCESS_SCALER
    return PREPROCESS


def _plot(curves: str, ylabel: str = "training loss") -> str:
    """A loss-curve cell; curves is source text: (label, sequence) pairs."""
    return f"""
%matplotlib inline
import matplotlib.pyplot as plt

for label, curve in {curves}:
    plt.plot(curve, label=label)
plt.xlabel("epoch")
plt.ylabel("{ylabel}")
plt.legend()
plt.show()
"""


# --------------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------------

TORCH_SETUP = """
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
"""

T1_TORCH_TRAIN = """
def train(net, loss_fn, X, y, epochs=60, lr=1e-2, batch_size=64, seed=0):
    \"\"\"Mini-batch Adam; deterministic for a given seed.\"\"\"
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
    net.eval()
    return loss.item()
"""


def _torch_setup(style: frozenset[str]) -> str:
    lines = [TORCH_SETUP.strip("\n")]
    if "tqdm" in style:
        lines.insert(0, "from tqdm import tqdm")
    if "device" in style:
        lines.append('device = "cuda" if torch.cuda.is_available() else "cpu"\nprint("training on", device)')
    if "plot" in style:
        lines.append("curves = []  # training loss per epoch, one list per network")
    return "\n".join(lines)


def _torch_loop(text: str, style: frozenset[str]) -> str:
    """A PyTorch training function in a student's idioms; the arithmetic is the reference's."""
    out = []
    for line in text.strip("\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith("opt = torch.optim.Adam") and "device" in style:
            out.append("    net.to(device)")
        if stripped == "for epoch in range(epochs):" and "tqdm" in style:
            line = line.replace("range(epochs)", 'tqdm(range(epochs), desc="epochs", leave=False)')
        if stripped == "net.eval()" and "plot" in style:
            out.append("    curves.append(curve)")
        out.append(line)
        if stripped == "net.train()" and "plot" in style:
            out.append("    curve = []")
        if stripped == "for xb, yb in loader:" and "device" in style:
            out.append("            xb, yb = xb.to(device), yb.to(device)")
        if stripped == "opt.step()" and "plot" in style:
            out.append("        curve.append(loss.item())")
    return "\n".join(out)


T1_TORCH_MODEL_MD = """
## The two networks

Same body (two hidden layers of 32 ReLU units); only the output layer differs.

- Net-1 has **one** output unit. It outputs a logit, and `nn.BCEWithLogitsLoss` applies the sigmoid
  inside the loss (numerically safer than a `Sigmoid` layer followed by `nn.BCELoss`). The probability
  of class 1 is `sigmoid(net1(x))`.
- Net-2 has **two** output units, one logit per class. `nn.CrossEntropyLoss` applies log-softmax itself,
  so the network must **not** end in a softmax. Class probabilities are `softmax(net2(x))`.
"""

T1_TORCH_MODEL = """
class MLP(nn.Module):
    def __init__(self, n_in, n_out, hidden=32):
        super().__init__()
        self.hidden1 = nn.Linear(n_in, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x):
        x = torch.relu(self.hidden1(x))
        x = torch.relu(self.hidden2(x))
        return self.out(x)  # logits: the losses below apply sigmoid / softmax themselves


{train}


Xt = torch.tensor(X_in)
"""

T1_TORCH_NET1 = """
torch.manual_seed(0)
net1 = MLP(X_in.shape[1], 1)
loss1 = nn.BCEWithLogitsLoss()
t0 = time.time()
last = train(net1, loss1, Xt, torch.tensor(y_train, dtype=torch.float32).unsqueeze(1))
with torch.no_grad():
    pred1 = (torch.sigmoid(net1(Xt)).squeeze(1) > 0.5).numpy()
print(f"net1: last batch loss {last:.3f}, training accuracy {np.mean(pred1 == y_train):.3f} ({time.time() - t0:.1f} s)")
"""

T1_TORCH_NET2 = """
torch.manual_seed(0)
net2 = MLP(X_in.shape[1], 2)
loss2 = nn.CrossEntropyLoss()
t0 = time.time()
last = train(net2, loss2, Xt, torch.tensor(y_train, dtype=torch.int64))
with torch.no_grad():
    pred2 = net2(Xt).argmax(dim=1).numpy()
print(f"net2: last batch loss {last:.3f}, training accuracy {np.mean(pred2 == y_train):.3f} ({time.time() - t0:.1f} s)")
"""

# A softmax layer in front of nn.CrossEntropyLoss (which applies log-softmax again).
T1_TORCH_NET2_BUG_SOFTMAX = """
torch.manual_seed(0)
net2 = nn.Sequential(MLP(X_in.shape[1], 2), nn.Softmax(dim=1))  # output class probabilities
loss2 = nn.CrossEntropyLoss()
t0 = time.time()
last = train(net2, loss2, Xt, torch.tensor(y_train, dtype=torch.int64))
with torch.no_grad():
    pred2 = net2(Xt).argmax(dim=1).numpy()
print(f"net2: last batch loss {last:.3f}, training accuracy {np.mean(pred2 == y_train):.3f} ({time.time() - t0:.1f} s)")
"""

# Net-2 built exactly like Net-1: one output unit and binary cross-entropy.
T1_TORCH_NET2_BUG_ONE_UNIT = """
torch.manual_seed(0)
net2 = MLP(X_in.shape[1], 1)
loss2 = nn.BCEWithLogitsLoss()
t0 = time.time()
last = train(net2, loss2, Xt, torch.tensor(y_train, dtype=torch.float32).unsqueeze(1))
with torch.no_grad():
    pred2 = (torch.sigmoid(net2(Xt)).squeeze(1) > 0.5).numpy()
print(f"net2: last batch loss {last:.3f}, training accuracy {np.mean(pred2 == y_train):.3f} ({time.time() - t0:.1f} s)")
"""

T1_TORCH_CHECK = """
with torch.no_grad():
    p1 = torch.sigmoid(net1(Xt[:5])).squeeze(1)
    p2 = torch.softmax(net2(Xt[:5]), dim=1)
print("net1 P(class 1):", p1.numpy().round(3))
print("net2 P(class 0), P(class 1):\\n", p2.numpy().round(3))
"""


T1_TORCH_CHECKPOINT = """
torch.save({"net1": net1.state_dict(), "net2": net2.state_dict()}, "checkpoint.pt")
"""


def t1_torch(bug: str | None = None, reference: bool = True, style: frozenset[str] = frozenset()) -> nbformat.NotebookNode:
    """H3P2T1 in PyTorch; net1/net2 from a custom nn.Module with forward()."""
    net2 = {"softmax_ce": T1_TORCH_NET2_BUG_SOFTMAX, "net2_one_unit": T1_TORCH_NET2_BUG_ONE_UNIT}.get(
        bug, T1_TORCH_NET2
    )
    cells = [
        _md(T1_TASK.format(framework="PyTorch", torch_rows=T1_TORCH_ROWS)),
        _code(_torch_setup(style)),
        _md("## Data"),
        _code(_load("H3P2T1", style)),
        _md(PREPROCESS_MD) if reference else _md("## Preprocessing"),
        _code(_preprocess(style, bug)),
        _md(T1_TORCH_MODEL_MD) if reference else _md("## Models"),
        _code(T1_TORCH_MODEL.format(train=_torch_loop(T1_TORCH_TRAIN, style))),
        _md("### Net-1: one output unit, binary cross-entropy"),
        _code(T1_TORCH_NET1),
        _md("### Net-2: two output units, cross-entropy"),
        _code(net2),
        _md("Both networks give class probabilities once their logits go through sigmoid / softmax:"),
        _code(T1_TORCH_CHECK),
    ]
    if "plot" in style:
        cells.append(_code(_plot('zip(["net1", "net2"], curves)', "training loss (last batch)")))
    if "checkpoint" in style:
        cells.append(_code(T1_TORCH_CHECKPOINT))
    return _notebook(cells)


T2_TORCH_MODEL_MD = """
## The network

Two hidden layers of 64 ReLU units and a 2-unit output with a **sigmoid**: it predicts normalized
`[income, age]` in [0, 1]. Trained with MSE on the normalized targets, so both outputs weigh the same.
"""

T2_TORCH_MODEL = """
torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(X_in.shape[1], 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 2), nn.Sigmoid(),  # normalized outputs in [0, 1]: a range guard
)
print(model)
"""

T2_TORCH_MODEL_BUG_LINEAR = """
torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(X_in.shape[1], 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 2),  # regression: linear output
)
print(model)
"""

T2_TORCH_TRAIN = """
def train(net, X, Y, epochs={epochs}, lr={lr}, batch_size=64, seed=0):
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    net.train()
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
    net.eval()
    return loss.item()


t0 = time.time()
last = train(model, torch.tensor(X_in), torch.tensor(Yn_train))
print(f"last batch loss {{last:.5f}} ({{time.time() - t0:.1f}} s)")
"""

T2_TORCH_PREDICT = """
def predict(X):
    \"\"\"Raw features (N, 5) -> [income, age] (N, 2) in original units.\"\"\"
    with torch.no_grad():
        Yn = model(torch.as_tensor(preprocess(X))).numpy()
    return denormalize_output(Yn)
"""

T2_TORCH_PREDICT_BUG_CLIP = """
def predict(X):
    with torch.no_grad():
        Y = model(torch.as_tensor(preprocess(X))).numpy()
    # keep predictions in the valid range
    return np.clip(denormalize_output(Y), [0, 0], [10000, 100])
"""

# Returns the income column only: shape (N,) instead of (N, 2).
T2_TORCH_PREDICT_BUG_1D = """
def predict(X):
    with torch.no_grad():
        Yn = model(torch.as_tensor(preprocess(X))).numpy()
    return denormalize_output(Yn)[:, 0]  # predicted income
"""

T2_TRAIN_MAE_1D = """
P_train = predict(X_train)
print("predictions:", P_train.shape)
print("training MAE income:", np.abs(P_train - Y_train[:, 0]).mean())
"""


def t2_torch(bug: str | None = None, reference: bool = True, style: frozenset[str] = frozenset()) -> nbformat.NotebookNode:
    """H3P2T2 in PyTorch; the model is an nn.Sequential."""
    no_norm = bug == "no_output_norm"
    model = T2_TORCH_MODEL_BUG_LINEAR if bug in ("linear_output", "no_output_norm") else T2_TORCH_MODEL
    predict = {"no_output_norm": T2_TORCH_PREDICT_BUG_CLIP, "predict_1d": T2_TORCH_PREDICT_BUG_1D}.get(
        bug, T2_TORCH_PREDICT
    )
    # raw targets need a larger step size to get anywhere at all
    train = T2_TORCH_TRAIN.format(epochs=200, lr="1e-2" if no_norm else "3e-3")
    cells = [
        _md(T2_TASK.format(framework="PyTorch")),
        _code(_torch_setup(style)),
        _md("## Data"),
        _code(_load("H3P2T2", style)),
        _md(PREPROCESS_MD) if reference else _md("## Input normalization"),
        _code(_preprocess(style)),
        _md(OUTPUT_NORM_MD) if reference else _md("## Outputs"),
        _code(OUTPUT_NORM_BUG_IDENTITY if no_norm else OUTPUT_NORM),
        _md(T2_TORCH_MODEL_MD) if reference else _md("## Model"),
        _code(model),
        _code(_torch_loop(train, style)),
        _md("## Prediction in original units"),
        _code(predict),
        _code(T2_TRAIN_MAE_1D if bug == "predict_1d" else T2_TRAIN_MAE),
    ]
    if "plot" in style:
        cells.append(_code(_plot('[("model", curves[0])]', "training loss (last batch)")))
    if "checkpoint" in style:
        cells.append(_code('torch.save(model.state_dict(), "model.pt")'))
    return _notebook(cells)


# --------------------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------------------

KERAS_SETUP = """
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import tensorflow as tf

keras.utils.set_random_seed(0)             # Python, NumPy and TensorFlow seeds
tf.config.experimental.enable_op_determinism()
"""

T1_KERAS_MODEL_MD = """
## The two networks

Same body (two hidden layers of 32 ReLU units); only the output layer differs.

- Net-1: **one** unit with a **sigmoid** (the probability of class 1), trained with `binary_crossentropy`.
- Net-2: **two** units with a **softmax** (one probability per class), trained with
  `sparse_categorical_crossentropy` on the integer labels. Both Keras losses expect probabilities here
  (the default `from_logits=False`), which is what the output layers give.
"""

T1_KERAS_MODEL = """
def build(n_out, activation, loss):
    net = keras.Sequential([
        keras.Input(shape=(X_in.shape[1],)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(n_out, activation=activation),
    ])
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss=loss, metrics=["accuracy"])
    return net
"""

def _t1_keras_fit(net: str, history: str, units: int, activation: str, loss: str) -> str:
    """The cell that builds and trains one Keras net (loss is source text: a name or a loss object)."""
    return f"""
keras.utils.set_random_seed(0)
{net} = build({units}, "{activation}", {loss})
t0 = time.time()
{history} = {net}.fit(X_in, y_train, epochs=60, batch_size=64, verbose=0)
print(f"{net}: training accuracy {{{history}.history['accuracy'][-1]:.3f}} ({{time.time() - t0:.1f}} s)")
"""


T1_KERAS_NET1 = _t1_keras_fit("net1", "h1", 1, "sigmoid", '"binary_crossentropy"')
T1_KERAS_NET2 = _t1_keras_fit("net2", "h2", 2, "softmax", '"sparse_categorical_crossentropy"')
# from_logits=True on a softmax output: the loss applies softmax a second time.
T1_KERAS_NET2_BUG_FROM_LOGITS = _t1_keras_fit(
    "net2", "h2", 2, "softmax", "keras.losses.SparseCategoricalCrossentropy(from_logits=True)")
T1_KERAS_NET2_BUG_ONE_UNIT = _t1_keras_fit("net2", "h2", 1, "sigmoid", '"binary_crossentropy"')

T1_KERAS_CHECK = """
print("net1 P(class 1):", net1.predict(X_in[:5], verbose=0).ravel().round(3))
print("net2 class probabilities:\\n", net2.predict(X_in[:5], verbose=0).round(3))
"""


T1_KERAS_VALIDATION = """
for name, net in (("net1", net1), ("net2", net2)):
    p = net.predict(preprocess(X_val), verbose=0)
    pred = p[:, 0] > 0.5 if p.shape[1] == 1 else p.argmax(axis=1)
    print(name, "validation accuracy", np.mean(pred == y_val).round(3))
"""


def t1_keras(bug: str | None = None, reference: bool = True, style: frozenset[str] = frozenset()) -> nbformat.NotebookNode:
    """H3P2T1 in Keras; net1/net2 are keras.Sequential models."""
    net2 = {"from_logits_softmax": T1_KERAS_NET2_BUG_FROM_LOGITS, "net2_one_unit": T1_KERAS_NET2_BUG_ONE_UNIT}.get(
        bug, T1_KERAS_NET2
    )
    cells = [
        _md(T1_TASK.format(framework="Keras", torch_rows="")),
        _code(KERAS_SETUP),
        _md("## Data"),
        _code(_load("H3P2T1", style)),
        *([_code(SPLIT_T1)] if "split" in style else []),
        _md(PREPROCESS_MD) if reference else _md("## Preprocessing"),
        _code(_preprocess(style, bug)),
        _md(T1_KERAS_MODEL_MD) if reference else _md("## Models"),
        _code(T1_KERAS_MODEL),
        _md("### Net-1: one output unit, binary cross-entropy"),
        _code(T1_KERAS_NET1),
        _md("### Net-2: two output units, cross-entropy"),
        _code(net2),
        _code(T1_KERAS_CHECK),
    ]
    if "split" in style:
        cells.append(_code(T1_KERAS_VALIDATION))
    if "plot" in style:
        cells.append(_code(_plot('[("net1", h1.history["loss"]), ("net2", h2.history["loss"])]')))
    return _notebook(cells)


T2_KERAS_MODEL_MD = """
## The network (functional API)

Two hidden layers of 64 ReLU units and a 2-unit **sigmoid** output predicting normalized `[income, age]`,
trained with MSE on the normalized targets.
"""

T2_KERAS_MODEL = """
keras.utils.set_random_seed(0)
inputs = keras.Input(shape=(X_in.shape[1],), name="features")
h = keras.layers.Dense(64, activation="relu")(inputs)
h = keras.layers.Dense(64, activation="relu")(h)
outputs = keras.layers.Dense(2, activation="{activation}", name="income_age")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate={lr}), loss="mse")
"""

T2_KERAS_TRAIN = """
t0 = time.time()
hist = model.fit(X_in, {targets}, epochs={epochs}, batch_size=64, verbose=0)
print(f"final loss {{hist.history['loss'][-1]:.5f}} ({{time.time() - t0:.1f}} s)")
"""

T2_KERAS_PREDICT = """
def predict(X):
    \"\"\"Raw features (N, 5) -> [income, age] (N, 2) in original units.\"\"\"
    Yn = model.predict(preprocess(X), verbose=0)
    return denormalize_output(Yn)
"""

T2_KERAS_PREDICT_BUG_CLIP = """
def predict(X):
    Y = model.predict(preprocess(X), verbose=0)
    # keep predictions in the valid range
    return np.clip(denormalize_output(Y), [0, 0], [10000, 100])
"""

T2_KERAS_PREDICT_BUG_1D = """
def predict(X):
    Yn = model.predict(preprocess(X), verbose=0)
    return denormalize_output(Yn)[:, 0]  # predicted income
"""


# Two one-unit heads on a shared body (a functional model with a list of outputs).
T2_KERAS_MODEL_TWO_HEADS = """
keras.utils.set_random_seed(0)
inputs = keras.Input(shape=(X_in.shape[1],), name="features")
h = keras.layers.Dense(64, activation="relu")(inputs)
h = keras.layers.Dense(64, activation="relu")(h)
income = keras.layers.Dense(1, activation="sigmoid", name="income")(h)
age = keras.layers.Dense(1, activation="sigmoid", name="age")(h)
model = keras.Model(inputs, [income, age])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss=["mse", "mse"])
"""

T2_KERAS_PREDICT_TWO_HEADS = """
def predict(X):
    \"\"\"Raw features (N, 5) -> [income, age] (N, 2) in original units.\"\"\"
    income_n, age_n = model.predict(preprocess(X), verbose=0)
    return denormalize_output(np.hstack([income_n, age_n]))
"""


def t2_keras(bug: str | None = None, reference: bool = True, style: frozenset[str] = frozenset()) -> nbformat.NotebookNode:
    """H3P2T2 in Keras; the model uses the functional API."""
    no_norm = bug == "no_output_norm"
    two_heads = "two_heads" in style and bug is None
    activation = "linear" if bug in ("linear_output", "no_output_norm") else "sigmoid"
    model = T2_KERAS_MODEL.format(activation=activation, lr="1e-2" if no_norm else "3e-3")
    # "crash": the training cell uses a name that was never defined (renamed in another cell)
    targets = "Y_train_norm" if bug == "crash" else "Yn_train"
    predict = {"no_output_norm": T2_KERAS_PREDICT_BUG_CLIP, "predict_1d": T2_KERAS_PREDICT_BUG_1D}.get(
        bug, T2_KERAS_PREDICT
    )
    if two_heads:
        model, targets, predict = T2_KERAS_MODEL_TWO_HEADS, "[Yn_train[:, :1], Yn_train[:, 1:]]", \
            T2_KERAS_PREDICT_TWO_HEADS
    cells = [
        _md(T2_TASK.format(framework="Keras")),
        _code(KERAS_SETUP),
        _md("## Data"),
        _code(_load("H3P2T2", style)),
        _md(PREPROCESS_MD) if reference else _md("## Input normalization"),
        _code(_preprocess(style)),
        _md(OUTPUT_NORM_MD) if reference else _md("## Outputs"),
        _code(OUTPUT_NORM_BUG_IDENTITY if no_norm else OUTPUT_NORM),
        _md(T2_KERAS_MODEL_MD) if reference else _md("## Model"),
        _code(model),
        # two heads train more slowly per epoch (two losses); 100 epochs keep the notebook quick
        _code(T2_KERAS_TRAIN.format(targets=targets, epochs=100 if two_heads else 150)),
        _md("## Prediction in original units"),
        _code(predict),
        _code(T2_TRAIN_MAE_1D if bug == "predict_1d" else T2_TRAIN_MAE),
    ]
    if "plot" in style:
        cells.append(_code(_plot('[("model", hist.history["loss"])]')))
    if "checkpoint" in style:
        cells.append(_code('model.save("model.keras")'))
    return _notebook(cells)


# --------------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------------

TEMPLATE_HOWTO = """
**How to hand in.** Use PyTorch or Keras (or both: one notebook per framework). Name the notebook
`H3P2T{n}_torch.ipynb` or `H3P2T{n}_keras.ipynb` (any name starting with `H3P2T{n}` works) and keep the
data where this template reads it (`data/` next to the notebook). The notebook must run from top to
bottom without errors in a fresh kernel, in a few minutes on a CPU. Leave the names above defined at the
end; the grader reads them after running your notebook.
"""


def t1_template() -> nbformat.NotebookNode:
    cells = [
        _md(T1_TASK.format(framework="PyTorch or Keras", torch_rows=T1_TORCH_ROWS + " (PyTorch only)")),
        _md(TEMPLATE_HOWTO.format(n=1)),
        _md("## Data"),
        _code(LOAD_T1),
        _md("## Input normalization\n\nWrite `preprocess(X)`: raw features (N, 5) → network input."),
        _code("def preprocess(X):\n    # TODO\n    raise NotImplementedError"),
        _md("## Net-1: trained with binary cross-entropy\n\nBuild and train `net1` (PyTorch: also `loss1`)."),
        _code("net1 = None  # TODO\nloss1 = None  # TODO (PyTorch only)"),
        _md("## Net-2: trained with cross-entropy\n\nBuild and train `net2` (PyTorch: also `loss2`)."),
        _code("net2 = None  # TODO\nloss2 = None  # TODO (PyTorch only)"),
        _md("## Results\n\nShow the training accuracy of both networks, and explain how their output layers differ."),
        _code("# TODO"),
    ]
    return _notebook(cells)


def t2_template() -> nbformat.NotebookNode:
    cells = [
        _md(T2_TASK.format(framework="PyTorch or Keras")),
        _md(TEMPLATE_HOWTO.format(n=2)),
        _md("## Data"),
        _code(LOAD_T2),
        _md("## Input normalization"),
        _code("def preprocess(X):\n    # TODO\n    raise NotImplementedError"),
        _md("## Output normalization\n\nWrite `normalize_output(Y)` and its inverse `denormalize_output(Yn)`."),
        _code(
            "def normalize_output(Y):\n    # TODO\n    raise NotImplementedError\n\n\n"
            "def denormalize_output(Yn):\n    # TODO\n    raise NotImplementedError"
        ),
        _md("## Model\n\nBuild and train `model` (two outputs)."),
        _code("model = None  # TODO"),
        _md("## Prediction\n\n`predict(X)`: raw features (N, 5) → NumPy array (N, 2) `[income, age]` "
            "in original units."),
        _code("def predict(X):\n    # TODO\n    raise NotImplementedError"),
    ]
    return _notebook(cells)


# --------------------------------------------------------------------------------------------------
# The sample class
# --------------------------------------------------------------------------------------------------

BUILDERS = {"t1_torch": t1_torch, "t1_keras": t1_keras, "t2_torch": t2_torch, "t2_keras": t2_keras}

# Scenario -> {notebook file name: (builder, bug)}; bug None = the reference solution's code.
SCENARIOS: dict[str, dict[str, tuple[str, str | None]]] = {
    # T1 torch: softmax in front of nn.CrossEntropyLoss (net2)
    "softmax_ce": {"H3P2T1_torch.ipynb": ("t1_torch", "softmax_ce"), "H3P2T2_torch.ipynb": ("t2_torch", None)},
    # T1 torch: preprocess is the identity (no input normalization)
    "no_input_norm": {"H3P2T1_torch.ipynb": ("t1_torch", "no_input_norm"), "H3P2T2_keras.ipynb": ("t2_keras", None)},
    # T1 keras: net2 is a copy of net1 (one unit, sigmoid, binary cross-entropy)
    "net2_one_unit": {"H3P2T1_keras.ipynb": ("t1_keras", "net2_one_unit"), "H3P2T2_torch.ipynb": ("t2_torch", None)},
    # T2 torch: trains on raw targets; normalize/denormalize are identities; predict clips
    "no_output_norm": {"H3P2T1_torch.ipynb": ("t1_torch", None), "H3P2T2_torch.ipynb": ("t2_torch", "no_output_norm")},
    # T2 keras: linear output layer, no clipping
    "linear_output": {"H3P2T1_keras.ipynb": ("t1_keras", None), "H3P2T2_keras.ipynb": ("t2_keras", "linear_output")},
    # T2 torch: predict returns the income column only, shape (N,)
    "predict_1d": {"H3P2T1_torch.ipynb": ("t1_torch", None), "H3P2T2_torch.ipynb": ("t2_torch", "predict_1d")},
    # clean, T2 in PyTorch only: full marks, no bonus
    "one_framework": {"H3P2T1_torch.ipynb": ("t1_torch", None), "H3P2T2_torch.ipynb": ("t2_torch", None)},
    # clean, T2 in both frameworks: full marks + 5
    "both_clean": {
        "H3P2T1_torch.ipynb": ("t1_torch", None),
        "H3P2T2_torch.ipynb": ("t2_torch", None),
        "H3P2T2_keras.ipynb": ("t2_keras", None),
    },
    # T2 in both, the Keras one raises NameError in its training cell: torch graded, no bonus
    "both_keras_crash": {
        "H3P2T1_keras.ipynb": ("t1_keras", None),
        "H3P2T2_torch.ipynb": ("t2_torch", None),
        "H3P2T2_keras.ipynb": ("t2_keras", "crash"),
    },
    # Keras only, clean: full marks, no bonus
    "keras_only": {"H3P2T1_keras.ipynb": ("t1_keras", None), "H3P2T2_keras.ipynb": ("t2_keras", None)},
    # T1 keras: SparseCategoricalCrossentropy(from_logits=True) on a softmax output (net2)
    "from_logits_softmax": {
        "H3P2T1_keras.ipynb": ("t1_keras", "from_logits_softmax"),
        "H3P2T2_keras.ipynb": ("t2_keras", None),
    },
    # clean T1 in PyTorch, no H3P2T2 handed in: every T2 item missing
    "t1_only": {"H3P2T1_torch.ipynb": ("t1_torch", None)},
}


# Student -> notebook -> the idioms (IDIOMS) it is written in; the scenario's mistake stays the same.
STYLES: dict[str, dict[str, frozenset[str]]] = {
    # an honest student who caches a shuffled copy over the training CSV (issue 9) and a two-head Keras T2
    "alice": {"H3P2T1_torch.ipynb": frozenset({"pandas", "scaler", "shuffle_over", "tqdm", "device", "plot",
                                               "checkpoint"}),
              "H3P2T2_keras.ipynb": frozenset({"two_heads", "plot"})},
    "bob": {"H3P2T1_torch.ipynb": frozenset({"pandas", "scaler", "device"})},
    "carol": {"H3P2T1_torch.ipynb": frozenset({"pandas", "shuffle_copy", "tqdm", "plot"})},
    "erin": {"H3P2T2_torch.ipynb": frozenset({"device", "tqdm", "checkpoint", "plot"})},
    "frank": {"H3P2T1_keras.ipynb": frozenset({"plot"})},
    # preprocess(df) picks the CSV's columns by name (issue 8 §2): in both tasks
    "heidi": {"H3P2T1_torch.ipynb": frozenset({"pandas", "scaler", "df_preprocess"}),
              "H3P2T2_torch.ipynb": frozenset({"pandas", "device", "tqdm", "checkpoint"})},
    "judy": {"H3P2T1_keras.ipynb": frozenset({"pandas", "split", "scaler", "plot"}),
             "H3P2T2_keras.ipynb": frozenset({"pandas", "scaler", "df_preprocess", "two_heads", "plot",
                                              "checkpoint"})},
}


def student_notebooks(student: str) -> dict[str, nbformat.NotebookNode]:
    """The Part 2 notebooks of one sample student, by file name."""
    scenario = SCENARIOS[STUDENTS[student]]
    styles = STYLES.get(student, {})
    unknown = {idiom for style in styles.values() for idiom in style} - IDIOMS
    if unknown:
        raise ValueError(f"{student}: unknown idioms {sorted(unknown)}")
    return {name: BUILDERS[builder](bug, reference=False, style=styles.get(name, frozenset()))
            for name, (builder, bug) in scenario.items()}


def main(students: bool = True) -> list[Path]:
    """Write the references and templates, and (students=True) the sample class's Part 2 notebooks."""
    written = [
        _write(t1_torch(), REFERENCE / "H3P2T1_torch.ipynb"),
        _write(t1_keras(), REFERENCE / "H3P2T1_keras.ipynb"),
        _write(t2_torch(), REFERENCE / "H3P2T2_torch.ipynb"),
        _write(t2_keras(), REFERENCE / "H3P2T2_keras.ipynb"),
        _write(t1_template(), REFERENCE / "H3P2T1_template.ipynb"),
        _write(t2_template(), REFERENCE / "H3P2T2_template.ipynb"),
    ]
    if students:
        for student in STUDENTS:
            for name, nb in student_notebooks(student).items():
                written.append(_write(nb, SUBMISSIONS / student / name))
    return written


if __name__ == "__main__":
    for path in main(students="--no-students" not in sys.argv[1:]):
        print(path.relative_to(ROOT))
