"""Item both_frameworks: the bonus task comes in every required framework, each notebook clean."""

from __future__ import annotations

from ...model import Finding, TaskResult
from ...rubric import Rubric
from .observe import Observed, framework_of

STRUCTURAL = {
    "H3P2T1": ("runs", "net1_output_units", "net2_output_units", "net1_loss", "net2_loss", "input_normalization"),
    "H3P2T2": ("runs", "output_units", "output_normalization", "predict_shape", "output_range"),
}
"""Items a notebook must pass for the frameworks bonus ("no bugs in your code")."""
BONUS_ITEM = "both_frameworks"
FRAMEWORK_NAMES = {"torch": "PyTorch", "keras": "Keras"}


def _faults(result: TaskResult, structural: tuple[str, ...]) -> list[str]:
    by_item = {f.item: f for f in result.findings}
    run, faults = result.run, []
    if run.status != "ok" or run.failures or ("runs" in by_item and by_item["runs"].status != "pass"):
        faults.append("it did not run without error")
    failed = [i for i in structural if i != "runs" and i in by_item and by_item[i].status != "pass"]
    if failed:
        faults.append("it fails " + ", ".join(failed))
    return faults


def check_frameworks_bonus(notebooks: list[TaskResult], rubric: Rubric) -> Finding:
    """A notebook is clean when it ran without error and passed the task's structural items
    (STRUCTURAL[task] that appear in its findings). Notebooks of other tasks are ignored."""
    task, need = rubric.frameworks_bonus.task, rubric.frameworks_bonus.frameworks
    structural = STRUCTURAL.get(task, ("runs",))
    mine = [r for r in notebooks if r.run.task == task and isinstance(r.observed, Observed)]
    found, problems = [], []
    for fw in need:
        label = FRAMEWORK_NAMES.get(fw, fw)
        candidates = [r for r in mine if framework_of(r.observed.observation) == fw]
        if not candidates:
            problems.append(f"no {label} notebook for {task}")
            continue
        why = []
        for result in candidates:
            faults = _faults(result, structural)
            if not faults:
                found.append(f"{label} ({result.run.path.name})")
                break
            why.append(f"the {label} notebook {result.run.path.name}: " + " and ".join(faults))
        else:
            problems.append("; ".join(why))
    if problems:
        return Finding(BONUS_ITEM, "fail", 0.0, "; ".join(problems))
    return Finding(BONUS_ITEM, "pass", 1.0, f"{task} comes in " + " and ".join(found) + ", each running without "
                                            "error and passing its structural checks")
