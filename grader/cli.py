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
def run(submissions, rubric, out, students, default_level, timeout, cell_timeout, overrides, data, hidden,
        memory_gib, jobs, kernel_python, require_sandbox, fresh) -> int:
    """Grade every student in SUBMISSIONS (roster.csv + one folder per student).

    Exit code 0: the class was graded; 3: graded, but the grader failed on some students (they are
    on the attention list and are graded again on the next run); 1: the run could not be done (bad
    rubric, roster or overrides); 2: bad usage or settings.
    """
    from .pipeline import grade_class

    settings = Settings(submissions=Path(submissions), rubric=Path(rubric), out=Path(out), students=tuple(students),
                        default_level=default_level, timeout=timeout, cell_timeout=cell_timeout,
                        overrides=overrides, data=Path(data), hidden=Path(hidden), memory_gib=memory_gib,
                        jobs=jobs, require_sandbox=require_sandbox, kernel_python=kernel_python)
    outcome = grade_class(settings, fresh=fresh)
    click.echo(f"graded {len(outcome.graded)} student(s), {len(outcome.skipped)} already current, "
               f"in {outcome.seconds:g} s; reports in {out}/ (grades.csv, summary.md, <student>/report.md)")
    if outcome.errors:
        click.echo(f"the grader failed on {', '.join(outcome.errors)}: see summary.md (Needs attention)", err=True)
        return GRADER_FAILED
    return 0


@cli.command("review")
@click.option("--reports", type=click.Path(path_type=Path), default=_DEFAULTS.out, show_default=True,
              help="Reports folder of a finished run.")
@click.option("--submissions", type=click.Path(path_type=Path), default=Path("submissions"), show_default=True,
              help="Where the students' notebooks are (their code is shown).")
@click.option("--overrides", type=click.Path(path_type=Path), default=None,
              help="File the points are written to [default: SUBMISSIONS/overrides.yaml].")
@click.option("--rubric", type=click.Path(path_type=Path), default=_DEFAULTS.rubric, show_default=True)
@click.option("--student", "students", multiple=True, help="Review only this student (repeatable).")
@click.option("--all", "include_done", is_flag=True, help="Also the items already overridden.")
def review(reports, submissions, overrides, rubric, students, include_done) -> int:
    """Score the items flagged for review by hand; writes overrides.yaml.

    For each item: points (0..max; Enter keeps the shown points, s skips, q quits) and a comment.
    Every answer is saved at once; the next `grader run` applies them.
    """
    from .review import run_review

    return run_review(reports, submissions, overrides, rubric, tuple(students), include_done)


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


@cli.group()
def export() -> None:
    """Write a finished run's grades for an LMS or Gradescope (from the reports, not the notebooks)."""


@export.command("gradescope")
@click.option("--reports", type=click.Path(path_type=Path), default=Path("reports"), show_default=True,
              help="The folder grader run wrote (its --out).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("gradescope"), show_default=True,
              help="Folder for OUT/<student>/results.json.")
@click.option("--rubric", type=click.Path(path_type=Path), default=_DEFAULTS.rubric, show_default=True,
              help="The run's rubric: test titles and visibility.")
def export_gradescope(reports, out, rubric) -> int:
    """Write OUT/<student>/results.json in Gradescope's autograder format, one test per rubric item."""
    from .export.gradescope import export_reports
    from .rubric import load_rubric

    done = export_reports(Path(reports), Path(out), load_rubric(rubric))
    click.echo(f"wrote results.json for {len(done.written)} student(s) in {out}/")
    if done.unreadable:
        click.echo(f"not exported, no complete report.json: {', '.join(done.unreadable)} "
                   f"(grade them with grader run)", err=True)
        return 1
    return 0


@cli.command("gradescope-autograder")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--rubric", type=click.Path(path_type=Path), default=_DEFAULTS.rubric, show_default=True)
@click.option("--hidden", type=click.Path(path_type=Path), default=_DEFAULTS.hidden, show_default=True,
              help="Hidden test set packed into the zip (the zip is the instructor's; students never see it).")
@click.option("--data", type=click.Path(path_type=Path), default=_DEFAULTS.data, show_default=True)
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="roster.csv (student,level[,name,email]): submitters are matched by email or name.")
@click.option("--default-level", type=click.Choice(LEVELS), default="undergrad", show_default=True,
              help="Level of a submitter the roster does not list.")
@click.option("--gradescope-timeout", type=click.FloatRange(120, 2400), default=600, show_default=True,
              help="The assignment's autograder timeout on Gradescope (seconds); notebook limits shrink to fit.")
@click.option("--timeout", type=float, default=_DEFAULTS.timeout, show_default=True, help="Seconds per notebook.")
@click.option("--cell-timeout", type=float, default=_DEFAULTS.cell_timeout, show_default=True, help="Seconds per cell.")
@click.option("--memory-gib", type=click.FloatRange(0.5, 64), default=_DEFAULTS.memory_gib, show_default=True)
@click.option("--require-sandbox", is_flag=True, help="Refuse to run notebooks without the full sandbox.")
def gradescope_autograder(out, rubric, hidden, data, roster, default_level, gradescope_timeout, timeout,
                          cell_timeout, memory_gib, require_sandbox) -> None:
    """Build OUT.zip for Gradescope: setup.sh, run_autograder, the grader, rubric, hidden set and data."""
    from .gradescope import AutograderConfig, BuildOptions, build_zip

    config = AutograderConfig(default_level=default_level, gradescope_timeout=gradescope_timeout, timeout=timeout,
                              cell_timeout=cell_timeout, memory_gib=memory_gib, require_sandbox=require_sandbox)
    names = build_zip(Path(out), BuildOptions(Path(rubric), Path(hidden), Path(data),
                                              Path(roster) if roster else None, config))
    click.echo(f"wrote {out} ({len(names)} files); upload it on the assignment's Configure Autograder page. "
               f"Submitters not in the roster are graded as {default_level}; set the assignment's timeout to "
               f"{gradescope_timeout:g} s and its memory to at least {memory_gib:g} GB")


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
