"""How Part 2 messages write numbers, shapes, columns and probes; and the `runs` item both tasks share."""

from __future__ import annotations

import math
from dataclasses import replace

from ...model import PIP_ENAME, Finding, NotebookRun


def fmt(x: float) -> str:
    """A number for a message: 2.3e7, 10234.5, 0.0012."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.4g}" if abs(x) < 1 else f"{x:.1f}".rstrip("0").rstrip(".")
    mant, exp = f"{x:.1e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def shape_text(shape, n: int) -> str:
    """(1000, 2) -> "(N, 2)" when 1000 is the number of rows sent."""
    if not isinstance(shape, (list, tuple)):
        return "?"
    dims = ["N" if d == n else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def scale_label(scale: float) -> str:
    """-1 -> "-X"; 1e6 -> "X*1e6"; -1000 -> "X*-1e3"; 2.5 -> "X*2.5"."""
    if scale == -1:
        return "-X"
    if scale == 1:
        return "X"
    power = math.log10(abs(scale)) if scale else 0.0
    if power >= 2 and power == int(power):
        return f"X*{'-' if scale < 0 else ''}1e{int(power)}"
    return f"X*{fmt(float(scale))}"


def column_name(names: tuple[str, ...] | None, j: int) -> str:
    """How a message names feature column j: its CSV header (`x3`), else its 1-based position."""
    return f"`{names[j]}`" if names and 0 <= j < len(names) else f"number {j + 1}"


_VERBS = {"error": "raised", "timeout": "timed out", "kernel_died": "killed the kernel", "limit": "hit a limit"}


def runs_finding(run: NotebookRun, called_with: dict[str, str]) -> Finding:
    """Item `runs`: the notebook ran top to bottom without error (and how the grader had to call a
    function that refused a NumPy array, which costs nothing)."""
    # A `!pip install` line that fails for lack of network raised nothing, and ran on the student's
    # machine: it costs no point (an import that needed it fails on its own and counts).
    failures = [f for f in run.failures if f.ename != PIP_ENAME]
    problems = []
    if run.status != "ok":
        problems.append(f"the notebook did not finish ({run.status.replace('_', ' ')}"
                        + (f": {run.reason}" if run.reason else "") + ")")
    for fail in failures[:2]:
        what = f"{fail.ename}: {fail.evalue}" if fail.kind == "error" else ""
        problems.append(f"cell {fail.index + 1} {_VERBS.get(fail.kind, 'failed')}" + (f" {what}"[:300] if what else ""))
    if len(failures) > 2:
        problems.append(f"{len(failures) - 2} more cell(s) failed")
    finding = Finding("runs", "fail", 0.0, "; ".join(problems) + " (cells counted from 1)") if problems \
        else Finding("runs", "pass", 1.0, "the notebook ran top to bottom without error")
    said = [f"{name}(X) was called with {how}, as it did not accept the NumPy array the contract names "
            "(no points lost)" for name, how in called_with.items()]
    return replace(finding, message=finding.message + "; " + "; ".join(said)) if said else finding
