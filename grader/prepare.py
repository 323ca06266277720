"""Settings + rubric -> what a run needs before its first notebook: the hidden sets, the training
data, and per task the request every notebook of that task is sent (built once per run).

Everything is checked here, before any kernel starts: a missing or unreadable file stops the run
with one line naming the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SettingsError
from .model import HiddenSet, KernelJob, Request, Settings
from .rubric import Rubric


@dataclass(frozen=True)
class TaskPlan:
    """What every notebook of one task is given and asked."""

    task: str
    request: Request
    job: KernelJob
    """The kernel-side modules and the request as data (hidden features, never labels)."""
    data: tuple[tuple[str, bytes], ...] = ()
    """Training files copied next to each notebook of the task: (name, content)."""


def load_hidden(settings: Settings, tasks: set[str]) -> dict[str, HiddenSet]:
    """The hidden test sets the class needs; a missing one stops the run (Part 2 cannot be scored)."""
    from .datasets import load_hidden as read_hidden

    folder = Path(settings.hidden)
    try:
        hidden = read_hidden(folder)
    except ValueError as exc:
        raise SettingsError(folder, "", f"hidden test set unreadable ({exc})", "write it again with grader make-data")
    for task in sorted(tasks - set(hidden)):
        raise SettingsError(folder / f"{task}_test.csv", "", "hidden test set not found",
                            "pass --hidden with the folder holding it, or create it with grader make-data --hidden-seed SECRET")
    return hidden


def training_files(settings: Settings, task: str) -> dict[str, Path]:
    if task == "H3P1":
        return {}
    path = Path(settings.data) / f"{task}_train.csv"
    if not path.exists():
        raise SettingsError(path, "", "training data not found", "pass --data with the folder holding the task's CSV")
    return {path.name: path}


def training_set(settings: Settings, task: str) -> HiddenSet | None:
    """The grader's own copy of a Part 2 task's training data: what input statistics are measured on."""
    from .datasets import read_task

    files = training_files(settings, task)
    if not files:
        return None
    try:
        return read_task(next(iter(files.values())), task)
    except ValueError as exc:
        raise SettingsError(next(iter(files.values())), "", f"training data unreadable ({exc})",
                            "write it again with grader make-data")


def check_settings(settings: Settings, tasks: set[str]) -> None:
    """Everything a run needs, checked before the first notebook: one line naming the fix if not."""
    for task in sorted(tasks - {"H3P1"}):
        training_set(settings, task)
    if settings.kernel_python is not None:
        from .sandbox import kernel_python_problem

        problem = kernel_python_problem(Path(settings.kernel_python))
        if problem:
            raise SettingsError(settings.kernel_python, "--kernel-python", problem,
                                "pass an interpreter that has ipykernel and the course environment installed")


def plan_task(task: str, rubric: Rubric, hidden: HiddenSet | None, settings: Settings) -> TaskPlan:
    from . import extract
    from .checks import CHECKERS  # SymPy: only when a notebook runs (torch waits for the first Q1 answer judged)

    checks = CHECKERS[task]
    request = checks.request(rubric, hidden, training_set(settings, task))
    data = tuple((name, path.read_bytes()) for name, path in training_files(settings, task).items())
    return TaskPlan(task, request, extract.kernel_code(request, checks.kernel_modules), data)


def plan_tasks(tasks: set[str], rubric: Rubric, hidden: dict[str, HiddenSet], settings: Settings) -> dict[str, TaskPlan]:
    return {task: plan_task(task, rubric, hidden.get(task), settings) for task in sorted(tasks)}
