"""Gradescope autograder: the zip Gradescope accepts, and the grading of one submission inside it.

`grader gradescope-autograder OUT.zip` (build_zip) writes setup.sh, run_autograder, this
repository's grader source, the rubric with its hidden set, the training data and gradescope.json
(levels from a roster, limits). In Gradescope's container run_autograder calls
`python -m grader.gradescope run`: it grades the one submission in /autograder/submission through
the same pipeline as `grader run` and writes /autograder/results/results.json, also when the
notebook crashes or the grader fails. Every /autograder path can be moved with an environment
variable (Layout), so tests simulate the layout in a temporary folder.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import discover, pipeline
from .datasets import FILES
from .errors import GraderError, RosterError, SettingsError
from .export.gradescope import RESULTS, last_ditch, results_json
from .model import LEVELS, PROJECT, Level, Settings, Submission
from .report import json as json_report
from .report import write_atomic
from .rubric import load_rubric

CONFIG = "gradescope.json"
RUBRIC = "rubrics/hw3.yaml"
HIDDEN = "rubrics/hidden"
DATA = "reference/data"
STARTUP_SECONDS = 60.0
"""Of Gradescope's time limit, kept for starting the grader and writing the results."""


class RosterRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    student: str
    level: Level
    email: str = ""
    name: str = ""


class AutograderConfig(BaseModel):
    """gradescope.json in the zip: what `grader gradescope-autograder` was told when it was built."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default_level: Level = "undergrad"
    """Level of a submitter the roster does not list."""
    gradescope_timeout: float = Field(600.0, gt=STARTUP_SECONDS)
    """Gradescope's time limit for one submission (its assignment setting; 600 s unless raised)."""
    timeout: float = Field(900.0, gt=0)
    cell_timeout: float = Field(300.0, gt=0)
    memory_gib: float = Field(4.0, ge=0.5, le=64)
    require_sandbox: bool = False
    roster: tuple[RosterRow, ...] = ()


@dataclass(frozen=True)
class Layout:
    """Gradescope's /autograder folders (its autograder specification), each movable for tests."""

    source: Path
    submission: Path
    results: Path
    metadata: Path
    reports: Path
    """Where the full reports (report.md, report.json) go, for an instructor debugging over SSH."""

    @classmethod
    def from_env(cls, env=os.environ) -> Layout:
        root = Path(env.get("GRADER_AUTOGRADER_ROOT", "/autograder"))
        at = lambda name, default: Path(env.get(f"GRADER_AUTOGRADER_{name}", root / default))  # noqa: E731
        return cls(at("SOURCE", "source"), at("SUBMISSION", "submission"), at("RESULTS", "results"),
                   at("METADATA", "submission_metadata.json"), at("REPORTS", "reports"))


# Running the grader -----------------------------------------------------------------------------

def run(layout: Layout, level: str | None = None, log=print) -> None:
    """Grade the submission and write results.json; whatever goes wrong in grading, a valid one is left."""
    started = time.monotonic()
    target = layout.results / RESULTS
    # Written first: whatever stops the grader later (a limit, a kill), a valid file is there.
    _write(target, last_ditch("the grader did not finish (it was stopped, or ran out of time or memory)"))
    try:
        document = grade_submission(layout, level, log)
    except GraderError as exc:
        log(f"error: {exc.line()}")
        document = last_ditch("the autograder is not set up right", exc.line())
    except Exception as exc:  # the grader's bug: the student still gets a file that says so
        log(traceback.format_exc())
        document = last_ditch("the grader failed", "".join(traceback.format_exception_only(exc)).strip())
    document["execution_time"] = round(time.monotonic() - started)
    _write(target, document)
    log(f"wrote {target}: score {document.get('score')}")


def grade_submission(layout: Layout, level: str | None, log) -> dict:
    """The one submission through the class pipeline (discover -> ... -> report.json) -> results.json."""
    started = time.monotonic()
    config = load_config(layout.source)
    rubric = load_rubric(layout.source / RUBRIC)
    student, level, how = identify(layout.metadata, config, level)
    sub = submission_of(layout.submission, student, level)
    settings = settings_for(layout, config, sub)
    log(f"{student}: {level} ({how}); {sum(map(len, sub.notebooks.values()))} notebook(s); limits "
        f"{settings.timeout:g} s per notebook, {settings.cell_timeout:g} s per cell")
    tasks = {t for t in sub.notebooks if t != "H3P1"}
    hidden = pipeline.load_hidden(settings, tasks) if tasks else {}
    pipeline.check_settings(settings, tasks)
    log(pipeline.grade_one(sub, settings, rubric, hidden, {}, "").line)
    report = json_report.load(settings.out / sub.student / "report.json")
    if report is None:
        raise RuntimeError(f"no report.json was written in {settings.out / sub.student}")
    return results_json(report, rubric, time.monotonic() - started, (f"HW3: graded as {level} ({how}).",))


def settings_for(layout: Layout, config: AutograderConfig, sub: Submission) -> Settings:
    """The run's settings; the limits shrink so that every notebook finishes inside Gradescope's time
    limit (a notebook takes at most its limit plus the cell limit, for the re-run after a crash)."""
    notebooks = max(1, sum(len(paths) for paths in sub.notebooks.values()))
    share = (config.gradescope_timeout - STARTUP_SECONDS) / notebooks / 2
    timeout = min(config.timeout, share)
    return Settings(submissions=layout.submission, rubric=layout.source / RUBRIC, out=layout.reports,
                    data=layout.source / DATA, hidden=layout.source / HIDDEN, timeout=timeout,
                    cell_timeout=min(config.cell_timeout, timeout), memory_gib=config.memory_gib,
                    require_sandbox=config.require_sandbox)


def load_config(source: Path) -> AutograderConfig:
    path = source / CONFIG
    try:
        return AutograderConfig.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise SettingsError(path, "", f"cannot be read ({exc.strerror or exc})",
                            "build the zip again with grader gradescope-autograder")
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SettingsError(path, f"key {'.'.join(map(str, err['loc']))}", err["msg"],
                            "build the zip again with grader gradescope-autograder")


def identify(metadata: Path, config: AutograderConfig, level: str | None = None) -> tuple[str, str, str]:
    """(student id, level, how the level was chosen) from Gradescope's submission_metadata.json."""
    row = _roster_row(_users(metadata), config.roster)
    student = row.student if row else "submission"
    if level:
        return student, level, "the level set for this run"
    if row:
        return student, row.level, f"the course roster lists {row.student} as {row.level}"
    return student, config.default_level, ("not found in the course roster, so the course's default level: "
                                           "tell your instructor if that is not your level")


def _roster_row(users: list[dict], roster: tuple[RosterRow, ...]) -> RosterRow | None:
    """The roster row of a submitter: by email, by the roster id being the email or its user part,
    or by name (case and spacing ignored). A group's first listed match wins."""
    spaced = lambda text: " ".join(text.lower().split())  # noqa: E731
    for user in users:  # emails first: names are not unique
        email = user["email"].strip().lower()
        for row in roster:
            if email and (email == row.email.strip().lower() or row.student.lower() in (email, email.split("@")[0])):
                return row
    for user in users:
        for row in roster:
            if user["name"].strip() and row.name and spaced(user["name"]) == spaced(row.name):
                return row
    return None


def _users(metadata: Path) -> list[dict]:
    """The submitters in Gradescope's metadata (email, name); none when the file is absent or odd."""
    try:
        data = json.loads(metadata.read_text(encoding="utf-8"))
        users = data.get("users") or []
        return [{"email": str(u.get("email") or ""), "name": str(u.get("name") or "")} for u in users if isinstance(u, dict)]
    except (OSError, ValueError, AttributeError):
        return []


def submission_of(folder: Path, student: str, level: str) -> Submission:
    """The uploaded files as discovery sees a student folder (names, subfolder, links, ignored files)."""
    if not folder.is_dir():
        raise SettingsError(folder, "", "no submission folder", "run inside Gradescope, or set GRADER_AUTOGRADER_SUBMISSION")
    found = discover.classify_files(folder)
    return Submission(student, level, folder, found.notebooks, found.ignored, found.notes, found.attention)


def _write(path: Path, document: dict) -> None:
    write_atomic(path, json.dumps(document, indent=2) + "\n")


# Building the zip --------------------------------------------------------------------------------

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu). It installs
# Python 3.11 (what the grader and the course environment are pinned for), bubblewrap for the kernel
# sandbox, {torch} first (the CPU wheel: an unpinned torch pulls several GB of CUDA), the course
# environment, then the grader from this folder, and checks what the zip holds.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SOURCE="$(cd "$(dirname "$0")" && pwd)"
VENV="${{GRADER_AUTOGRADER_VENV:-/autograder/venv}}"

apt-get update -qq
if ! apt-get install -y -qq python3.11 python3.11-venv; then
  # An image whose Ubuntu has no Python 3.11 (24.04): the deadsnakes archive has it.
  apt-get install -y -qq software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update -qq
  apt-get install -y -qq python3.11 python3.11-venv
fi
# Without it (or without user namespaces in the container) kernels run with "sandbox: reduced".
apt-get install -y -qq bubblewrap || echo "warning: bubblewrap not installed: kernels run with a reduced sandbox"

python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q {torch}
"$VENV/bin/python" -m pip install -q -r "$SOURCE/environment/requirements.txt"
"$VENV/bin/python" -m pip install -q -e "$SOURCE"
cd "$SOURCE" && GRADER_AUTOGRADER_SOURCE="$SOURCE" "$VENV/bin/python" -m grader.gradescope check
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, as root, in /autograder. The grader writes
# results/results.json in every case it lives through; if it cannot start or is killed, this
# script writes one that says the submission could not be graded.
ROOT="${{GRADER_AUTOGRADER_ROOT:-/autograder}}"
SOURCE="${{GRADER_AUTOGRADER_SOURCE:-$ROOT/source}}"
RESULTS="${{GRADER_AUTOGRADER_RESULTS:-$ROOT/results}}"
PYTHON="${{GRADER_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
cd "$SOURCE" && "$PYTHON" -m grader.gradescope run "$@"
code=$?
if [ "$code" -ne 0 ]; then
  echo "the grader exited with code $code: writing a results.json that says so"
  mkdir -p "$RESULTS"
  cat > "$RESULTS/results.json" <<'END_OF_JSON'
{fallback}
END_OF_JSON
fi
exit "$code"
"""

EXECUTABLE = ("setup.sh", "run_autograder")
SKIP = re.compile(r"(^|/)(__pycache__|\.[^/]*)(/|$)|\.py[co]$")
"""Caches and hidden files of the source tree do not go into the zip."""


@dataclass(frozen=True)
class BuildOptions:
    """What `grader gradescope-autograder` is told (defaults: the project's own rubric and data)."""

    rubric: Path = PROJECT / RUBRIC
    hidden: Path = PROJECT / HIDDEN
    data: Path = PROJECT / DATA
    roster: Path | None = None
    config: AutograderConfig = AutograderConfig()


def build_zip(out: Path, options: BuildOptions = BuildOptions()) -> list[str]:
    """Check what goes in, then write the zip (atomically); returns the names it holds."""
    files = zip_contents(options)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                # A fixed date: the same inputs give the same zip.
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o100755 if name in EXECUTABLE else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return list(files)


def zip_contents(options: BuildOptions) -> dict[str, bytes]:
    """Zip name -> bytes: scripts, settings, the grader's source, the rubric, hidden set and data.
    Never a notebook, a report or a reference solution: only what grading needs."""
    load_rubric(options.rubric)
    settings = Settings(submissions=Path("."), rubric=Path(options.rubric), data=Path(options.data),
                        hidden=Path(options.hidden))
    pipeline.load_hidden(settings, set(FILES))
    pipeline.check_settings(settings, set(FILES))
    if not (PROJECT / "pyproject.toml").is_file():
        raise SettingsError(PROJECT, "", "is not a source checkout of the grader", "build the zip from the repository")
    config = options.config.model_copy(update={"roster": read_roster_rows(options.roster)}) if options.roster \
        else options.config
    requirements = (PROJECT / "environment" / "requirements.txt").read_text(encoding="utf-8")
    files = {"setup.sh": SETUP_SH.format(torch=_torch_pin(requirements)).encode(),
             "run_autograder": RUN_AUTOGRADER.format(fallback=json.dumps(last_ditch(
                 "the grader could not start (see the autograder's output)"))).encode(),
             CONFIG: config.model_dump_json(indent=2).encode(),
             "pyproject.toml": (PROJECT / "pyproject.toml").read_bytes(),
             "environment/requirements.txt": requirements.encode(),
             RUBRIC: Path(options.rubric).read_bytes()}
    for path in sorted((PROJECT / "grader").rglob("*")):
        name = path.relative_to(PROJECT).as_posix()
        if path.is_file() and not path.is_symlink() and not SKIP.search(name):
            files[name] = path.read_bytes()
    for train, test in FILES.values():
        files[f"{DATA}/{train}"] = (Path(options.data) / train).read_bytes()
        files[f"{HIDDEN}/{test}"] = (Path(options.hidden) / test).read_bytes()
    return files


def _torch_pin(requirements: str) -> str:
    """torch's line of the course environment (installed before the rest, as the Makefile does)."""
    pins = [line.split("#")[0].strip() for line in requirements.splitlines() if re.match(r"\s*torch\s*[=<>~]", line)]
    return pins[0] if pins else "torch"


def read_roster_rows(path: Path) -> tuple[RosterRow, ...]:
    """roster.csv (student,level[,name,email]) -> rows; a bad line is a RosterError naming it."""
    try:
        rows = list(csv.DictReader(Path(path).read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(path, "", f"cannot be read ({exc})", "pass --roster with a UTF-8 roster.csv")
    found = []
    for number, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        if not any(row.values()):
            continue
        if not row.get("student") or row.get("level", "").lower() not in LEVELS:
            raise RosterError(path, f"line {number}", "needs a student and a level (undergrad or grad)",
                              "use the header student,level[,name,email] and fill both on every line")
        found.append(RosterRow(student=row["student"], level=row["level"].lower(),
                               email=row.get("email", ""), name=row.get("name", "")))
    return tuple(found)


# Command line inside the container ---------------------------------------------------------------

@click.group()
def main() -> None:
    """The Gradescope side: `run` grades /autograder/submission, `check` tests the zip's contents."""


@main.command("run")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Grade at this level whatever the roster says.")
def run_command(level) -> None:
    """Grade the one submission and write results.json (paths: GRADER_AUTOGRADER_* variables)."""
    run(Layout.from_env(), level)


@main.command("check")
def check_command() -> None:
    """Fail (exit 1, one line) when the zip's settings, rubric, hidden set or data are not usable."""
    layout = Layout.from_env()
    config = load_config(layout.source)
    load_rubric(layout.source / RUBRIC)
    settings = settings_for(layout, config, Submission("check", config.default_level, None))
    pipeline.load_hidden(settings, set(FILES))
    pipeline.check_settings(settings, set(FILES))
    click.echo(f"autograder ok: {len(config.roster)} student(s) in the roster, others graded as {config.default_level}")


if __name__ == "__main__":
    try:
        main.main(standalone_mode=False)
    except GraderError as exc:
        click.echo(f"error: {exc.line()}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
