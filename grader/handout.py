"""What students receive (`grader handout OUT_DIR`), and the scan that shows it holds no solution.

The handout: the assignment, the answer format (the contract without the passages that state
expected answers), the blank templates under the contract's file names, the training data, the
grading environment as requirements.txt, and a README on how to run `grader check`.

The scan (`scan_handout`, also run by `grader verify`) looks in every file of a folder for:
- solution lines: a stripped line of a reference solution's code cell that occurs in no template
  and is either at least MIN_LINE characters long or a one-line assignment (`dy_dz = 0`);
  templates share imports and boilerplate with the solutions, so only lines of the solutions'
  own count. Two guards keep a solution saved as a template from excusing itself: a line that
  gives an answer name (a rubric item id) a value other than None always counts, and a template
  holding at least TEMPLATE_SHARE of a solution's long lines excuses no line;
- hidden rows: a data row of the hidden test set, as CSV text or as its numbers (the features,
  each rounded to 4 significant digits, in a run of numbers on one line);
- the rubric's keyword lists: a group of synonyms written out in the rubric's order, separated
  only by punctuation or spaces (a YAML or Python list, "a, b, c");
- the rubric's bars: the `full` and `zero` values of one bar as numbers on one line.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import SettingsError
from .model import PROJECT, TASKS

ASSIGNMENT = PROJECT / "docs" / "assignment.md"
CONTRACT = PROJECT / "docs" / "CONTRACT.md"
REQUIREMENTS = PROJECT / "environment" / "requirements.txt"
REFERENCE = PROJECT / "reference"
TEMPLATE_SUFFIX = "_template.ipynb"
GRADER_PIP = "hw3-grader"
"""What the handout's README tells students to `pip install` to get `grader check`."""

MIN_LINE = 20
"""Solution lines at least this long are scanned for (shorter ones only when they assign a value)."""
TEMPLATE_SHARE = 0.5
"""A template holding this share of a solution's long lines is taken for a solution (see above)."""
SIGNIFICANT = 4
"""Hidden numbers are compared rounded to this many significant digits."""
# Passages of the contract that state an expected answer are marked so in docs/CONTRACT.md (HTML
# comments: the rendered contract is unchanged) and left out of the students' copy.
NOT_IN_HANDOUT = re.compile(r"<!-- not in handout -->.*?<!-- /not in handout -->", re.S)
_ASSIGNS = re.compile(r"^[A-Za-z_]\w* = [^\s(\[{].*$")
_ANSWER = re.compile(r"^(?P<name>[A-Za-z_]\w*) = (?P<value>\S.*)$")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")


@dataclass(frozen=True)
class Leak:
    """One thing in the handout that students must not see."""

    file: str
    """Path relative to the handout folder."""
    where: str
    """"line 12" (a text file) or "cell 3" (a notebook)."""
    kind: str
    """"solution line", "hidden row", "keyword list" or "bar"."""
    detail: str

    def describe(self) -> str:
        place = f"{self.file} {self.where}" if self.where else self.file
        return f"{place}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Secrets:
    """What the scan looks for, gathered once from the reference, the hidden set and the rubric."""

    solution_lines: dict[str, str]
    """Collapsed line -> where it comes from ("H3P1.ipynb cell 7")."""
    hidden_text: dict[str, str]
    """A hidden CSV data row as text -> "H3P2T1_test.csv row 12"."""
    hidden_numbers: dict[tuple[float, ...], str]
    """A hidden row's rounded features -> where it comes from."""
    keyword_groups: tuple[tuple[str, re.Pattern], ...]
    bars: tuple[tuple[str, float, float], ...]
    """(rubric key, full, zero)."""


def _collapse(line: str) -> str:
    return " ".join(line.split())


def templates(reference: Path) -> dict[str, Path]:
    """Handout file name (the contract's: H3P1.ipynb, H3P2T1.ipynb, ...) -> blank template."""
    found = {p.name[: -len(TEMPLATE_SUFFIX)] + ".ipynb": p for p in sorted(Path(reference).glob("*" + TEMPLATE_SUFFIX))}
    missing = [t for t in TASKS if f"{t}.ipynb" not in found]
    if missing:
        raise SettingsError(reference, "", f"no template for {', '.join(missing)} ({missing[0]}{TEMPLATE_SUFFIX})",
                            "pass --reference with the folder holding the blank templates")
    return found


def solution_notebooks(reference: Path) -> list[Path]:
    """The reference solutions: every notebook in the folder that is not a template."""
    return [p for p in sorted(Path(reference).glob("*.ipynb")) if not p.name.endswith(TEMPLATE_SUFFIX)]


def _cells(path: Path) -> list[dict]:
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise SettingsError(path, "", f"not a readable notebook ({exc})", "save it again from Jupyter")
    return [c for c in cells if isinstance(c, dict)]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(cell number, collapsed line) of a notebook's code cells."""
    return [(number, _collapse(raw)) for number, cell in enumerate(_cells(path), start=1)
            if cell.get("cell_type") == "code" for raw in _source(cell).splitlines()]


def _text(path: Path) -> str:
    return "\n".join(_collapse(line) for cell in _cells(path) for line in _source(cell).splitlines())


def _blank(template: str, solutions: dict[Path, list[tuple[int, str]]]) -> bool:
    """A template that holds most of a solution's long lines is a solution saved under a template's
    name: its lines excuse nothing (the shipped templates share at most a sixth)."""
    for lines in solutions.values():
        long = {line for _, line in lines if len(line) >= MIN_LINE}
        if long and sum(line in template for line in long) >= TEMPLATE_SHARE * len(long):
            return False
    return True


def solution_lines(reference: Path, answers: frozenset[str] = frozenset()) -> dict[str, str]:
    """The lines of the reference solutions' code cells that no (blank) template holds, and every
    line that gives an answer name a value other than None (see the module doc)."""
    solutions = {path: _code_lines(path) for path in solution_notebooks(reference)}
    blanks = "\n".join(text for text in map(_text, templates(reference).values()) if _blank(text, solutions))
    lines: dict[str, str] = {}
    for path, code in solutions.items():
        for number, line in code:
            answer = _ANSWER.match(line)
            gives_answer = bool(answer) and answer["name"] in answers and not answer["value"].startswith("None")
            if gives_answer or ((len(line) >= MIN_LINE or _ASSIGNS.match(line)) and line not in blanks):
                lines.setdefault(line, f"{path.name} cell {number}")
    return lines


def _rounded(values: list[float]) -> tuple[float, ...]:
    return tuple(float(f"{v:.{SIGNIFICANT}g}") for v in values)


def _numbers(line: str) -> list[float]:
    return [float(token) for token in _NUMBER.findall(line)]


def hidden_rows(hidden: Path) -> tuple[dict[str, str], dict[tuple[float, ...], str]]:
    """(data row as text -> where, rounded features -> where) of the hidden test sets in a folder."""
    from .datasets import FILES, read_task  # numpy: only when a scan runs

    text: dict[str, str] = {}
    numbers: dict[tuple[float, ...], str] = {}
    for task, (_, name) in FILES.items():
        path = Path(hidden) / name
        if not path.is_file():
            continue
        try:
            features = read_task(path, task).X
        except ValueError as exc:
            raise SettingsError(path, "", f"hidden test set unreadable ({exc})", "write it again with grader make-data")
        rows = [row.strip() for row in path.read_text(encoding="utf-8").splitlines()[1:] if row.strip()]
        for number, row in enumerate(rows, start=1):
            text.setdefault(row, f"{name} row {number}")
        for number, row in enumerate(features, start=1):
            numbers.setdefault(_rounded(list(row)), f"{name} row {number}")
    return text, numbers


def keyword_patterns(keywords: dict) -> tuple[tuple[str, re.Pattern], ...]:
    """A pattern per keyword group of two or more synonyms: the group written out as a list."""
    patterns = []
    for answer, groups in keywords.items():
        for group in groups:
            if len(group) >= 2:
                body = r"[\W_]+".join(re.escape(word) for word in group)
                patterns.append((f"{answer}: {', '.join(group)}", re.compile(rf"(?<!\w){body}(?!\w)", re.I)))
    return tuple(patterns)


def rubric_bars(data, key: str = "") -> list[tuple[str, float, float]]:
    """Every mapping with `full` and `zero` numbers in the rubric's data, with its dotted key."""
    found = []
    if isinstance(data, dict):
        if isinstance(data.get("full"), (int, float)) and isinstance(data.get("zero"), (int, float)):
            found.append((key, float(data["full"]), float(data["zero"])))
        for name, value in data.items():
            found += rubric_bars(value, f"{key}.{name}" if key else str(name))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            found += rubric_bars(value, f"{key}[{i}]")
    return found


def gather_secrets(reference: Path, hidden: Path, rubric) -> Secrets:
    """What the scan looks for: from the reference solutions, the hidden set and the rubric."""
    text, numbers = hidden_rows(hidden)
    data = rubric.model_dump()
    bars: dict[tuple[float, float], list[str]] = {}
    for key, full, zero in rubric_bars(data):  # equal bars (net1, net2) are one thing to look for
        bars.setdefault((full, zero), []).append(key)
    answers = frozenset(item for question in rubric.questions.values() for item in question.items)
    return Secrets(solution_lines(reference, answers), text, numbers, keyword_patterns(data.get("keywords") or {}),
                   tuple((", ".join(keys), full, zero) for (full, zero), keys in bars.items()))


def _strings(data) -> list[str]:
    """Every string in a notebook cell (source, outputs, metadata): what a student could read."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for value in data.values() for s in _strings(value)]
    if isinstance(data, list):
        # A source or stream text is a list of line fragments; joined they are the cell's text.
        if all(isinstance(v, str) for v in data):
            return ["".join(data)]
        return [s for value in data for s in _strings(value)]
    return []


def _units(path: Path) -> list[tuple[str, str]]:
    """(where, text) pieces of a file: a notebook's cells, or a text file's lines."""
    raw = path.read_bytes()
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(raw.decode("utf-8")).get("cells", [])
            return [(f"cell {i}", "\n".join(_strings(cell))) for i, cell in enumerate(cells, start=1)]
        except (ValueError, AttributeError):
            pass  # not a notebook after all: scanned as text
    return [(f"line {i}", line) for i, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1)]


def _line_leaks(line: str, secrets: Secrets, widths: set[int]) -> list[tuple[str, str]]:
    """(kind, detail) of what one line gives away."""
    found = [("solution line", f"{where}: {sol}") for sol, where in secrets.solution_lines.items() if sol in line]
    if line.strip() in secrets.hidden_text:
        found.append(("hidden row", secrets.hidden_text[line.strip()]))
    numbers = _numbers(line)
    for width in widths:
        for start in range(len(numbers) - width + 1):
            where = secrets.hidden_numbers.get(_rounded(numbers[start:start + width]))
            if where:
                found.append(("hidden row", f"the numbers of {where}"))
    present = set(numbers)
    found += [("bar", f"rubric {key}: full {full:g}, zero {zero:g}")
              for key, full, zero in secrets.bars if full in present and zero in present]
    return found


def scan_handout(folder: Path, secrets: Secrets) -> list[Leak]:
    """Everything in the folder's files that students must not see (see the module doc)."""
    folder = Path(folder)
    leaks: list[Leak] = []
    widths = {len(key) for key in secrets.hidden_numbers}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            leaks.append(Leak(rel, "", "link", "a symbolic link: a handout holds files only"))
            continue
        if not path.is_file():
            continue
        units = _units(path)
        for where, text in units:
            for line in text.splitlines():
                leaks += [Leak(rel, where, kind, detail)
                          for kind, detail in _line_leaks(_collapse(line), secrets, widths)]
        leaks += _keyword_leaks(rel, units, secrets)
    return leaks


def _keyword_leaks(rel: str, units: list[tuple[str, str]], secrets: Secrets) -> list[Leak]:
    """Keyword groups written out anywhere in a file, also across lines (a YAML block list)."""
    whole = "\n".join(text for _, text in units)
    leaks = []
    for name, pattern in secrets.keyword_groups:
        match = pattern.search(whole)
        if match:
            # Text files are split by line, so the match's line number is the unit's.
            line = "" if rel.endswith(".ipynb") else f"line {whole.count(chr(10), 0, match.start()) + 1}"
            where = next((w for w, text in units if pattern.search(text)), line)
            leaks.append(Leak(rel, where, "keyword list", name))
    return leaks


@dataclass(frozen=True)
class Handout:
    """A handout as written: its folder, the files it consists of, and other files found there."""

    folder: Path
    files: tuple[str, ...]
    """Relative paths written."""
    others: tuple[str, ...] = ()
    """Files that were in the folder already (--force) and are not part of the handout."""


def student_contract(text: str, path: Path = CONTRACT) -> str:
    """The contract without the passages marked `<!-- not in handout -->` (they state expected answers)."""
    kept = re.sub(r"\n{3,}", "\n\n", NOT_IN_HANDOUT.sub("", text))
    if "not in handout -->" in kept:
        raise SettingsError(path, "", "a '<!-- not in handout -->' passage is not closed",
                            "end every such passage with '<!-- /not in handout -->'")
    return kept


def _check_out_dir(out: Path, force: bool) -> list[str]:
    """The files already in out (refused unless force)."""
    if out.exists() and not out.is_dir():
        raise SettingsError(out, "", "is a file, not a folder", "name a new or empty folder for the handout")
    present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if not p.is_dir()) if out.exists() else []
    if out.exists() and any(out.iterdir()) and not force:
        raise SettingsError(out, "", "the folder is not empty",
                            "name a new or empty folder, or pass --force to write the handout's files over it")
    return present


def build_handout(out: Path, reference: Path = REFERENCE, data: Path | None = None, force: bool = False,
                  grader_pip: str = GRADER_PIP) -> Handout:
    """Write the handout into out: assignment.md, CONTRACT.md (students' copy), the templates as
    H3P1.ipynb / H3P2T1.ipynb / H3P2T2.ipynb, data/<task>_train.csv, requirements.txt, README.md."""
    from .datasets import FILES

    out = Path(out)
    data = Path(data) if data is not None else PROJECT / "reference" / "data"
    # --force in the project (or a folder the handout is read from) would write over its files.
    if out.resolve() in {Path(f).resolve() for f in (PROJECT, reference, data, ASSIGNMENT.parent, REQUIREMENTS.parent)}:
        raise SettingsError(out, "", "is a folder the handout is made from", "name a new folder for the handout")
    present = _check_out_dir(out, force)
    blanks = templates(reference)
    training = {}
    for task, (name, _) in FILES.items():
        if not (data / name).is_file():
            raise SettingsError(data / name, "", f"training data for {task} not found",
                                "pass --data with the folder holding the training CSVs")
        training[f"data/{name}"] = data / name
    contract = student_contract(CONTRACT.read_text(encoding="utf-8"))
    (out / "data").mkdir(parents=True, exist_ok=True)
    for rel, source in {"assignment.md": ASSIGNMENT, "requirements.txt": REQUIREMENTS, **blanks, **training}.items():
        shutil.copyfile(source, out / rel)
    (out / "CONTRACT.md").write_text(contract, encoding="utf-8")
    (out / "README.md").write_text(readme(grader_pip), encoding="utf-8")
    files = ("README.md", "assignment.md", "CONTRACT.md", *blanks, "requirements.txt", *training)
    return Handout(out, files, tuple(p for p in present if p not in files))


def readme(grader_pip: str = GRADER_PIP, requirements: Path = REQUIREMENTS) -> str:
    """The handout's README: what is in it, how to set up the grading environment, how to check."""
    pins = [line.strip() for line in requirements.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("torch==")]
    # torch goes first, on its own, as make install does: an unpinned resolve may pull a CUDA build.
    torch = f"pip install {pins[0]:<29} # first, on its own: the CPU build\n" if pins else ""
    return README.replace("{torch}", torch).replace("{grader_pip}", f"{grader_pip:<29} ")


README = """# Homework 3

## What is here

- `assignment.md`: the assignment.
- `CONTRACT.md`: the form your answers must take: the names each notebook leaves defined, their
  types, and the environment your notebooks are graded in.
- `H3P1.ipynb`: Part 1 (math). Answer in this notebook and hand it in as `H3P1.ipynb`.
- `H3P2T1.ipynb`, `H3P2T2.ipynb`: Part 2 (programming). Hand in one notebook per framework you use,
  named e.g. `H3P2T1_torch.ipynb` or `H3P2T1_keras.ipynb` (any name that starts with the task works).
- `data/`: the training data the Part 2 notebooks read (`data/H3P2T1_train.csv`,
  `data/H3P2T2_train.csv`). Keep it next to your notebooks; the grader puts the same files there.
- `requirements.txt`: the grading environment, the packages (and versions) your notebooks are
  graded with. A package that is not in it is not there when your notebook is graded.

## Set up the environment

Python 3.11, then, in this folder:

```sh
python3.11 -m venv .venv
. .venv/bin/activate                      # Windows: .venv\\Scripts\\activate
{torch}pip install -r requirements.txt
pip install {grader_pip}# the grader, for `grader check`
```

Notebooks are graded on a CPU (no GPU), without network (no `pip install` or downloads inside a
notebook), each in a fresh kernel, from top to bottom, with a time limit.

## Check your work before you hand it in

```sh
grader check H3P1.ipynb
grader check H3P2T1_torch.ipynb H3P2T2_keras.ipynb
```

`grader check` runs each notebook the way the grader does (a fresh kernel, top to bottom, `data/`
next to it) and applies the checks that need no solution: the names are defined, expressions
parse, functions can be called, output layers have the units and shapes asked for, and the notebook
runs without error. It says what would lose points and why.

It does not know your score: the correctness of your answers and your models' accuracy on the
test set are graded later, with data you do not have. A notebook that passes `grader check` can
still lose points; one that fails it will.

On Linux with `bubblewrap` installed, the notebook runs in the grader's sandbox; elsewhere
`grader check` says so and runs it as a plain process (it is your own code).
"""
