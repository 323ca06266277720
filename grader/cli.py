"""Command line: flags -> Settings -> pipeline. A GraderError becomes one line and an exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import GraderError
from .model import LEVELS, Settings


_DEFAULTS = Settings(submissions=Path("."))
GRADER_FAILED = 3
"""Exit code: the class was graded, but the grader failed on some students (see the attention list)."""


def _version() -> str:
    from .pipeline import VERSION

    return VERSION


@click.group()
@click.version_option(version=_version(), prog_name="grader", message="%(prog)s %(version)s")
def cli() -> None:
    """Grade HW3 notebooks: grader run SUBMISSIONS_DIR."""


@cli.command()
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--rubric", type=click.Path(path_type=Path), default=_DEFAULTS.rubric, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=_DEFAULTS.out, show_default=True,
              help="Reports folder (relative to the working directory).")
@click.option("--student", "students", multiple=True, help="Grade only this student (repeatable).")
@click.option("--default-level", type=click.Choice(LEVELS), default=None,
              help="Level of students missing from the roster (otherwise they are an error).")
@click.option("--timeout", type=float, default=_DEFAULTS.timeout, show_default=True, help="Seconds per notebook.")
@click.option("--cell-timeout", type=float, default=_DEFAULTS.cell_timeout, show_default=True, help="Seconds per cell.")
@click.option("--overrides", type=click.Path(path_type=Path), default=None,
              help="Instructor's manual points [default: SUBMISSIONS/overrides.yaml].")
@click.option("--data", type=click.Path(path_type=Path), default=_DEFAULTS.data, show_default=True,
              help="Training data copied next to each Part 2 notebook.")
@click.option("--hidden", type=click.Path(path_type=Path), default=_DEFAULTS.hidden, show_default=True,
              help="Hidden test set (never visible to student code).")
@click.option("--memory-gib", type=click.FloatRange(0.5, 64), default=_DEFAULTS.memory_gib, show_default=True,
              help="Memory per notebook (its kernel's whole process tree).")
@click.option("--jobs", type=click.IntRange(1, 16), default=_DEFAULTS.jobs, show_default=True,
              help="Students graded at once (one kernel each).")
@click.option("--kernel-python", type=click.Path(path_type=Path), default=None,
              help="Interpreter the graded kernels run [default: the grader's own, with environment/requirements.txt].")
@click.option("--require-sandbox", is_flag=True, help="Refuse to run notebooks without the full sandbox.")
@click.option("--fresh", is_flag=True, help="Grade again even students whose reports are current.")
@click.option("--quiet", is_flag=True, help="No progress bar and no line per student (warnings still shown).")
def run(submissions, rubric, out, students, default_level, timeout, cell_timeout, overrides, data, hidden,
        memory_gib, jobs, kernel_python, require_sandbox, fresh, quiet) -> int:
    """Grade every student in SUBMISSIONS (roster.csv + one folder per student).

    Exit code 0: the class was graded; 3: graded, but the grader failed on some students (they are
    on the attention list and are graded again on the next run); 1: the run could not be done (bad
    rubric, roster or overrides); 2: bad usage or settings.
    """
    from .pipeline import grade_class

    settings = Settings(submissions=Path(submissions), rubric=Path(rubric), out=Path(out), students=tuple(students),
                        default_level=default_level, timeout=timeout, cell_timeout=cell_timeout,
                        overrides=overrides, data=Path(data), hidden=Path(hidden), memory_gib=memory_gib,
                        jobs=jobs, require_sandbox=require_sandbox, kernel_python=kernel_python, quiet=quiet)
    outcome = grade_class(settings, fresh=fresh)
    click.echo(f"graded {len(outcome.graded)} student(s), {len(outcome.skipped)} already current, "
               f"in {outcome.seconds:g} s; reports in {out}/ (index.html, grades.csv, summary.md, <student>/report.html)")
    if outcome.errors:
        click.echo(f"the grader failed on {', '.join(outcome.errors)}: see summary.md (Needs attention)", err=True)
        return GRADER_FAILED
    return 0


@cli.command("validate-rubric")
@click.argument("path", type=click.Path(path_type=Path))
def validate_rubric(path) -> None:
    """Check a rubric YAML; print what it holds."""
    from .rubric import load_rubric

    rubric = load_rubric(path)
    for level in LEVELS:
        parts = ", ".join(f"{q} {spec.points.of(level):g}{'*' if level in spec.bonus_for else ''}"
                          for q, spec in rubric.questions.items())
        click.echo(f"{level}: max {rubric.max_total.of(level):g} ({parts}; * = bonus)")
    click.echo(f"{path}: ok")


@cli.command("make-data")
@click.option("--train-dir", type=click.Path(path_type=Path), default=_DEFAULTS.data, show_default=True)
@click.option("--hidden-dir", type=click.Path(path_type=Path), default=_DEFAULTS.hidden, show_default=True)
@click.option("--train-seed", type=int, default=1, show_default=True)
@click.option("--hidden-seed", type=int, required=True, help="Keep the real one private.")
def make_data(train_dir, hidden_dir, train_seed, hidden_seed) -> None:
    """Write the Part 2 training CSVs (for students) and the hidden test set (for the grader only)."""
    from .datasets import write_datasets

    write_datasets(train_dir, hidden_dir, train_seed, hidden_seed)
    click.echo(f"training data in {train_dir}/, hidden test set in {hidden_dir}/")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (tests call it in-process)."""
    try:
        code = cli.main(args=argv, prog_name="grader", standalone_mode=False)
    except GraderError as exc:
        click.echo(f"error: {exc.line()}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
