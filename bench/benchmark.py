"""Speed goals as ratios (measured / goal; below 1 means the goal is met). Not a test: run it by hand.

    .venv/bin/python bench/benchmark.py

Goals: checking Part 1 of one student (kernel start and the notebook's own run excluded) <= 0.5 s;
the sandbox adds <= 20% to running a notebook; a Part 1 notebook (kernel start, nbclient, extraction)
takes <= 2 s in all.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

from grader import execute, extract
from grader.checks import CHECKERS
from grader.rubric import load_rubric
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rubric = load_rubric(ROOT / "rubrics" / "hw3.yaml")
    part1 = CHECKERS["H3P1"]
    request = part1.request(rubric, None)
    code = extract.kernel_code(request, part1.kernel_modules)
    notebook = ROOT / "reference" / "H3P1.ipynb"

    run = execute.run_notebook(notebook, "H3P1", code)
    answers = extract.read_answers(run, request)
    part1.check(answers, run, rubric, None)  # warm-up: torch autograd reference, computed once per rubric
    check = timed(lambda: part1.check(extract.read_answers(run, request), run, rubric, None), 5)
    print(f"Part 1 check of one student: {check:.3f} s; goal 0.5 s; ratio {check / 0.5:.2f}")

    full = timed(lambda: execute.run_notebook(notebook, "H3P1", code), 3)
    reduced_limits = replace(Limits(), confine=False)
    plain = timed(lambda: execute.run_notebook(notebook, "H3P1", code, reduced_limits), 3)
    print(f"H3P1 notebook in the sandbox: {full:.2f} s, without: {plain:.2f} s; ratio {full / plain:.2f} "
          f"(goal <= 1.20)")
    # The reference's own cells take milliseconds: this is kernel start + nbclient + extraction.
    print(f"H3P1 notebook end to end: {full:.2f} s; goal 2 s; ratio {full / 2:.2f}; sandbox: {run.sandbox}")


if __name__ == "__main__":
    main()
