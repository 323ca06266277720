"""bench/bench.py is a script, not a test: only its arguments, its arithmetic and its closing line are
checked here (nothing is run or timed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_defaults_are_three_rounds_of_the_six_student_set(bench):
    args = bench.parse_args([])
    assert (args.rounds, args.students, args.skip, args.quick) == (3, bench.DEFAULT_STUDENTS, set(), False)


def test_quick_takes_the_small_set_and_all_takes_the_whole_class(bench):
    assert bench.parse_args(["--quick"]).students == bench.QUICK_STUDENTS
    assert bench.parse_args(["--students", "all"]).students == ()
    assert bench.parse_args(["--students", "bob, carol", "--rounds", "1"]).students == ("bob", "carol")


def test_an_unknown_skip_is_a_usage_error(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--skip", "floor,gpu"])


def test_the_closing_line_names_every_figure_and_says_na_for_what_was_skipped(bench):
    line = bench.final_line({"overhead": 0.954, "speedup": 1.9, "regrade_s": 0.4, "rescore_executions": 0,
                             "vs_nbgrader": 0.48, "vs_otter": None, "dask": 1.1})
    assert line == ("bench: overhead=0.95 speedup=1.90 regrade_s=0.40 rescore_executions=0 "
                    "vs_nbgrader=0.48 vs_otter=n/a dask=1.10")


def test_figures_are_medians_of_the_per_round_ratios(bench):
    def round_of(number, floor, jobs1, jobs2):
        r = bench.Round(number)
        r.timings = {"floor": bench.Timing(floor), "jobs1": bench.Timing(jobs1), "jobs2": bench.Timing(jobs2),
                     "rescore": bench.Timing(3.0, executed=0)}
        return r

    figures = bench.figures_of([round_of(0, 100, 90, 50), round_of(1, 100, 120, 60), round_of(2, 100, 95, 50)])
    assert (figures["overhead"], figures["speedup"], figures["rescore_executions"], figures["dask"]) == (
        0.95, 1.9, 0, None)


def test_moving_a_point_keeps_the_rubric_valid_and_changes_one_question(bench, tmp_path):
    from grader.rubric import load_rubric

    moved = bench.move_points(ROOT / "rubrics" / "hw3.yaml", tmp_path / "moved.yaml")
    before, after = load_rubric(ROOT / "rubrics" / "hw3.yaml"), load_rubric(moved)
    changed = [q for q in before.questions if before.questions[q].items != after.questions[q].items]
    assert len(changed) == 1 and before.max_total == after.max_total
