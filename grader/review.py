"""`grader review`: the instructor's pass over provisional points -> overrides.yaml.

reports/<student>/report.json (items with status "review": free text, `q5_4_answer = True`, a loss
the checker could not classify, points held for tampering) + the code that set each answer, read
from the student's notebooks -> the instructor's points and comment per item. Each answer is saved
at once (atomically, ruamel.yaml round trip: other entries, their order and comments stay), so
quitting or Ctrl-C loses nothing. The next `grader run` applies them: the overrides are part of
each student's fingerprint.
"""

from __future__ import annotations

import ast
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import click
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from . import discover, notebook, overrides
from .errors import GraderError, OverridesError, SettingsError
from .report import json as json_report
from .report import write_atomic
from .rubric import Rubric, load_rubric

# The names whose code the instructor reads to decide an item (default: the item's own answer name
# in Part 1, nothing in Part 2). A yes to Q5.4 is judged by its explanation; a loss by its definition.
SHOWN_WITH = {"q5_4_answer": ("q5_4_answer", "q5_4_explanation"),
              "net1_loss": ("loss1", "compile"), "net2_loss": ("loss2", "compile")}
MAX_SNIPPETS = 6
MAX_LINES = 15
MAX_CHARS = 1500
DEFAULT_COMMENT = "reviewed"


class ReviewError(GraderError):
    pass


@dataclass(frozen=True)
class ReviewItem:
    """One item of one student's report.json, as the instructor is shown it."""

    student: str
    level: str
    question: str
    item: str
    points: float
    """What the report gives now: the checker's provisional points (or an applied override's)."""
    max_points: float
    message: str
    note: str = ""
    """The report's override note ("instructor: ... (checker gave X)"); "" when none was applied."""


@dataclass(frozen=True)
class Snippet:
    where: str
    """"H3P1.ipynb, cell 7" (cells numbered as in Jupyter, markdown cells included)."""
    text: str


def clean(text: object) -> str:
    """Student text made safe for the instructor's terminal: no control characters (an escape
    sequence in an answer could rewrite the screen), newlines and tabs kept."""
    return "".join(ch for ch in str(text) if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))


def fmt(points: float) -> str:
    return f"{points:g}"


# ----------------------------------------------------------------------------- overrides.yaml

class OverridesFile:
    """overrides.yaml held as ruamel round-trip data: entries are changed in place, so every other
    entry, the key order and the instructor's comments survive each save."""

    def __init__(self, path: Path, rubric: Rubric):
        self.path, self.rubric = Path(path), rubric
        self.checked = overrides.load_overrides(self.path, rubric)  # a broken file stops here, naming the key
        self._yaml = YAML()
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        try:
            data = self._yaml.load(text)
        except YAMLError as exc:  # e.g. a duplicate key, which PyYAML lets pass
            mark = getattr(exc, "problem_mark", None)
            raise OverridesError(self.path, f"line {mark.line + 1}" if mark else "",
                                       f"cannot be edited ({getattr(exc, 'problem', None) or exc})",
                                       "remove the duplicate or odd entry by hand")
        # A file of comments only loads as None; its text is kept above what is written.
        self._preamble = text if data is None and text.strip() else ""
        self.data = data if data is not None else CommentedMap()

    def current(self, student: str, question: str, item: str) -> overrides.Override | None:
        return self.checked.get(student, {}).get(f"{question}.{item}")

    def set(self, student: str, question: str, item: str, points: float, comment: str) -> None:
        """Write one override and save the file atomically; what overrides.load_overrides reads back."""
        entries = self._entries(student)
        key = next((k for k in entries if self._names(str(k), question, item)), None)
        value = int(points) if float(points).is_integer() else float(points)
        if isinstance(entries.get(key), dict):
            entries[key]["points"], entries[key]["comment"] = value, comment
        else:
            entries[key or self._new_key(question, item)] = CommentedMap(points=value, comment=comment)
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        preamble = self._preamble + ("" if self._preamble.endswith("\n") or not self._preamble else "\n")
        write_atomic(self.path, preamble + out.getvalue())
        self.checked = overrides.load_overrides(self.path, self.rubric)

    def _entries(self, student: str) -> CommentedMap:
        key = next((k for k in self.data if str(k) == student), None)  # ids like 123 load as ints
        if key is None:
            key = student
            self.data[key] = CommentedMap()
        return self.data[key]

    def _owners(self, item: str) -> list[str]:
        return [q for q, spec in self.rubric.questions.items() if item in spec.items]

    def _names(self, key: str, question: str, item: str) -> bool:
        """Whether an existing key means this item (plain `item` counts where only one question has it)."""
        return key == f"{question}.{item}" or (key == item and self._owners(item) == [question])

    def _new_key(self, question: str, item: str) -> str:
        return item if self._owners(item) == [question] else f"{question}.{item}"


# ----------------------------------------------------------------------------- what to review

def read_items(reports: Path, rubric: Rubric, students: tuple[str, ...] = ()) -> list[ReviewItem]:
    """The review items and the overridden items of every (selected) student's report.json,
    students sorted by name, items in the report's order."""
    reports = Path(reports)
    if not reports.is_dir():
        raise SettingsError(reports, "", "no reports folder", "run grader run first, or pass --reports")
    found = {p.name: p / "report.json" for p in sorted(reports.iterdir())
             if not p.name.startswith(".") and p.is_dir() and (p / "report.json").is_file()}
    missing = [s for s in students if s not in found]
    if missing:
        raise SettingsError("--student", "", f"no report.json for {', '.join(missing)} in {reports}",
                            "grade them first, or use a student id from the reports folder")
    items = []
    for student in students or tuple(found):
        data = json_report.load(found[student])
        if data is None:
            raise ReviewError(found[student], "", "unreadable or from another grader version",
                              "run grader run again to write it")
        items += _items_of(data, student, rubric, found[student])
    return items


def _items_of(data: dict, student: str, rubric: Rubric, path: Path) -> list[ReviewItem]:
    """The report's review items and overridden items (the others need no instructor)."""
    items = []
    for question in data.get("questions", []):
        for item in question.get("items", []):
            if item.get("status") != "review" and not item.get("override"):
                continue
            qid, iid = str(question.get("id")), str(item.get("id"))
            if qid not in rubric.questions or iid not in rubric.questions[qid].items:
                raise ReviewError(path, f"{qid}.{iid}", "not an item of the rubric",
                                  "pass the --rubric the class was graded with, or run grader run again")
            items.append(ReviewItem(student, str(data.get("level", "")), qid, iid, float(item.get("points", 0)),
                                    float(item.get("max_points", 0)), str(item.get("message", "")),
                                    str(item.get("override", ""))))
    return items


def to_review(items: list[ReviewItem], overrides: OverridesFile, include_done: bool) -> list[ReviewItem]:
    """Items still provisional (status review, no override in the report or in overrides.yaml);
    with include_done also those an instructor already decided."""
    return [i for i in items if include_done or not (i.note or overrides.current(i.student, i.question, i.item))]


# ----------------------------------------------------------------------------- the student's code

def snippets(folder: Path, task: str, names: tuple[str, ...]) -> tuple[list[Snippet], list[Path]]:
    """(the statements of the task's notebooks in a student's folder that mention one of `names`,
    the notebooks). Read as the grader reads them: links are never followed, nothing is run."""
    if folder.is_symlink() or not folder.is_dir():
        return [], []
    paths = list(discover.classify_files(folder).notebooks.get(task, ()))
    found = []
    for path in paths:
        nb, problem, _ = notebook.read_notebook_notes(path)
        if nb is None:
            found.append(Snippet(path.name, f"(not readable: {problem})"))
            continue
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") == "code" and names:
                source = str(cell.get("source", ""))
                spans = _spans(source, names)
                if spans:
                    found.append(Snippet(f"{path.name}, cell {index + 1}",
                                         "\n...\n".join(_lines(source, a, b) for a, b in spans)))
    return found[:MAX_SNIPPETS], paths


def _spans(source: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """1-based (first, last) lines of the simple statements that name one of `names` (as a variable,
    attribute or keyword), adjacent ones merged; a cell that is not Python is searched line by line."""
    try:
        tree = ast.parse(notebook.MAGIC_LINE.sub(r"\1pass", source))
    except (SyntaxError, ValueError, RecursionError):
        word = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, names)) + r")(?!\w)")
        return [(n, n) for n, line in enumerate(source.splitlines(), 1) if word.search(line)]
    spans = sorted({(node.lineno, node.end_lineno or node.lineno) for node in ast.walk(tree)
                    if isinstance(node, ast.stmt) and not hasattr(node, "body") and _mentions(node, names)})
    merged: list[tuple[int, int]] = []
    for first, last in spans:  # statements on adjacent lines are shown as one block
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def _mentions(node: ast.AST, names: tuple[str, ...]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names or isinstance(n, ast.Attribute) and n.attr in names
               or isinstance(n, ast.keyword) and n.arg in names for n in ast.walk(node))


def _lines(source: str, first: int, last: int) -> str:
    lines = source.splitlines()[first - 1:last]
    text = "\n".join(lines[:MAX_LINES])
    cut = len(lines) > MAX_LINES or len(text) > MAX_CHARS
    return clean(text[:MAX_CHARS]) + ("\n... (cut; the rest is in the notebook)" if cut else "")


# ----------------------------------------------------------------------------- the conversation

def show(item: ReviewItem, place: str, overrides: OverridesFile, submissions: Path, rubric: Rubric) -> None:
    """Everything the instructor needs to decide one item, from the report and the notebook."""
    click.secho(f"\n[{place}] {item.student} ({item.level}) · {item.question} · {item.item} · "
                f"now {fmt(item.points)} of {fmt(item.max_points)}", bold=True)
    click.echo(f"checker: {clean(item.message)}")
    if item.note:
        click.echo(f"in the report: {clean(item.note)}")
    decided = overrides.current(item.student, item.question, item.item)
    if decided is not None:
        click.echo(f"in {overrides.path.name}: {fmt(decided.points)} ({clean(decided.comment)})")
    task = rubric.questions[item.question].task
    names = SHOWN_WITH.get(item.item, (item.item,) if task == "H3P1" else ())
    found, paths = snippets(Path(submissions) / item.student, task, names)
    for snippet in found:
        click.echo(f"{snippet.where}:")
        click.echo("\n".join(f"    {line}" for line in snippet.text.splitlines()))
    if not paths:
        click.echo(f"(no {task} notebook in {Path(submissions) / item.student}; pass --submissions to see the code)")
        return
    if names and not found:
        click.echo(f"(no line of the notebook names {', '.join(names)})")
    click.echo("notebook: " + ", ".join(clean(p) for p in paths))


def ask_points(max_points: float, default: float) -> float | str:
    """A number in 0..max_points (Enter: the default), or "s" (skip) or "q" (quit); asked again
    until it is one of them."""
    while True:
        raw = click.prompt(f"points 0..{fmt(max_points)} (Enter keeps {fmt(default)}, s skips, q quits)",
                           default=fmt(default), show_default=False).strip().lower()
        if raw in ("s", "q"):
            return raw
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and 0 <= value <= max_points:
            return value
        click.echo(f"  {clean(raw)!r} is not a number from 0 to {fmt(max_points)}; or type s or q")


def ask_comment(points: float, now: float, current: str) -> str:
    """The comment the student's report shows. Lowering the points needs one written for it:
    lost points always come with a reason."""
    default = current or (DEFAULT_COMMENT if points >= now else None)
    label = "comment" if default else "comment (required: why fewer points; the student reads it)"
    while True:
        text = " ".join(clean(click.prompt(label, default=default, show_default=bool(default))).split())
        if text:
            return text


def review(items: list[ReviewItem], overrides: OverridesFile, submissions: Path, rubric: Rubric) -> tuple[int, int]:
    """Walk the items; each answer is saved at once. Returns (saved, skipped); q, Ctrl-C or the
    end of input stop the walk with everything entered so far saved."""
    saved = skipped = 0
    for number, item in enumerate(items, 1):
        show(item, f"{number}/{len(items)}", overrides, submissions, rubric)
        decided = overrides.current(item.student, item.question, item.item)
        try:
            points = ask_points(item.max_points, decided.points if decided else item.points)
            if points == "q":
                break
            if points == "s":
                skipped += 1
                continue
            comment = ask_comment(points, item.points, decided.comment if decided else "")
        except click.Abort:
            click.echo("")
            break
        overrides.set(item.student, item.question, item.item, points, comment)
        saved += 1
    return saved, skipped


def run_review(reports: Path, submissions: Path, overrides_path: Path | None, rubric_path: Path,
               students: tuple[str, ...] = (), include_done: bool = False) -> int:
    """The `grader review` command: returns its exit code (0)."""
    rubric = load_rubric(rubric_path)
    path = Path(overrides_path) if overrides_path else Path(submissions) / "overrides.yaml"
    if not path.parent.is_dir():
        raise SettingsError(path, "", "its folder does not exist", "pass --overrides or --submissions")
    overrides = OverridesFile(path, rubric)
    every = read_items(Path(reports), rubric, tuple(students))
    items = to_review(every, overrides, include_done)
    if not items:
        done = len({(i.student, i.question, i.item) for i in every})
        click.echo(f"nothing to review in {reports}" + (f" ({done} item(s) already decided; --all shows them)"
                                                        if done and not include_done else ""))
        return 0
    saved, skipped = review(items, overrides, Path(submissions), rubric)
    left = len(items) - saved - skipped
    click.echo(f"\n{saved} override(s) saved to {path}; {skipped} skipped; {left} not reached.")
    if saved:
        click.echo(f"the next `grader run {submissions}` applies them")
    return 0
