"""Command line: flags -> Settings -> pipeline. A GraderError becomes one line and an exit code."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from .errors import GraderError
from .handout import GRADER_PIP, REFERENCE
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
@click.option("--jobs", type=click.IntRange(1, 64), default=_DEFAULTS.jobs, show_default="the number of cores",
              help="Notebooks executed at once (one kernel each, one thread per kernel).")
@click.option("--cluster", default="", metavar="tcp://HOST:PORT",
              help="Run the notebooks on a Dask cluster's workers (checks and reports stay here).")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Cache folder, may be shared by several machines [default: OUT/.cache].")
@click.option("--no-cache", is_flag=True, help="Execute every notebook again (the cache is neither read nor written).")
@click.option("--kernel-python", type=click.Path(path_type=Path), default=None,
              help="Interpreter the graded kernels run [default: the grader's own, with environment/requirements.txt].")
@click.option("--require-sandbox", is_flag=True, help="Refuse to run notebooks without the full sandbox.")
@click.option("--fresh", is_flag=True, help="Grade again even students whose reports are current.")
@click.option("--quiet", is_flag=True, help="No progress bar and no line per student (warnings still shown).")
def run(submissions, rubric, out, students, default_level, timeout, cell_timeout, overrides, data, hidden,
        memory_gib, jobs, cluster, cache, no_cache, kernel_python, require_sandbox, fresh, quiet) -> int:
    """Grade every student in SUBMISSIONS (roster.csv + one folder per student).

    Exit code 0: the class was graded; 3: graded, but the grader failed on some students (they are
    on the attention list and are graded again on the next run); 1: the run could not be done (bad
    rubric, roster or overrides); 2: bad usage or settings.
    """
    from .pipeline import grade_class

    settings = Settings(submissions=Path(submissions), rubric=Path(rubric), out=Path(out), students=tuple(students),
                        default_level=default_level, timeout=timeout, cell_timeout=cell_timeout,
                        overrides=overrides, data=Path(data), hidden=Path(hidden), memory_gib=memory_gib,
                        jobs=jobs, cluster=cluster, cache=cache, no_cache=no_cache,
                        require_sandbox=require_sandbox, kernel_python=kernel_python, quiet=quiet)
    outcome = grade_class(settings, fresh=fresh)
    click.echo(f"graded {len(outcome.graded)} student(s), {len(outcome.skipped)} already current, "
               f"{outcome.executed} notebook(s) executed, in {outcome.seconds:g} s; reports in {out}/ "
               "(index.html, grades.csv, summary.md, <student>/report.html)")
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


@cli.command()
@click.argument("notebooks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Folder with the training CSVs [default: data/ next to the notebook].")
@click.option("--timeout", type=float, default=_DEFAULTS.timeout, show_default=True, help="Seconds per notebook.")
@click.option("--cell-timeout", type=float, default=_DEFAULTS.cell_timeout, show_default=True, help="Seconds per cell.")
@click.option("--memory-gib", type=click.FloatRange(0.5, 64), default=_DEFAULTS.memory_gib, show_default=True,
              help="Memory per notebook (its kernel's whole process tree).")
def check(notebooks, data, timeout, cell_timeout, memory_gib) -> int:
    """Check your notebooks before you hand them in: grader check H3P1.ipynb H3P2T1_torch.ipynb.

    Runs each notebook as the grader does and says what would lose points on the checks that need no
    solution. It never shows a score. Exit code 0: nothing found; 1: something would lose points;
    2: bad usage (a file that is not a contract notebook, missing training data).
    """
    from .selfcheck import check_main

    return check_main(tuple(notebooks), data, timeout, cell_timeout, memory_gib, click.echo)


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


@cli.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Write the handout's files into a folder that is not empty.")
@click.option("--reference", type=click.Path(path_type=Path), default=REFERENCE, show_default=True,
              help="Folder with the blank templates (*_template.ipynb) and the reference solutions.")
@click.option("--data", type=click.Path(path_type=Path), default=_DEFAULTS.data, show_default=True,
              help="Training data handed out.")
@click.option("--hidden", type=click.Path(path_type=Path), default=_DEFAULTS.hidden, show_default=True,
              help="Hidden test set (the handout is scanned for its rows).")
@click.option("--rubric", type=click.Path(path_type=Path), default=_DEFAULTS.rubric, show_default=True,
              help="Rubric (the handout is scanned for its keyword lists and bars).")
@click.option("--grader-pip", default=GRADER_PIP, show_default=True,
              help="What the handout's README tells students to pip install for `grader check`.")
def handout(out_dir, force, reference, data, hidden, rubric, grader_pip) -> int:
    """Write what students receive into OUT_DIR, then scan it for anything they must not see.

    Exit code 1 (and a line per find) when the handout holds a solution line, a hidden row, a
    keyword list or a bar of the rubric.
    """
    from .handout import build_handout, gather_secrets, scan_handout
    from .rubric import load_rubric

    written = build_handout(Path(out_dir), Path(reference), Path(data), force=force, grader_pip=grader_pip)
    for name in written.others:
        click.echo(f"warning: {out_dir}/{name} was there already and is not part of the handout", err=True)
    secrets = gather_secrets(Path(reference), Path(hidden), load_rubric(rubric))
    if not secrets.hidden_text:
        click.echo(f"warning: no hidden test set in {hidden}: the handout was not scanned for hidden rows", err=True)
    leaks = scan_handout(written.folder, secrets)
    for leak in leaks:
        click.echo(f"leak: {out_dir}/{leak.describe()}", err=True)
    if leaks:
        click.echo(f"{len(leaks)} thing(s) in {out_dir}/ that students must not see: do not hand it out", err=True)
        return 1
    click.echo(f"handout in {out_dir}/: {', '.join(written.files)}; no solution line, hidden row, keyword list or bar")
    return 0


@cli.command()
@click.option("--rubric", type=click.Path(path_type=Path), default=_DEFAULTS.rubric, show_default=True)
@click.option("--reference", type=click.Path(path_type=Path), default=REFERENCE, show_default=True,
              help="Folder with the reference solutions and the blank templates.")
@click.option("--data", type=click.Path(path_type=Path), default=_DEFAULTS.data, show_default=True)
@click.option("--hidden", type=click.Path(path_type=Path), default=_DEFAULTS.hidden, show_default=True)
def verify(rubric, reference, data, hidden) -> int:
    """Instructor CI: the rubric validates, the reference solutions score full marks at both levels
    (real kernels: a few minutes), the handout holds no solution. Exit code 1 and one line per problem
    otherwise."""
    from .verify import verify as run_verify

    settings = Settings(submissions=Path(reference), rubric=Path(rubric), data=Path(data), hidden=Path(hidden))
    problems = run_verify(settings, Path(reference))
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        click.echo(f"verify: {len(problems)} problem(s)", err=True)
        return 1
    click.echo("verify: ok (rubric valid, reference at full marks at both levels, handout clean)")
    return 0


@export.command("canvas")
@click.option("--roster", "gradebook", type=click.Path(path_type=Path), required=True,
              help="The course's gradebook as Canvas exports it (Grades > Export): the students' rows.")
@click.option("--reports", type=click.Path(path_type=Path), default=_DEFAULTS.out, show_default=True,
              help="The reports folder of a finished `grader run`.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="CSV to write [default: REPORTS/canvas.csv].")
@click.option("--assignment", default="HW3", show_default=True,
              help="The Canvas assignment: its name, or its column as exported ('HW3 (12345)').")
@click.option("--class-roster", type=click.Path(path_type=Path), default=Path("submissions") / "roster.csv",
              show_default=True, help="roster.csv with an optional sis_login column (used when present).")
def export_canvas(gradebook, reports, out, assignment, class_roster) -> int:
    """CSV for Canvas's gradebook import: Canvas's student columns, then the assignment's total.

    Exit code 1 when a graded student matches no Canvas student, the grader failed on one, or a
    report.json cannot be read: they are listed, the others are written.
    """
    from .export import read_reports
    from .export.canvas import export_canvas as build
    from .report import write_atomic

    found = read_reports(Path(reports))
    done = build(list(found.found.values()), Path(gradebook), Path(class_roster), assignment)
    target = Path(out) if out is not None else Path(reports) / "canvas.csv"
    write_atomic(target, done.text)
    if done.new_assignment:
        click.echo(f"warning: no column {assignment} in {gradebook}: the import creates a new assignment", err=True)
    if done.without_report:
        click.echo(f"warning: no report for {len(done.without_report)} Canvas student(s), left empty: "
                   + "; ".join(done.without_report), err=True)
    if done.provisional:
        click.echo(f"warning: provisional (review or attention in summary.md): {', '.join(done.provisional)}", err=True)
    if done.unmatched:
        click.echo(f"error: not in the Canvas gradebook, so not exported: {'; '.join(done.unmatched)}. Fix: add "
                   f"a sis_login column to {class_roster} with each student's Canvas SIS Login ID", err=True)
    if done.failed:
        click.echo(f"error: the grader failed on {', '.join(done.failed)}: left empty; grade them again", err=True)
    if found.unreadable:
        click.echo(f"error: no complete report.json, so not exported: {', '.join(found.unreadable)} "
                   "(grade them with grader run)", err=True)
    click.echo(f"wrote {target}: {done.exported} grade(s) in column '{done.column}'")
    return 1 if done.unmatched or done.failed or found.unreadable else 0

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


def entry() -> None:
    """The `grader` command: main(), then out without the interpreter's teardown. Tearing down a
    process that imported torch (Q1's truth) costs half a second a run, and by now everything the
    run wrote is closed (the runners' pools and the Dask client are shut in their `finally`)."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
