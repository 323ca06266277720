"""Write the HW3 Part 1 notebooks: the reference solution, the blank template and a sample class.

    python reference/build_notebooks.py

writes
    reference/H3P1.ipynb               full marks at both levels, with the reasoning in markdown
    reference/H3P1_template.ipynb      what students start from: every contract name set to None
    submissions/roster.csv             the sample class (zoe is on the roster but handed nothing in)
    submissions/<student>/H3P1.ipynb   one notebook per student, each with one or two known mistakes

Every cell's source lives in this file. Cell ids are derived from the notebook's tag and the cell's
index and nothing depends on time or randomness, so running the script twice gives byte-identical
files. The points each student should get are written by hand in tests/e2e/expected_part1.py; keep
the two files in step when a student changes here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"
SUBMISSIONS = ROOT / "submissions"


# --------------------------------------------------------------------------------------------------
# Notebook plumbing
# --------------------------------------------------------------------------------------------------

def md(source: str) -> tuple[str, str]:
    return ("markdown", source.strip("\n"))


def code(source: str) -> tuple[str, str]:
    return ("code", source.strip("\n"))


def build(tag: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A v4.5 notebook with no outputs and fixed cell ids `<tag>-<index>`."""
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = f"{tag}-{index:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


# --------------------------------------------------------------------------------------------------
# The handout's questions (markdown shared by the template and the student notebooks)
# --------------------------------------------------------------------------------------------------

TITLE = """
# Homework 3, Part 1: Math

Answer each question in the code cell below it, in the form given in the comments: an expression is
either a **string** in SymPy/Python syntax (use `**` for powers) or a **Python function** whose
parameters are named from the allowed symbols. Run the whole notebook (Kernel → Restart & Run All)
before you hand it in.
"""

Q1_TEXT = r"""
## 1. Backpropagation in a neural network

$$h_1 = f_1(w_1 x + b_1), \qquad h_2 = f_2(w_2 x + b_2), \qquad \hat{y} = f_3(w_3 h_1 + w_4 h_2 + b_3)$$

$f'_n(v) = \partial f_n(v) / \partial v$ for $n = 1, 2, 3$; all quantities are scalars.

Compute $\partial L/\partial w_1$, $\partial L/\partial w_2$, $\partial L/\partial w_3$, $\partial L/\partial w_4$,
$\partial L/\partial b_1$, $\partial L/\partial b_2$, $\partial L/\partial b_3$ and $\partial L/\partial x$.

Symbols you may use: `x w1 w2 w3 w4 b1 b2 b3`, `z1 = w1*x + b1`, `z2 = w2*x + b2`,
`z3 = w3*h1 + w4*h2 + b3`, `h1 h2 y_hat`, `dL_dy_hat` (the derivative of the loss with respect to
$\hat{y}$), the functions `f1 f2 f3` and their derivatives `df1 df2 df3`, and `exp log sin cos tanh sqrt sigmoid`.
"""

Q2_TEXT = r"""
## 2. Computational graph

$$h = 2x + 1, \qquad z = x^2, \qquad y = \frac{1}{1 + e^{-h}}$$

1. Draw the computational graph of these three equations: give it as a list of `(source, target)`
   edges. The nodes `x`, `h`, `z`, `y` must appear; you may add operation nodes between them.
2. What is $\partial y / \partial z$ from the graph?
"""

Q3_TEXT = """
## 3. Classification using neural networks

There are two classes. Net-1 is trained with binary cross-entropy loss, Net-2 with cross-entropy
loss; the two networks are the same except for the output layer. What is the difference in their
output layers?
"""

Q4_TEXT = r"""
## 4. Input and output normalization

The input is an image of a person; the output has two components: $\hat{y}_{(1)}$, the monthly income
(0 to 10,000), and $\hat{y}_{(2)}$, the age (0 to 100). The loss is
$L = (\hat{y}_{(1)} - y_{(1)})^2 + (\hat{y}_{(2)} - y_{(2)})^2$.

Is output normalization necessary for this regression task? Why? If it is, what normalization can be
applied (to both the network output and the ground truth)? Give it as two functions on arrays of
shape (N, 2) with columns [income, age].
"""

Q5_TEXT = """
## 5. Activation functions for regression (graduate students; bonus for undergraduates)

z is the scalar output of a network with no nonlinear activation in its output layer. Design an
activation y = f(z) such that

1. the final output is non-negative, y ≥ 0;
2. the final output is non-positive, y ≤ 0;
3. the final output satisfies a ≤ y ≤ b.
4. Could we add the nonlinear activation to the network only after the network has been trained
   without it?
"""

TEMPLATE_Q1 = '''
# Each answer: a string in SymPy syntax, e.g. "dL_dy_hat * df3(z3) * h1",
# or a function whose parameters are named from the symbols it uses, e.g.
#     def dL_dw3(dL_dy_hat, df3, z3, h1): return dL_dy_hat * df3(z3) * h1
dL_dw1 = None
dL_dw2 = None
dL_dw3 = None
dL_dw4 = None
dL_db1 = None
dL_db2 = None
dL_db3 = None
dL_dx = None
'''

TEMPLATE_Q2 = '''
# (1) list of (source, target) pairs, e.g. [("x", "h"), ...]; nodes x, h, z, y must appear
graph_edges = None
# (2) an expression: a string such as "2*x" or a number
dy_dz = None
'''

TEMPLATE_Q3 = '''
net1_output_units = None       # int: number of units in Net-1's output layer
net1_output_activation = None  # str: name of the activation, e.g. "relu"
net2_output_units = None       # int
net2_output_activation = None  # str
q3_explanation = None          # str: your explanation in words
'''

TEMPLATE_Q4 = '''
import numpy as np

output_normalization_needed = None  # bool


def normalize_output(Y):
    """Y: float array (N, 2), columns [income, age] -> the normalized targets."""
    ...


def denormalize_output(Yn):
    """The inverse of normalize_output: normalized array (N, 2) -> [income, age]."""
    ...


q4_explanation = None  # str
'''

TEMPLATE_Q5 = '''
# (1)-(3): functions of a NumPy array z (and a, b for the bounded one),
# or strings in the symbols z, a, b, e.g. "z**2"
f_nonneg = None   # y >= 0
f_nonpos = None   # y <= 0
f_bounded = None  # a <= y <= b; called as f_bounded(z, a, b)
# (4)
q5_4_answer = None       # bool: True if the activation can be added only after training
q5_4_explanation = None  # str
'''


def template() -> nbformat.NotebookNode:
    return build("tpl", [
        md(TITLE),
        md(Q1_TEXT), code(TEMPLATE_Q1),
        md(Q2_TEXT), code(TEMPLATE_Q2),
        md(Q3_TEXT), code(TEMPLATE_Q3),
        md(Q4_TEXT), code(TEMPLATE_Q4),
        md(Q5_TEXT), code(TEMPLATE_Q5),
    ])


# --------------------------------------------------------------------------------------------------
# The reference solution
# --------------------------------------------------------------------------------------------------

REF_Q1_MD = r"""
### Solution

Write $z_1 = w_1x + b_1$, $z_2 = w_2x + b_2$, $z_3 = w_3h_1 + w_4h_2 + b_3$, so that $h_1 = f_1(z_1)$,
$h_2 = f_2(z_2)$ and $\hat{y} = f_3(z_3)$. Every path from a parameter to $L$ goes through $\hat{y}$ and
$z_3$, so every derivative starts with the common factor

$$\delta_3 = \frac{\partial L}{\partial z_3} = \frac{\partial L}{\partial \hat{y}}\, f'_3(z_3).$$

**Output layer.** $\partial z_3/\partial w_3 = h_1$, $\partial z_3/\partial w_4 = h_2$, $\partial z_3/\partial b_3 = 1$:

$$\frac{\partial L}{\partial w_3} = \delta_3\, h_1, \qquad
\frac{\partial L}{\partial w_4} = \delta_3\, h_2, \qquad
\frac{\partial L}{\partial b_3} = \delta_3.$$

**Hidden layer.** $h_1$ reaches $z_3$ through the weight $w_3$ and $h_2$ through $w_4$, so

$$\frac{\partial L}{\partial z_1} = \delta_3\, w_3\, f'_1(z_1), \qquad
\frac{\partial L}{\partial z_2} = \delta_3\, w_4\, f'_2(z_2),$$

and with $\partial z_1/\partial w_1 = x$, $\partial z_1/\partial b_1 = 1$ (likewise for $z_2$):

$$\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial \hat{y}} f'_3(z_3)\, w_3\, f'_1(z_1)\, x, \qquad
\frac{\partial L}{\partial b_1} = \frac{\partial L}{\partial \hat{y}} f'_3(z_3)\, w_3\, f'_1(z_1),$$

$$\frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial \hat{y}} f'_3(z_3)\, w_4\, f'_2(z_2)\, x, \qquad
\frac{\partial L}{\partial b_2} = \frac{\partial L}{\partial \hat{y}} f'_3(z_3)\, w_4\, f'_2(z_2).$$

**Input.** $x$ feeds both hidden units, so the two paths add up (multivariable chain rule), with
$\partial z_1/\partial x = w_1$ and $\partial z_2/\partial x = w_2$:

$$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial \hat{y}} f'_3(z_3)
\left(w_3 f'_1(z_1)\, w_1 + w_4 f'_2(z_2)\, w_2\right).$$
"""

REF_Q1 = '''
dL_dw1 = "dL_dy_hat * df3(z3) * w3 * df1(z1) * x"
dL_dw2 = "dL_dy_hat * df3(z3) * w4 * df2(z2) * x"
dL_dw3 = "dL_dy_hat * df3(z3) * h1"
dL_dw4 = "dL_dy_hat * df3(z3) * h2"
dL_db1 = "dL_dy_hat * df3(z3) * w3 * df1(z1)"
dL_db2 = "dL_dy_hat * df3(z3) * w4 * df2(z2)"
dL_db3 = "dL_dy_hat * df3(z3)"
dL_dx = "dL_dy_hat * df3(z3) * (w3 * df1(z1) * w1 + w4 * df2(z2) * w2)"
'''

REF_Q1_CHECK_MD = """
A quick self-check of the answers above: evaluate each string at random points with tanh, sin and
the logistic function as $f_1, f_2, f_3$ and a squared-error loss, and compare with central finite
differences of the forward pass. (Not part of the answer; it only defines `_check_q1`'s locals.)
"""

REF_Q1_CHECK = '''
def _check_q1(seed=0, n=50, eps=1e-6):
    import numpy as np

    rng = np.random.default_rng(seed)
    f1, df1 = np.tanh, lambda v: 1 - np.tanh(v) ** 2
    f2, df2 = np.sin, np.cos
    f3 = lambda v: 1 / (1 + np.exp(-v))
    df3 = lambda v: f3(v) * (1 - f3(v))
    names = ["x", "w1", "w2", "w3", "w4", "b1", "b2", "b3"]
    p = {k: rng.uniform(-2, 2, n) for k in names}
    t = rng.uniform(0, 1, n)

    def loss(q):
        h1, h2 = f1(q["w1"] * q["x"] + q["b1"]), f2(q["w2"] * q["x"] + q["b2"])
        return 0.5 * (f3(q["w3"] * h1 + q["w4"] * h2 + q["b3"]) - t) ** 2

    ns = dict(p, f1=f1, f2=f2, f3=f3, df1=df1, df2=df2, df3=df3)
    ns["z1"], ns["z2"] = p["w1"] * p["x"] + p["b1"], p["w2"] * p["x"] + p["b2"]
    ns["h1"], ns["h2"] = f1(ns["z1"]), f2(ns["z2"])
    ns["z3"] = p["w3"] * ns["h1"] + p["w4"] * ns["h2"] + p["b3"]
    ns["y_hat"] = f3(ns["z3"])
    ns["dL_dy_hat"] = ns["y_hat"] - t
    for var in ["w1", "w2", "w3", "w4", "b1", "b2", "b3", "x"]:
        up, down = dict(p), dict(p)
        up[var], down[var] = p[var] + eps, p[var] - eps
        numeric = (loss(up) - loss(down)) / (2 * eps)
        answer = eval(globals()["dL_d" + var], {}, ns)
        assert np.allclose(answer, numeric, rtol=1e-5, atol=1e-7), var
    return "all eight derivatives agree with finite differences"


_check_q1()
'''

REF_Q2_MD = r"""
### Solution

The graph has one node per quantity, with an edge from every quantity an equation reads to the
quantity it defines (the operations can be drawn as nodes in between; they do not change which
quantity depends on which):

```
x ──(·2, +1)──▶ h ──(sigmoid)──▶ y
│
└──(square)───▶ z
```

$h = 2x + 1$ gives $x \to h$, $z = x^2$ gives $x \to z$, and $y = \sigma(h)$ gives $h \to y$.
There is no path from $z$ to $y$: $z$ is a leaf of the graph, and $y$ is computed without it.
So, holding everything else fixed, changing $z$ does not change $y$:

$$\frac{\partial y}{\partial z} = 0.$$

(The tempting answer $\sigma(h)(1 - \sigma(h)) = y(1 - y)$ is $\partial y / \partial h$, and
$\frac{dy}{dx} = y(1-y)\cdot 2$ goes through $h$, not through $z$.)
"""

REF_Q2 = '''
graph_edges = [
    ("x", "*2"), ("*2", "+1"), ("+1", "h"),   # h = 2x + 1
    ("x", "square"), ("square", "z"),         # z = x^2
    ("h", "sigmoid"), ("sigmoid", "y"),       # y = 1 / (1 + e^-h)
]
dy_dz = 0
'''

REF_Q3_MD = r"""
### Solution

With two classes, binary cross-entropy compares one predicted probability $p = P(\text{class } 1 \mid x)$
with the label $t \in \{0, 1\}$: $L = -t\log p - (1-t)\log(1-p)$. Net-1 therefore needs a **single output
unit** whose value lies in $(0, 1)$, i.e. a **sigmoid** (logistic) activation $p = \sigma(z) = 1/(1+e^{-z})$.

Cross-entropy compares a probability *vector* over the classes with a one-hot label:
$L = -\sum_k t_k \log p_k$. Net-2 therefore needs **two output units**, one per class, followed by a
**softmax** $p_k = e^{z_k} / (e^{z_1} + e^{z_2})$ so that the two outputs are positive and sum to 1.

(The two are equivalent: a softmax over two logits is a sigmoid of their difference.)
"""

REF_Q3 = '''
net1_output_units = 1
net1_output_activation = "sigmoid"
net2_output_units = 2
net2_output_activation = "softmax"
q3_explanation = (
    "Net-1 is trained with binary cross-entropy, which needs one number p = P(class 1 | x) in (0, 1): "
    "a single output unit with a sigmoid (logistic) activation. Net-2 is trained with cross-entropy over "
    "the two classes, which needs a probability vector that sums to 1: two output units with a softmax "
    "activation."
)
'''

REF_Q4_MD = r"""
### Solution

Yes, it is necessary. The two squared errors in
$L = (\hat{y}_{(1)} - y_{(1)})^2 + (\hat{y}_{(2)} - y_{(2)})^2$ live on very different scales: an
income error of 10% of its range is $1000^2 = 10^6$, an age error of 10% is $10^2 = 100$. The
loss and its gradient are dominated by the income term, so the network barely learns the age (and
the last layer's weights for the two outputs must differ by orders of magnitude, which slows training).

Normalize the ground truth before training, train the network to predict the normalized targets,
and map its outputs back with the inverse. Min-max scaling with the known ranges does it:

$$\tilde{y}_{(1)} = \frac{y_{(1)} - 0}{10000 - 0}, \qquad \tilde{y}_{(2)} = \frac{y_{(2)} - 0}{100 - 0},
\qquad \hat{y}_{(k)} = \tilde{y}_{(k)} \cdot (\max_k - \min_k) + \min_k.$$

Standardization with each column's mean and standard deviation (computed on the training set) works too.
"""

REF_Q4 = '''
import numpy as np

output_normalization_needed = True

Y_MIN = np.array([0.0, 0.0])         # [income, age]
Y_MAX = np.array([10000.0, 100.0])


def normalize_output(Y):
    """Min-max scaling of [income, age] to [0, 1] each."""
    return (np.asarray(Y, dtype=float) - Y_MIN) / (Y_MAX - Y_MIN)


def denormalize_output(Yn):
    """The inverse: [0, 1] back to [income, age] in their original units."""
    return np.asarray(Yn, dtype=float) * (Y_MAX - Y_MIN) + Y_MIN


q4_explanation = (
    "Yes. The two targets live on very different scales: income ranges over 0..10000 and age over "
    "0..100, so income's squared error is about 10^4 times larger and dominates the MSE loss and its "
    "gradient; the network would barely learn age. Normalize the ground truth (and map the network "
    "output back with the inverse), e.g. min-max scaling y1/10000 and y2/100 to [0, 1], or "
    "standardization with each column's mean and standard deviation; predictions are denormalized "
    "back to the original units."
)
'''

REF_Q5_MD = r"""
### Solution

Each activation should be smooth and monotone (so that the gradient always tells the network which
way to move), reach the whole allowed range, and behave like the identity where the constraint does
not bite.

1. $y \ge 0$: **softplus** $f(z) = \log(1 + e^{z})$. It is positive, $\approx z$ for large $z$ (a
   price is not capped) and $\to 0$ as $z \to -\infty$. (ReLU $\max(z, 0)$ works too, but has zero
   gradient for $z < 0$.) A sigmoid would be wrong: it never exceeds 1.
2. $y \le 0$: mirror it, $f(z) = -\log(1 + e^{-z}) = -\mathrm{softplus}(-z)$, which is $\approx z$ for
   $z \ll 0$ and $\to 0$ as $z \to +\infty$.
3. $a \le y \le b$: rescale a sigmoid, $f(z) = a + (b - a)\,\sigma(z)$. In code, write
   $\sigma(z) = \tfrac{1}{2}(1 + \tanh(z/2))$ so that large $|z|$ never overflows.

In NumPy, $\log(1 + e^z)$ is `np.logaddexp(0, z)`, which stays finite for $z = 10^6$.
"""

REF_Q5 = '''
import numpy as np


def f_nonneg(z):
    """Softplus log(1 + e^z) >= 0, computed without overflow."""
    return np.logaddexp(0.0, np.asarray(z, dtype=float))


def f_nonpos(z):
    """-softplus(-z) <= 0: close to z for very negative z, close to 0 for large z."""
    return -np.logaddexp(0.0, -np.asarray(z, dtype=float))


def f_bounded(z, a, b):
    """a + (b - a) * sigmoid(z), with sigmoid(z) = (1 + tanh(z / 2)) / 2 (never overflows)."""
    return a + (b - a) * 0.5 * (1.0 + np.tanh(np.asarray(z, dtype=float) / 2.0))
'''

REF_Q5_4_MD = r"""
### 5.4 Adding the activation after training?

**No.** The weights were trained to make the raw output $z$ match the targets: the loss was
minimised for $\hat{y} = z$. Adding $f$ afterwards changes every prediction to $f(z)$, and the weights
were never fitted for that. For a bounded target, e.g. $a = 0, b = 1$, a network whose $z$ is already
close to $y = 0.9$ would now predict $\sigma(0.9) \approx 0.71$. The activation has to be part of the
network while it is trained, so that the loss (and its gradient) sees $f(z)$.

(At most, a pure clip such as $\max(z, 0)$ for $y \ge 0$ can be applied afterwards without harm: it
only moves predictions that were out of range towards the range. That is post-processing, not a
trained activation.)
"""

REF_Q5_4 = '''
q5_4_answer = False
q5_4_explanation = (
    "No. The weights were trained (the loss was minimised) for the raw output z. Adding a nonlinear "
    "activation afterwards changes every prediction: e.g. a sigmoid squashes outputs the network learned "
    "to place far outside (0, 1), so the final outputs are no longer the ones the loss was minimised for. "
    "The activation must be in the network while it is trained so the weights are fitted through it."
)
'''


def reference() -> nbformat.NotebookNode:
    return build("ref", [
        md(TITLE),
        md(Q1_TEXT), md(REF_Q1_MD), code(REF_Q1), md(REF_Q1_CHECK_MD), code(REF_Q1_CHECK),
        md(Q2_TEXT), md(REF_Q2_MD), code(REF_Q2),
        md(Q3_TEXT), md(REF_Q3_MD), code(REF_Q3),
        md(Q4_TEXT), md(REF_Q4_MD), code(REF_Q4),
        md(Q5_TEXT), md(REF_Q5_MD), code(REF_Q5), md(REF_Q5_4_MD), code(REF_Q5_4),
    ])


# --------------------------------------------------------------------------------------------------
# The sample class
#
# A student notebook is the template's questions with the student's answer cells filled in. The
# right answers below are written the way a student would; each student function takes them and
# replaces only what that student gets wrong (or writes in a different, equivalent style).
# tests/e2e/expected_part1.py holds the points each one should get.
# --------------------------------------------------------------------------------------------------

CLASS = [
    # id, level, name
    ("alice", "undergrad", "Alice Anderson"),
    ("bob", "grad", "Bob Baker"),
    ("carol", "undergrad", "Carol Chen"),
    ("dave", "grad", "Dave Dubois"),
    ("erin", "undergrad", "Erin Evans"),
    ("frank", "grad", "Frank Fischer"),
    ("grace", "undergrad", "Grace Garcia"),
    ("heidi", "grad", "Heidi Horvath"),
    ("ivan", "undergrad", "Ivan Ivanov"),
    ("judy", "grad", "Judy Jones"),
    ("ken", "grad", "Ken Kobayashi"),
    ("liam", "grad", "Liam Lopez"),
    ("mallory", "undergrad", "Mallory Moore"),
    ("nina", "grad", "Nina Novak"),
    ("oscar", "undergrad", "Oscar Olsen"),
    ("zoe", "undergrad", "Zoe Zhang"),      # on the roster, no folder
]

# ---- right answers, plain student style -----------------------------------------------------------

Q1_STRINGS = '''
dL_dw1 = "dL_dy_hat*df3(z3)*w3*df1(z1)*x"
dL_dw2 = "dL_dy_hat*df3(z3)*w4*df2(z2)*x"
dL_dw3 = "dL_dy_hat*df3(z3)*h1"
dL_dw4 = "dL_dy_hat*df3(z3)*h2"
dL_db1 = "dL_dy_hat*df3(z3)*w3*df1(z1)"
dL_db2 = "dL_dy_hat*df3(z3)*w4*df2(z2)"
dL_db3 = "dL_dy_hat*df3(z3)"
dL_dx = "dL_dy_hat*df3(z3)*(w3*df1(z1)*w1 + w4*df2(z2)*w2)"
'''

Q1_CALLABLES = '''
# the gradient flowing into z3, reused everywhere
def delta3(dL_dy_hat, df3, z3):
    return dL_dy_hat * df3(z3)


def dL_dw1(dL_dy_hat, df3, z3, w3, df1, z1, x):
    return delta3(dL_dy_hat, df3, z3) * w3 * df1(z1) * x


def dL_dw2(dL_dy_hat, df3, z3, w4, df2, z2, x):
    return delta3(dL_dy_hat, df3, z3) * w4 * df2(z2) * x


def dL_dw3(dL_dy_hat, df3, z3, h1):
    return delta3(dL_dy_hat, df3, z3) * h1


def dL_dw4(dL_dy_hat, df3, z3, h2):
    return delta3(dL_dy_hat, df3, z3) * h2


def dL_db1(dL_dy_hat, df3, z3, w3, df1, z1):
    return delta3(dL_dy_hat, df3, z3) * w3 * df1(z1)


def dL_db2(dL_dy_hat, df3, z3, w4, df2, z2):
    return delta3(dL_dy_hat, df3, z3) * w4 * df2(z2)


def dL_db3(dL_dy_hat, df3, z3):
    return delta3(dL_dy_hat, df3, z3)


def dL_dx(dL_dy_hat, df3, z3, w1, w2, w3, w4, df1, df2, z1, z2):
    return delta3(dL_dy_hat, df3, z3) * (w3 * df1(z1) * w1 + w4 * df2(z2) * w2)
'''

Q2_PLAIN = '''
graph_edges = [("x", "h"), ("x", "z"), ("h", "y")]
dy_dz = "0"
'''

Q3_PLAIN = '''
net1_output_units = 1
net1_output_activation = "sigmoid"
net2_output_units = 2
net2_output_activation = "softmax"
q3_explanation = "{text}"
'''

Q4_MINMAX = '''
import numpy as np

output_normalization_needed = True

LOW = np.array([0.0, 0.0])
HIGH = np.array([10000.0, 100.0])


def normalize_output(Y):
    return (Y - LOW) / (HIGH - LOW)


def denormalize_output(Yn):
    return Yn * (HIGH - LOW) + LOW


q4_explanation = "{text}"
'''

Q4_DIVIDE = '''
import numpy as np

output_normalization_needed = True
SCALE = np.array([10000.0, 100.0])  # income, age

normalize_output = lambda Y: np.asarray(Y) / SCALE
denormalize_output = lambda Yn: np.asarray(Yn) * SCALE

q4_explanation = "{text}"
'''

Q5_NUMPY = '''
import numpy as np


def f_nonneg(z):
    return np.maximum(z, 0)          # ReLU


def f_nonpos(z):
    return np.minimum(z, 0)          # -ReLU(-z)


def f_bounded(z, a, b):
    return a + (b - a) / (1 + np.exp(-z))   # scaled sigmoid


q5_4_answer = False
q5_4_explanation = "{text}"
'''

# ---- helper --------------------------------------------------------------------------------------


def student(sid: str, q1: str, q2: str, q3: str, q4: str, q5: str | None,
            notes: dict[int, str] | None = None) -> nbformat.NotebookNode:
    """The template's questions with this student's answer cells; q5=None drops Q5 altogether.

    notes: extra markdown cells of the student's own, inserted after the answer cell of that question.
    """
    name = dict((s, n) for s, _, n in CLASS)[sid]
    notes = notes or {}
    cells = [md(TITLE + f"\n**Name:** {name}")]
    answers = [(Q1_TEXT, q1), (Q2_TEXT, q2), (Q3_TEXT, q3), (Q4_TEXT, q4), (Q5_TEXT, q5)]
    for number, (question, answer) in enumerate(answers, start=1):
        if answer is None:
            continue
        cells += [md(question), code(answer)]
        if number in notes:
            cells.append(md(notes[number]))
    return build(sid, cells)


# ---- the students --------------------------------------------------------------------------------

def alice() -> nbformat.NotebookNode:
    """Undergrad, perfect. All expressions as strings, written out in full (no z1/z3 shorthands),
    dL_dx distributed over the two paths; standardization with fixed statistics; Q5 as strings.
    Her folder also holds notes.txt (ignored)."""
    q1 = '''
# I substitute the pre-activations so that everything is in terms of the parameters.
dL_dw1 = "dL_dy_hat*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*w3*df1(w1*x + b1)*x"
dL_dw2 = "x*w4*df2(w2*x + b2)*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*dL_dy_hat"
dL_dw3 = "dL_dy_hat*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*f1(w1*x + b1)"
dL_dw4 = "dL_dy_hat*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*f2(w2*x + b2)"
dL_db1 = "dL_dy_hat*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*w3*df1(w1*x + b1)"
dL_db2 = "dL_dy_hat*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)*w4*df2(w2*x + b2)"
dL_db3 = "dL_dy_hat*df3(w3*f1(w1*x + b1) + w4*f2(w2*x + b2) + b3)"
dL_dx = ("dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*w3*df1(w1*x + b1)*w1"
         " + dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*w4*df2(w2*x + b2)*w2")
'''
    q2 = '''
graph_edges = [["x", "h"], ["x", "z"], ["h", "y"]]
dy_dz = "0"   # y does not depend on z at all
'''
    q3 = Q3_PLAIN.format(text=(
        "Net-1 (BCE): 1 output neuron + sigmoid, it outputs P(y=1). Net-2 (CE): 2 output neurons + "
        "softmax, so the two probabilities sum to 1."))
    q4 = '''
import numpy as np

output_normalization_needed = True

# standardize with the mean and std of a uniform distribution on each range
MEAN = np.array([5000.0, 50.0])
STD = np.array([10000.0, 100.0]) / np.sqrt(12.0)


def normalize_output(Y):
    return (Y - MEAN) / STD


def denormalize_output(Yn):
    return Yn * STD + MEAN


q4_explanation = ("Needed. Income (0-10000) and age (0-100) have very different magnitudes, so the "
                  "income error would dominate the MSE. I standardize both columns (z-score with the "
                  "mean and std of a uniform distribution on each range).")
'''
    q5 = '''
f_nonneg = "z**2"                  # a square is never negative
f_nonpos = "-z**2"
f_bounded = "a + (b - a)*sigmoid(z)"
q5_4_answer = False
q5_4_explanation = ("No, the weights were learned for the linear output; putting an activation on top "
                    "afterwards would distort the predictions, so the model has to be trained with it.")
'''
    return student("alice", q1, q2, q3, q4, q5)


def bob() -> nbformat.NotebookNode:
    """Grad, perfect. Everything as callables: Q1 with **kwargs computing the forward pass himself,
    a graph with operation and constant nodes, dy_dz as the number 0, scalar math-module activations
    (the grader falls back to calling them element by element)."""
    q1 = '''
def _forward(s):
    """z1, z2, z3 from the raw symbols (I don't rely on the shorthands)."""
    z1 = s["w1"] * s["x"] + s["b1"]
    z2 = s["w2"] * s["x"] + s["b2"]
    z3 = s["w3"] * s["f1"](z1) + s["w4"] * s["f2"](z2) + s["b3"]
    return z1, z2, z3


def _delta3(s):
    return s["dL_dy_hat"] * s["df3"](_forward(s)[2])


def dL_dw1(**s):
    return _delta3(s) * s["w3"] * s["df1"](_forward(s)[0]) * s["x"]


def dL_dw2(**s):
    return _delta3(s) * s["w4"] * s["df2"](_forward(s)[1]) * s["x"]


def dL_dw3(**s):
    return _delta3(s) * s["f1"](_forward(s)[0])


def dL_dw4(**s):
    return _delta3(s) * s["f2"](_forward(s)[1])


def dL_db1(**s):
    return _delta3(s) * s["w3"] * s["df1"](_forward(s)[0])


def dL_db2(**s):
    return _delta3(s) * s["w4"] * s["df2"](_forward(s)[1])


def dL_db3(**s):
    return _delta3(s)


def dL_dx(**s):
    z1, z2, _ = _forward(s)
    return _delta3(s) * (s["w1"] * s["w3"] * s["df1"](z1) + s["w2"] * s["w4"] * s["df2"](z2))
'''
    q2 = '''
# h = 2*x + 1 ; z = x**2 ; y = 1/(1 + exp(-h)), one node per operation, constants included
graph_edges = [
    ("x", "mul"), ("2", "mul"), ("mul", "add"), ("1", "add"), ("add", "h"),
    ("x", "pow"), ("2", "pow"), ("pow", "z"),
    ("h", "neg"), ("neg", "exp"), ("exp", "add_1"), ("add_1", "recip"), ("recip", "y"),
]
dy_dz = 0
'''
    q3 = '''
net1_output_units = 1
net1_output_activation = "logistic"
net2_output_units = 2
net2_output_activation = "Softmax"
q3_explanation = """Binary cross-entropy expects a single probability -> one unit with a logistic
(sigmoid) output. Cross-entropy expects a distribution over the classes -> two units with Softmax."""
'''
    q4 = '''
import numpy as np

output_normalization_needed = True


def normalize_output(Y):
    Y = np.asarray(Y, dtype=np.float64)
    return np.column_stack([Y[:, 0] / 10_000, Y[:, 1] / 100])


def denormalize_output(Yn):
    Yn = np.asarray(Yn, dtype=np.float64)
    return np.column_stack([Yn[:, 0] * 10_000, Yn[:, 1] * 100])


q4_explanation = """Yes: without it the income term (errors in the thousands) is much larger than the
age term in the loss, so gradients are dominated by income. Use min-max normalization: y1/10000,
y2/100, for targets and outputs (denormalize predictions)."""
'''
    q5 = '''
import math


def f_nonneg(z):
    # softplus, written so that exp never overflows
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def f_nonpos(z):
    return -f_nonneg(-z)


def f_bounded(z, a, b):
    return a + (b - a) * 0.5 * (1.0 + math.tanh(z / 2.0))


q5_4_answer = False
q5_4_explanation = """No. The network's weights were fitted to produce z directly. Wrapping z in a
nonlinearity after training changes the outputs, so they no longer minimise the loss; the activation
has to be there during training."""
'''
    return student("bob", q1, q2, q3, q4, q5)


def carol() -> nbformat.NotebookNode:
    """Undergrad. Forgets the hidden unit's derivative: df1(z1) missing in dL_dw1 and dL_db1."""
    q1 = (Q1_STRINGS
          .replace('dL_dw1 = "dL_dy_hat*df3(z3)*w3*df1(z1)*x"', 'dL_dw1 = "dL_dy_hat*df3(z3)*w3*x"')
          .replace('dL_db1 = "dL_dy_hat*df3(z3)*w3*df1(z1)"', 'dL_db1 = "dL_dy_hat*df3(z3)*w3"'))
    q3 = Q3_PLAIN.format(text=(
        "The output layer differs: Net-1 has one neuron with sigmoid; Net-2 has two neurons with softmax."))
    q4 = Q4_MINMAX.format(text=(
        "It is necessary since income is on a much larger scale than age and would dominate the loss. "
        "Divide income by 10000 and age by 100 (min-max normalization)."))
    q5 = Q5_NUMPY.format(text=(
        "No. The network was trained without it, so adding it later changes the output it learned to "
        "predict and the loss is no longer minimised."))
    notes = {1: "I used the chain rule backwards from the loss: first through f3, then through w3 or w4."}
    return student("carol", q1, Q2_PLAIN, q3, q4, q5, notes)


def dave() -> nbformat.NotebookNode:
    """Grad. Swaps the weights on the h1 path: w4 instead of w3 in dL_dw1 and dL_db1. His Q3
    explanation never says how many units Net-2 has (3 of 4 keyword groups)."""
    q1 = '''
dL_dw1 = "dL_dy_hat * df3(z3) * w4 * df1(z1) * x"
dL_dw2 = "dL_dy_hat * df3(z3) * w4 * df2(z2) * x"
dL_dw3 = "dL_dy_hat * df3(z3) * h1"
dL_dw4 = "dL_dy_hat * df3(z3) * h2"
dL_db1 = "dL_dy_hat * df3(z3) * w4 * df1(z1)"
dL_db2 = "dL_dy_hat * df3(z3) * w4 * df2(z2)"
dL_db3 = "dL_dy_hat * df3(z3)"
dL_dx = "dL_dy_hat * df3(z3) * (w1 * w3 * df1(z1) + w2 * w4 * df2(z2))"
'''
    q3 = Q3_PLAIN.format(text="BCE: sigmoid on a single output. CE: softmax over both class outputs.")
    q4 = Q4_DIVIDE.format(text=(
        "Yes, necessary. The income range (0 to 10,000) is 100 times the age range, so the MSE would be "
        "driven almost entirely by income. Rescale each target to [0, 1] by dividing by its maximum, "
        "and invert that on the network's predictions."))
    q5 = Q5_NUMPY.format(text=(
        "No: the weights were trained for the identity output; an activation added afterwards shifts "
        "the predictions away from what the loss was minimised for."))
    return student("dave", q1, Q2_PLAIN, q3, q4, q5)


def erin() -> nbformat.NotebookNode:
    """Undergrad. Q1 as functions; dL_dx follows only the path through h1 (the h2 path is missing).
    Her Q4 explanation does not mention the loss (2 of 3 keyword groups)."""
    q1 = Q1_CALLABLES.replace(
        '''def dL_dx(dL_dy_hat, df3, z3, w1, w2, w3, w4, df1, df2, z1, z2):
    return delta3(dL_dy_hat, df3, z3) * (w3 * df1(z1) * w1 + w4 * df2(z2) * w2)''',
        '''def dL_dx(dL_dy_hat, df3, z3, w1, w3, df1, z1):
    return delta3(dL_dy_hat, df3, z3) * w3 * df1(z1) * w1''')
    q2 = '''
graph_edges = [("x", "h"), ("h", "y"), ("x", "z")]
dy_dz = 0
'''
    q3 = Q3_PLAIN.format(text="Net-1: 1 unit, sigmoid. Net-2: 2 units, softmax.")
    q4 = Q4_DIVIDE.format(text=(
        "Yes because age and income have very different ranges. Normalize by dividing by 10000 and 100."))
    q5 = Q5_NUMPY.format(text=(
        "No, because the weights were trained without the activation, so the outputs would change."))
    return student("erin", q1, q2, q3, q4, q5)


def frank() -> nbformat.NotebookNode:
    """Grad. Reads y's equation as depending on z: edge z->y instead of h->y, and consistently
    dy_dz = y*(1-y)."""
    q2 = '''
graph_edges = [("x", "h"), ("x", "z"), ("z", "y")]
dy_dz = "y*(1 - y)"   # derivative of the sigmoid
'''
    q3 = Q3_PLAIN.format(text=(
        "Net-1 uses a single sigmoid unit (binary cross-entropy takes one probability); Net-2 uses two "
        "units followed by softmax (cross-entropy takes a distribution over the classes)."))
    q4 = Q4_MINMAX.format(text=(
        "Necessary. The squared income error is on a scale of 10^8 while the age error is at most 10^4, "
        "so the gradient is dominated by income. Standardize both outputs (subtract mean, divide by std) "
        "and undo it at prediction time."))
    q5 = Q5_NUMPY.format(text=(
        "No. The weights were learned to make the linear output match the targets; adding an activation "
        "later changes the mapping, so predictions are different from what training optimised."))
    notes = {2: "y is the sigmoid of the previous node, so dy/dz = sigmoid'(z) = y(1 - y)."}
    return student("frank", Q1_STRINGS, q2, q3, q4, q5, notes)


def grace() -> nbformat.NotebookNode:
    """Undergrad. Q1 as lambdas; a graph with operation nodes (right); answers Yes to 5.4 with a
    careful argument about ReLU clipping (review: half the item provisionally)."""
    q1 = '''
dL_dw1 = lambda dL_dy_hat, df3, z3, w3, df1, z1, x: dL_dy_hat * df3(z3) * w3 * df1(z1) * x
dL_dw2 = lambda dL_dy_hat, df3, z3, w4, df2, z2, x: dL_dy_hat * df3(z3) * w4 * df2(z2) * x
dL_dw3 = lambda dL_dy_hat, df3, z3, h1: dL_dy_hat * df3(z3) * h1
dL_dw4 = lambda dL_dy_hat, df3, z3, h2: dL_dy_hat * df3(z3) * h2
dL_db1 = lambda dL_dy_hat, df3, z3, w3, df1, z1: dL_dy_hat * df3(z3) * w3 * df1(z1)
dL_db2 = lambda dL_dy_hat, df3, z3, w4, df2, z2: dL_dy_hat * df3(z3) * w4 * df2(z2)
dL_db3 = lambda dL_dy_hat, df3, z3: dL_dy_hat * df3(z3)
dL_dx = lambda dL_dy_hat, df3, z3, w1, w2, w3, w4, df1, df2, z1, z2: (
    dL_dy_hat * df3(z3) * w3 * df1(z1) * w1 + dL_dy_hat * df3(z3) * w4 * df2(z2) * w2)
'''
    q2 = '''
graph_edges = [
    ("x", "*2"), ("*2", "+1"), ("+1", "h"),
    ("x", "square"), ("square", "z"),
    ("h", "sigmoid"), ("sigmoid", "y"),
]
dy_dz = 0.0
'''
    q3 = Q3_PLAIN.format(text="Net-1 -> one output unit, sigmoid (logistic). Net-2 -> two output units, softmax.")
    q4 = Q4_MINMAX.format(text=(
        "Yes. Income values are much larger than ages, so the income error dominates the MSE loss. "
        "Apply min-max normalization to both outputs and targets."))
    q5 = '''
import numpy as np

f_nonneg = lambda z: np.logaddexp(0, z)
f_nonpos = lambda z: -np.logaddexp(0, -z)
f_bounded = lambda z, a, b: a + (b - a) * (np.tanh(z) + 1) / 2

q5_4_answer = True
q5_4_explanation = (
    "Partly yes: for y >= 0 a ReLU clip added after training only moves negative predictions to 0, "
    "which can only bring them closer to a non-negative target, so it never makes the loss worse. "
    "But a squashing activation like sigmoid would change the outputs the weights were trained for, "
    "so in general it should be part of training.")
'''
    notes = {5: ("**5.4**: I answered *yes*, but only for a clipping activation like ReLU; "
                 "see my explanation.")}
    return student("grace", q1, q2, q3, q4, q5, notes)


def heidi() -> nbformat.NotebookNode:
    """Grad. Right graph, but gives dy/dh as dy_dz: y*(1-y)."""
    q2 = '''
graph_edges = [("x", "h"), ("x", "z"), ("h", "y")]
dy_dz = "y*(1-y)"
'''
    q3 = Q3_PLAIN.format(text=(
        "For BCE the last layer is a single neuron with a sigmoid. For CE it has as many neurons as "
        "classes (two) and a softmax."))
    q4 = Q4_MINMAX.format(text=(
        "Output normalization is needed: otherwise the loss is dominated by the income term because of "
        "its larger magnitude. Scale income by 1/10000 and age by 1/100."))
    q5 = '''
import numpy as np


def f_nonneg(z):
    return np.logaddexp(0, z)       # softplus


def f_nonpos(z):
    return -np.logaddexp(0, z)


def f_bounded(z, a, b):
    return a + (b - a) * (0.5 + 0.5 * np.tanh(z / 2))


q5_4_answer = False
q5_4_explanation = ("No. Training fitted the weights to the output without the activation; the "
                    "activation would change the output afterwards.")
'''
    return student("heidi", Q1_STRINGS, q2, q3, q4, q5)


def ivan() -> nbformat.NotebookNode:
    """Undergrad. Softmax on a single unit for Net-2 (net2_output_units = 1); his Q3 explanation
    never mentions two units (3 of 4 groups). Did not do the Q5 bonus (cells deleted)."""
    q3 = '''
net1_output_units = 1
net1_output_activation = "sigmoid"
net2_output_units = 1
net2_output_activation = "softmax"
q3_explanation = "BCE needs a sigmoid on a single logit; CE needs softmax over the class logits."
'''
    q4 = Q4_MINMAX.format(text=(
        "Yes, otherwise the income error dominates. I normalize with min-max scaling to [0,1] so both "
        "outputs contribute equally to the MSE loss."))
    return student("ivan", Q1_STRINGS, Q2_PLAIN, q3, q4, None)


def judy() -> nbformat.NotebookNode:
    """Grad. Thinks no output normalization is needed: False and identity functions (normalize fails
    the comparable-scales check; the identity pair still round-trips). Her Q4 explanation has only
    1 of 3 keyword groups."""
    q4 = '''
output_normalization_needed = False


def normalize_output(Y):
    return Y          # nothing to do


def denormalize_output(Yn):
    return Yn


q4_explanation = ("Not necessary: the last layer is linear, so the network can output values of any "
                  "magnitude; it just learns bigger weights for the income unit.")
'''
    q3 = Q3_PLAIN.format(text="Net-1 has one sigmoid output; Net-2 has two outputs with a softmax.")
    q5 = Q5_NUMPY.format(text=(
        "No - the weights were trained for an unbounded output, and an activation added later changes "
        "the outputs, so the loss they minimised no longer applies."))
    return student("judy", Q1_STRINGS, Q2_PLAIN, q3, q4, q5)


def ken() -> nbformat.NotebookNode:
    """Grad. Uses a plain sigmoid as the non-negative activation (never exceeds 1: wrong for a price);
    clips for the bounded one."""
    q5 = '''
import numpy as np


def f_nonneg(z):
    return 1 / (1 + np.exp(-z))     # sigmoid is always > 0


def f_nonpos(z):
    return np.minimum(z, 0)


def f_bounded(z, a, b):
    return np.clip(z, a, b)


q5_4_answer = False
q5_4_explanation = ("No; the outputs change when the activation is inserted after the weights are "
                    "learned, so the loss was minimised for a different model.")
'''
    q3 = Q3_PLAIN.format(text="Sigmoid + 1 unit for BCE, softmax + 2 units for CE.")
    q4 = Q4_DIVIDE.format(text=(
        "Yes. Income has a range 100x larger than age, so it would dominate the MSE. Normalize each "
        "output by its range."))
    return student("ken", Q1_STRINGS, Q2_PLAIN, q3, q4, q5)


def liam() -> nbformat.NotebookNode:
    """Grad. Puts a softmax on Net-1's single unit (net1_output_activation wrong; his explanation
    never names the sigmoid: 3 of 4 groups). Uses exp(z) as the non-negative activation, which is
    right (it overflows to +inf only for huge z)."""
    q3 = '''
net1_output_units = 1
net1_output_activation = "softmax"
net2_output_units = 2
net2_output_activation = "softmax"
q3_explanation = "Net-1: one unit; Net-2: two units with softmax so the class probabilities sum to 1."
'''
    q4 = Q4_MINMAX.format(text=(
        "Necessary: the income term is 10^4 times larger in the loss. Use min-max normalization on both "
        "outputs."))
    q5 = '''
import numpy as np

f_nonneg = np.exp                    # e^z > 0
f_nonpos = lambda z: -np.logaddexp(0, z)
f_bounded = lambda z, a, b: a + (b - a) * (1 + np.tanh(z)) / 2
q5_4_answer = False
q5_4_explanation = "No, since the trained weights assume no activation; adding one later distorts the outputs."
'''
    return student("liam", Q1_STRINGS, Q2_PLAIN, q3, q4, q5)


def mallory() -> nbformat.NotebookNode:
    """Undergrad. Her Q3 cell raises NameError on its first line (sigmoid without quotes), so none of
    the Q3 names exist; the cells after it still run."""
    q3 = '''
net1_output_activation = sigmoid
net1_output_units = 1
net2_output_units = 2
net2_output_activation = softmax
q3_explanation = "One sigmoid unit for BCE and two softmax units for CE."
'''
    q4 = Q4_DIVIDE.format(text=(
        "Yes. Without it the MSE is dominated by income because its range is 100 times larger. "
        "Normalize: divide income by 10000 and age by 100."))
    q5 = Q5_NUMPY.format(text=(
        "No. The weights were trained without the activation so the predictions would change."))
    return student("mallory", Q1_STRINGS, Q2_PLAIN, q3, q4, q5)


def nina() -> nbformat.NotebookNode:
    """Grad. All expressions as strings; writes z^2 and -z^2 (XOR in Python) for the non-negative and
    non-positive activations: two expression errors, not powers."""
    q1 = '''
dL_dw1 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*w3*df1(w1*x + b1)*x"
dL_dw2 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*w4*df2(w2*x + b2)*x"
dL_dw3 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*h1"
dL_dw4 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*h2"
dL_db1 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*w3*df1(w1*x + b1)"
dL_db2 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*w4*df2(w2*x + b2)"
dL_db3 = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*1"
dL_dx = "dL_dy_hat*df3(w3*h1 + w4*h2 + b3)*(w1*w3*df1(w1*x + b1) + w2*w4*df2(w2*x + b2))"
'''
    q3 = Q3_PLAIN.format(text="Net-1: single output + sigmoid. Net-2: two outputs + softmax.")
    q4 = Q4_MINMAX.format(text=(
        "Yes, income's scale (0-10000) is far larger than age's (0-100) and would dominate the loss; "
        "min-max normalize both columns."))
    q5 = '''
f_nonneg = "z^2"
f_nonpos = "-z^2"
f_bounded = "a + (b - a)/(1 + exp(-z))"
q5_4_answer = False
q5_4_explanation = ("No: the network learned its weights for a linear output; adding the activation "
                    "after training changes the predictions.")
'''
    return student("nina", q1, Q2_PLAIN, q3, q4, q5)


def oscar() -> nbformat.NotebookNode:
    """Undergrad. Everything right, all strings in a different order of factors; skipped the Q5
    bonus (left the template's None values)."""
    q1 = '''
dL_dw1 = "x*df1(z1)*w3*df3(z3)*dL_dy_hat"
dL_dw2 = "x*df2(z2)*w4*df3(z3)*dL_dy_hat"
dL_dw3 = "h1*df3(z3)*dL_dy_hat"
dL_dw4 = "h2*df3(z3)*dL_dy_hat"
dL_db1 = "df1(z1)*w3*df3(z3)*dL_dy_hat"
dL_db2 = "df2(z2)*w4*df3(z3)*dL_dy_hat"
dL_db3 = "df3(z3)*dL_dy_hat"
dL_dx = "w1*df1(z1)*w3*df3(z3)*dL_dy_hat + w2*df2(z2)*w4*df3(z3)*dL_dy_hat"
'''
    q2 = '''
graph_edges = [("x", "h"), ("x", "z"), ("h", "y")]
dy_dz = "0"
'''
    q3 = Q3_PLAIN.format(text="Net-1: one unit, sigmoid activation. Net-2: two units, softmax activation.")
    q4 = Q4_MINMAX.format(text=(
        "Yes, normalization is necessary, since the income is on a much larger scale than the age and "
        "would dominate the MSE loss. Apply min-max scaling: income/10000, age/100."))
    return student("oscar", q1, q2, q3, q4, TEMPLATE_Q5)


STUDENTS = [alice, bob, carol, dave, erin, frank, grace, heidi, ivan, judy, ken, liam, mallory, nina, oscar]

EXTRA_FILES = {
    "alice/notes.txt": "scratch work for Q1: delta3 = dL/dy_hat * f3'(z3), then go back one layer.\n",
}


def roster() -> str:
    rows = ["student,level,name,email"]
    rows += [f"{sid},{level},{name},{sid}@example.edu" for sid, level, name in CLASS]
    return "\n".join(rows) + "\n"


def main() -> None:
    write(reference(), REFERENCE / "H3P1.ipynb")
    write(template(), REFERENCE / "H3P1_template.ipynb")
    SUBMISSIONS.mkdir(parents=True, exist_ok=True)
    (SUBMISSIONS / "roster.csv").write_text(roster(), encoding="utf-8")
    for make in STUDENTS:
        write(make(), SUBMISSIONS / make.__name__ / "H3P1.ipynb")
    for rel, text in EXTRA_FILES.items():
        (SUBMISSIONS / rel).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
