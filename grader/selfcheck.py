"""`grader check NOTEBOOK...`: the students' self-check before the deadline.

Notebook files -> what would lose points on the public checks, in the report's words; never a
score, never a verdict on correctness. A notebook goes the way grading takes it: its task from the
file name (discovery's rules), the same sandbox and limits (execute_work), the same extraction and
the real checkers. What differs is what they are given, and which of their findings are shown:

- A public rubric (`public_rubric`) that holds no secret: every item is worth 0 (there is no score to
  show), no keyword lists, no bars (the hidden-set items are never run). Its item names are the
  contract's, its probe settings those of the shipped rubric (a test keeps them in step), its seed its
  own. The instructor's rubric file is never read: a student's `pip install` does not have it.
- No hidden set and no labels: Part 2 probes take a sample of the TRAINING features as the 'hidden'
  ones (`probe_set`), so the output-layer, shape and range checks run on rows the student has.
- No reference solution: nothing is compared with one.

Filter (`public_view`):
- Part 1, every item: only problems of form are shown (a name that is missing or None, an expression
  that does not parse or evaluate, a callable that raises or returns the wrong shape, a value of the
  wrong type). The checkers raise Verdict for exactly these; what they return is a verdict on
  correctness, which becomes "answer present, graded after the deadline".
- Part 2: the structural items (PART2_PUBLIC) are shown as the checker judges them; the hidden-set
  items (PART2_LATER) need labels and are not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from . import extract
from .checks import CHECKERS
from .checks.part1 import Q1_NAMES, check_part1
from .checks.part1 import ITEM_CHECKS as PART1_CHECKS  # the per-item checks, to tell form from correctness
from .checks.part1.common import Verdict
from .checks.part2.request import training_sample
from .discover import task_of  # discovery's own rules, not a copy
from .errors import SettingsError
from .integrity import holds_points
from .model import PIP_ENAME, PROJECT, Answers, Finding, HiddenSet, NotebookRun, Settings, Submission
from .prepare import plan_task, training_set
from .rubric import Rubric
from .sandbox import bwrap_status
from .work import execute_work

PART1_ITEMS: dict[str, tuple[str, ...]] = {
    "Q1": Q1_NAMES,
    "Q2": ("graph_edges", "dy_dz"),
    "Q3": ("net1_output_units", "net1_output_activation", "net2_output_units", "net2_output_activation",
           "q3_explanation"),
    "Q4": ("output_normalization_needed", "normalize_output", "denormalize_output", "q4_explanation"),
    "Q5": ("f_nonneg", "f_nonpos", "f_bounded", "q5_4_answer", "q5_4_explanation"),
}
"""The contract's Part 1 names by question (CONTRACT.md §2): only their form is checked."""
PART2_PUBLIC: dict[str, tuple[str, ...]] = {
    "H3P2T1": ("runs", "net1_output_units", "net2_output_units", "net1_loss", "net2_loss", "input_normalization"),
    "H3P2T2": ("runs", "output_units", "output_normalization", "predict_shape", "output_range"),
}
"""Part 2 items judged without labels, bars or a solution: shown as the checker says."""
PART2_LATER: dict[str, tuple[str, ...]] = {
    "H3P2T1": ("net1_accuracy", "net2_accuracy"),
    "H3P2T2": ("income_error", "age_error"),
}
"""Part 2 items scored on the hidden test set: never run here."""

SEED = 13
"""The self-check's own random points (Q1's test points, the training rows sampled)."""
PROBE_ROWS = 1000
"""Training rows that stand in for the hidden features (as many as the hidden set has)."""
PUBLIC_CHECKS = {
    "Q1": {"points": 200, "activations": ["sigmoid", "tanh", "softplus", "sin", "identity"], "loss": "bce"},
    "Q4": {"samples": 500},
    "Q5": {"z": [-1e6, -1e3, -100, -30, -10, -3, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 3, 10, 30, 100, 1e3, 1e6],
           "bounds": [[0, 1], [-3, 5], [10, 1000], [-10000, -100]]},
}
"""Where callables are called: as in rubrics/hw3.yaml `checks:` (tests/test_selfcheck.py compares)."""

NOT_A_GRADE = ("Not a grade: these checks only find problems that can be seen without the solutions or the "
               "test set. A notebook that passes them can still lose marks: whether your answers are right and "
               "how well your models do on the test set are graded after the deadline.")
LATER = "graded after the deadline"
TASK_WORDS = {"H3P1": "Part 1", "H3P2T1": "Part 2, classification", "H3P2T2": "Part 2, regression"}

Kind = Literal["ok", "problem", "later"]


@dataclass(frozen=True)
class Checked:
    """One item as the self-check shows it."""

    question: str
    item: str
    kind: Kind
    """"ok": a public check found nothing; "problem": it would lose points (message says why);
    "later": its correctness is graded after the deadline, nothing is said about it."""
    message: str = ""


@dataclass(frozen=True)
class NotebookCheck:
    """One notebook's self-check: what is shown, and nothing that could be read as a score."""

    path: Path
    task: str
    run: NotebookRun
    items: tuple[Checked, ...]
    problems: tuple[str, ...]
    """Every line that would lose points: the run's own (cells, tampering), then the items'."""
    notes: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- what the checkers get


def public_rubric() -> Rubric:
    """A rubric with the contract's items at 0 points, the public probe settings, no keywords, no bars."""
    zero = {"undergrad": 0, "grad": 0}
    questions = {q: {"title": q, "task": "H3P1", "points": zero, "items": {i: zero for i in items}}
                 for q, items in PART1_ITEMS.items()}
    questions |= {task: {"title": task, "task": task, "points": zero, "items": {i: zero for i in items}}
                  for task, items in PART2_PUBLIC.items()}
    return Rubric.model_validate({"seed": SEED, "max_total": zero, "questions": questions,
                                  "checks": PUBLIC_CHECKS, "keywords": {}})


def probe_set(train: HiddenSet | None, seed: int = SEED) -> HiddenSet | None:
    """The training features standing in for the hidden ones (a seeded sample), labels dropped."""
    if train is None:
        return None
    return HiddenSet(train.task, training_sample(train.X, PROBE_ROWS, seed), None, train.features)


def form_problems(answers: Answers, rubric: Rubric) -> dict[str, Finding]:
    """Item -> its problem of form: the Verdict its Part 1 check raises (a parse error, a callable that
    raised, a wrong type or shape). An answer whose check returns has the right form."""
    found = {}
    for item, value in answers.values.items():
        check = PART1_CHECKS.get(item)
        if check is None or value.kind == "none":
            continue
        try:
            check(item, value, answers, rubric)
        except Verdict as bad:
            found[item] = Finding(item, bad.status, 0.0, bad.message)
        except Exception:  # the grader's own bug: check_part1's finding says "error" for it
            continue
    return found


# ----------------------------------------------------------------------------- the filter


def question_of(task: str, item: str) -> str:
    return next((q for q, items in PART1_ITEMS.items() if item in items), "?") if task == "H3P1" else task


def public_view(task: str, findings: list[Finding], form: dict[str, Finding]) -> list[Checked]:
    """The real checkers' findings -> what a student may see (see the module's doc). `form` is
    form_problems' result (Part 1); the hidden-set items of Part 2 come out as "later" however judged."""
    shown = []
    for f in findings:
        question = question_of(task, f.item)
        if task != "H3P1":
            public = f.item in PART2_PUBLIC.get(task, ())
            kind = "later" if not public else "ok" if f.status == "pass" else "problem"
            shown.append(Checked(question, f.item, kind, f.message if kind == "problem" else ""))
        elif f.status in ("missing", "error"):  # absent, still None, empty; or not checkable
            shown.append(Checked(question, f.item, "problem", f.message))
        elif f.item in form:
            shown.append(Checked(question, f.item, "problem", form[f.item].message))
        else:
            shown.append(Checked(question, f.item, "later"))
    judged = {f.item for f in findings}
    shown += [Checked(task, item, "later") for item in PART2_LATER.get(task, ()) if item not in judged]
    return shown


def _item_line(c: Checked) -> str:
    # The stand-in rows are training rows: a message must not call them hidden.
    return f"{c.question} {c.item}: {c.message.replace('the hidden rows', 'the training rows')}"


def run_problems(run: NotebookRun) -> list[str]:
    """What the run itself would cost: Part 1 has no `runs` item, so its failing cells are named here
    (as the report names them); signs of tampering hold every point of a notebook."""
    lines = []
    if run.task == "H3P1" and run.status == "unreadable":
        lines.append(f"the notebook could not be read: {run.reason}")
    elif run.task == "H3P1" and run.status != "ok":
        lines.append(f"the notebook did not finish ({run.status.replace('_', ' ')}: {run.reason})")
    if run.task == "H3P1":
        lines += [f"cell {f.number} failed ({f.kind}): {f.ename}: {f.evalue}" + (f" {f.hint}" if f.hint else "")
                  for f in run.failures if f.ename != PIP_ENAME]
    signs = [sign for sign in run.tampering if holds_points(sign)]
    if signs:
        lines.append(f"signs of tampering with the grader ({'; '.join(signs[:3])}): a notebook with such signs "
                     "keeps no points until an instructor has looked")
    return lines


# ----------------------------------------------------------------------------- one notebook


def resolve(path: Path, data: Path | None) -> tuple[str, Path]:
    """(task, training data folder) for a notebook the student named, or a SettingsError saying why not."""
    path = Path(path)
    if not path.is_file():
        why = "is a folder, not a notebook" if path.is_dir() else "file not found"
        raise SettingsError(path, "", why, "give the path of a notebook, e.g. grader check H3P1.ipynb")
    task, _ = task_of(path.name)
    if task is None:
        raise SettingsError(path, "", "is not named as a notebook of the contract, so it would not be graded",
                            "name it H3P1.ipynb, H3P2T1_<framework>.ipynb or H3P2T2_<framework>.ipynb (CONTRACT.md §1)")
    if task == "H3P1":
        return task, data or path.parent / "data"
    csv = f"{task}_train.csv"
    candidates = [Path(data)] if data is not None else [path.parent / "data", PROJECT / "reference" / "data"]
    found = next((folder for folder in candidates if (folder / csv).is_file()), None)
    if found is None:
        raise SettingsError(candidates[0] / csv, "", "training data not found",
                            "keep the handout's data/ folder next to the notebook, or pass --data DIR")
    return task, found


def check_notebook(path: Path, task: str, settings: Settings, rubric: Rubric) -> NotebookCheck:
    """Run one notebook as grading does (same sandbox and limits) and apply the public checks."""
    from .pipeline import notebook_work

    probe = probe_set(training_set(settings, task))
    plan = plan_task(task, rubric, probe, settings)
    item = notebook_work(Submission("self-check", "grad", path.parent), task, path, plan, settings)
    run = item if isinstance(item, NotebookRun) else execute_work(item)
    answers = extract.read_answers(run, plan.request)
    checks = CHECKERS[task]
    if task == "H3P1":
        findings, form = check_part1(answers, rubric), form_problems(answers, rubric)
    else:
        findings, form = checks.check(checks.observe(answers, run), run, rubric, probe), {}
    items = tuple(public_view(task, findings, form))
    return NotebookCheck(path, task, run, items, tuple(problem_lines(run, items)), _notes(path, task, run, answers))


def problem_lines(run: NotebookRun, items: tuple[Checked, ...]) -> list[str]:
    """The run's problems, then each item's; a notebook that gave no answers at all gets one line for
    its items instead of the same reason once per item."""
    shown = [c for c in items if c.kind == "problem"]
    if run.payload is None and shown:
        lost = "no answer came back from the notebook, so none of its items can be checked: each would be lost"
        return run_problems(run) + [_item_line(c) for c in shown if c.item == "runs"] + [lost]
    return run_problems(run) + [_item_line(c) for c in shown]


def _notes(path: Path, task: str, run: NotebookRun, answers: Answers) -> tuple[str, ...]:
    notes = list(answers.notes)
    if not task_of(path.name)[1]:
        notes.append(f"accepted as {task}, but hand it in as {task}{'' if task == 'H3P1' else '_<framework>'}.ipynb")
    notes += [run.rerun] if run.rerun else []
    notes += [f"cell {f.number}: {f.hint}" for f in run.failures if task != "H3P1" and f.hint]
    notes += [f"{sign.replace(': note: ', ' ', 1)}: an instructor will look at it; it costs nothing"
              for sign in run.tampering if not holds_points(sign)]
    return tuple(notes)


# ----------------------------------------------------------------------------- what is printed


def render(check: NotebookCheck) -> list[str]:
    """The lines for one notebook: its problems with their reasons, the rest as counts."""
    run = check.run
    took = f" in {run.seconds:.1f} s" if run.seconds else ""
    lines = [f"{check.path}: checked as {check.task} ({TASK_WORDS[check.task]}){took}"]
    if check.problems:
        lines.append(f"  {len(check.problems)} problem(s) that would lose points:")
        lines += [f"  - {problem}" for problem in check.problems]
        if any(c.question == "Q5" and c.kind == "problem" for c in check.items):
            lines.append("    (Q5 is for graduate students; a bonus for undergraduates)")
    else:
        lines.append("  no problem found by the public checks")
    ok = sum(c.kind == "ok" for c in check.items)
    later = [c.item for c in check.items if c.kind == "later"]
    if ok:
        lines.append(f"  {ok} public check(s) found nothing wrong")
    if later and check.task == "H3P1":
        lines.append(f"  {len(later)} answer(s) present, {LATER} (whether they are right is not checked here)")
    elif later:
        lines.append(f"  {LATER}, on the hidden test set: {', '.join(later)}")
    lines += [f"  note: {note}" for note in check.notes]
    return lines


def sandbox_line() -> str:
    """"" when the grader's sandbox works here; else the one line that says the notebook runs unconfined."""
    bwrap, why = bwrap_status()
    if bwrap is not None:
        return ""
    return (f"sandbox: reduced ({why}): your notebooks run as plain processes, without the grader's "
            "isolation; that is fine for your own code, and the checks are the same")


def check_main(paths: tuple[Path, ...], data: Path | None, timeout: float, cell_timeout: float,
               memory_gib: float, echo: Callable[..., None]) -> int:
    """`grader check`: every notebook named (all resolved before the first kernel starts) -> printed
    lines; exit code 0 when nothing would lose points on the public checks, 1 when something would."""
    resolved = [(Path(p), *resolve(Path(p), data)) for p in paths]
    rubric = public_rubric()
    warning = sandbox_line()
    if warning:
        echo(f"warning: {warning}", err=True)
    found = False
    for path, task, folder in resolved:
        echo(f"running {path.name} in a fresh kernel, top to bottom ...", err=True)
        settings = Settings(submissions=path.parent, data=folder, timeout=timeout, cell_timeout=cell_timeout,
                            memory_gib=memory_gib)
        check = check_notebook(path, task, settings, rubric)
        found = found or bool(check.problems)
        echo("\n".join(render(check)))
    echo(NOT_A_GRADE)
    return 1 if found else 0
