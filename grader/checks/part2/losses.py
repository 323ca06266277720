"""Which loss a net is trained with, and whether it agrees with what the net outputs.

A loss reaches the grader as names (grader/kernel/part2.py looks at the object); this module maps
them to kinds:
  "bce"         expects probabilities (nn.BCELoss, 'binary_crossentropy')
  "bce_logits"  applies sigmoid itself (nn.BCEWithLogitsLoss, BinaryCrossentropy(from_logits=True))
  "ce"          Keras categorical cross-entropy, expects probabilities
  "ce_logits"   applies (log-)softmax itself (nn.CrossEntropyLoss, from_logits=True)
  "nll"         expects log-probabilities (nn.NLLLoss)
  "regression", "unknown", or "none" when there is no loss.
"""

from __future__ import annotations

import math
from typing import Any

from .observe import Loss
from .words import fmt

_LOSS_KINDS = {
    "bceloss": "bce", "binarycrossentropy": "bce", "bce": "bce", "binaryfocalcrossentropy": "bce",
    "bcewithlogitsloss": "bce_logits", "binarycrossentropywithlogits": "bce_logits",
    "crossentropyloss": "ce_logits", "crossentropy": "ce_logits",
    "categoricalcrossentropy": "ce", "sparsecategoricalcrossentropy": "ce", "categoricalfocalcrossentropy": "ce",
    "nllloss": "nll", "nll": "nll",
    "mseloss": "regression", "mse": "regression", "meansquarederror": "regression", "l1loss": "regression",
    "mae": "regression", "meanabsoluteerror": "regression", "huberloss": "regression", "huber": "regression",
    "smoothl1loss": "regression", "hinge": "regression", "hingeembeddingloss": "regression",
}

KIND_WORDS = {
    "probability": "sigmoid-like outputs (values in [0, 1])",
    "softmax": "softmax outputs (rows sum to 1)",
    "log_softmax": "log-softmax outputs",
    "logits": "logits (unbounded outputs)",
    "constant_one": "a softmax over one unit (always 1)",
}

AGREES = {"bce": ("probability", "softmax"), "bce_logits": ("logits",), "ce": ("softmax",),
          "ce_logits": ("logits", "log_softmax"), "nll": ("log_softmax",)}
"""Loss kind -> the output kinds it is right for."""


def _norm_name(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def loss_kind(loss: Loss | None) -> tuple[str, str]:
    """(kind, display name) of a loss the kernel described."""
    if loss is None:
        return "none", ""
    kind = _LOSS_KINDS.get(_norm_name(loss.name)) or _LOSS_KINDS.get(_norm_name(loss.fn_name), "unknown")
    if kind == "bce" and loss.from_logits:
        kind = "bce_logits"
    elif kind == "ce" and loss.from_logits:
        kind = "ce_logits"
    if loss.kind == "str":
        display = f"loss={loss.name!r}"
    elif loss.module.startswith("torch.nn.modules"):
        display = f"nn.{loss.name}"
    elif loss.module.startswith("torch.nn.functional"):
        display = f"F.{loss.name}"
    else:
        display = loss.name + ("(from_logits=True)" if loss.from_logits else "")
    return kind, display


def disagreement(net: str, kind: str, loss: str, out: str, example: float) -> str | None:
    """Why a net's outputs (kind `out`) do not suit its loss (kind `kind`, shown as `loss`), or None
    when they agree. Says what to change."""
    if out in AGREES[kind]:
        return None
    squash = "softmax" if out in ("softmax", "constant_one") else "sigmoid" if out == "probability" else ""
    shown = f" (e.g. {fmt(example)})" if math.isfinite(example) and out == "logits" else ""
    if squash and kind in _SQUASHED:
        return _SQUASHED[kind](net, squash, loss)
    if kind == "bce" and out == "constant_one":
        return f"{net} applies softmax over its single output unit, so it always outputs 1: use a sigmoid"
    if kind == "bce":
        return (f"{net} gives {KIND_WORDS[out]}{shown}, but {loss} expects probabilities: add a sigmoid "
                f"(or use a loss that takes logits)")
    if kind == "ce" and out == "logits":
        return f"{net} outputs logits{shown}, but {loss} expects probabilities: add a softmax or set from_logits=True"
    if kind == "ce":
        return f"{net} gives {KIND_WORDS[out]}, but {loss} expects a softmax output (rows summing to 1)"
    if kind == "nll":
        return f"{net} gives {KIND_WORDS[out]}{shown}, but {loss} expects log-probabilities: add log_softmax"
    return f"{net} gives {KIND_WORDS.get(out, 'outputs the grader could not classify')}{shown}, " \
           f"which does not agree with {loss}"


def _bce_logits_squashed(net: str, squash: str, loss: str) -> str:
    if squash == "sigmoid":
        return f"{net} applies sigmoid before {loss}, which applies it again: output logits (no activation on the last layer)"
    return f"{net} applies {squash} before {loss}, which applies sigmoid itself: output logits (no activation on the last layer)"


def _ce_logits_squashed(net: str, squash: str, loss: str) -> str:
    inner = "log-softmax" if loss.startswith(("nn.", "F.")) else "softmax"
    return f"{net} applies {squash} before {loss}, which applies {inner} itself: output logits"


def _nll_squashed(net: str, squash: str, loss: str) -> str:
    return (f"{net} applies {squash} before {loss}, which expects log-probabilities: use log_softmax "
            f"(or logits with nn.CrossEntropyLoss)")


_SQUASHED = {"bce_logits": _bce_logits_squashed, "ce_logits": _ce_logits_squashed, "nll": _nll_squashed}
"""Loss kinds that apply their own squashing, or expect log-probabilities: the message when the net
already squashed its outputs."""
