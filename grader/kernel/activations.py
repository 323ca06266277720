"""The activation functions (and derivatives) Q1's answers are tried with: one table for both sides.

The grader computes the derivatives' values with it; in the kernel a probe argument
{"__fn__": "tanh"} becomes table()["tanh"], so a student's function gets the same f1 the truth used.
"""

import numpy as np


def sigmoid(z):
    # exp(-|z|) never overflows; both branches agree where they meet.
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def table():
    """Name -> NumPy function; "d_" + name -> its derivative."""
    return {
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
