"""The grader against plain nbclient, nbgrader and otter-grader on the same notebooks (issue 11, item 5).
Not a test: run it by hand with the grader's interpreter, on an otherwise idle machine if you can.

    .venv/bin/python bench/bench.py [--rounds 3] [--quick] [--students alice,bob|all] [--out-dir D]
                                    [--incumbents-python PATH] [--skip floor,nbgrader,otter,otter_api,dask,profile]

Each round runs, in an order reversed every other round (so the machine's drift over a round does
not always favour the same tool, and the two sides of every ratio run next to each other: floor |
jobs1 | jobs2 | dask | nbgrader | otter | otter API): the floor (plain nbclient, one fresh kernel per
notebook, serially), `grader run --jobs 1` and `--jobs 2` from a cold cache (then a regrade of the
unchanged class, and a rubric with points moved between two items of one question: neither may
execute a notebook), the class on a local Dask cluster (a scheduler and two one-thread workers on
127.0.0.1), nbgrader's Execute preprocessor, and otter-grader's grading (`otter run`, one command
per notebook as its docs grade a submission outside Docker: the `vs_otter` figure; and its Python
API in one process, printed beside it as `vs_otter_api`). Ratios are taken per round and their
median reported. Every kernel runs the grader's interpreter, one thread each. A last pass profiles
one floor run and one `--jobs 1` run: where a notebook's seconds go. The closing line is
`bench: overhead=... speedup=... regrade_s=... rescore_executions=... vs_nbgrader=... vs_otter=... dask=...`.

Incumbents come from a separate venv (never the grader's):
    python3 -m venv ../bench-venv && ../bench-venv/bin/pip install nbgrader otter-grader ipykernel
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_report  # noqa: E402  (a sibling module, also when bench.py is imported by a test)
from staging import ClusterError, LocalCluster, Workspace, move_points, notebooks_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STUDENTS = ("alice", "dave", "liam", "mallory", "nina", "oscar")
"""Six students of the bundled class, 12 notebooks: six Part 1, four PyTorch (both tasks), two Keras
(both tasks), one student with both frameworks; about 2 minutes of serial execution, so three rounds
take about 40 minutes. `--students all` is the whole class (37 notebooks: about 45 minutes a round)."""
QUICK_STUDENTS = ("alice", "mallory", "nina")
"""Six notebooks: three Part 1, one PyTorch T1, one PyTorch T2, one Keras T2."""
MEASURES = ("floor", "jobs1", "jobs2", "dask", "nbgrader", "otter", "otter_api")
"""In the order of a round: each ratio's two sides are neighbours (jobs2 sits beside most)."""
SKIPPABLE = ("floor", "nbgrader", "otter", "otter_api", "dask", "profile")
INCUMBENTS = {"nbgrader": "nbgrader", "otter": "otter", "otter_api": "otter"}
"""Measurement -> the module it needs in the incumbents' venv."""
RUN_TIMEOUT = 4 * 3600
GRADER_FAILED = 3
"""`grader run`'s exit code when the class was graded but the grader failed on some students."""


@dataclass
class Timing:
    """One measurement: wall seconds (None when it did not run) and what to say about it."""

    seconds: float | None = None
    note: str = ""
    executed: int | None = None
    """Notebooks the grader executed (its closing line), for grader runs."""
    grades: bytes | None = None
    """grades.csv of a grader run."""
    errors: int | None = None
    """Error outputs over all notebooks, for the floor and the incumbents."""


@dataclass
class Round:
    number: int
    timings: dict[str, Timing] = field(default_factory=dict)


# ----------------------------------------------------------------------------- arguments, lines

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="6 notebooks (3 students), for a smoke run")
    parser.add_argument("--students", default="", help="comma-separated students, or 'all' "
                        f"(default: {','.join(DEFAULT_STUDENTS)})")
    parser.add_argument("--out-dir", type=Path, default=None, help="keep every run's files here (default: a temp folder, removed)")
    parser.add_argument("--incumbents-python", type=Path, default=None,
                        help="interpreter with nbgrader and otter-grader (default: ../bench-venv if present)")
    parser.add_argument("--submissions", type=Path, default=ROOT / "submissions")
    parser.add_argument("--skip", default="", help=f"comma-separated, of {','.join(SKIPPABLE)}")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.skip = {s for s in args.skip.split(",") if s}
    if args.skip - set(SKIPPABLE):
        parser.error(f"--skip takes {', '.join(SKIPPABLE)}")
    args.students = selected_students(args)
    return args


def selected_students(args: argparse.Namespace) -> tuple[str, ...]:
    if args.students == "all":
        return ()  # the whole class, as `grader run` grades it without --student
    if args.students:
        return tuple(s.strip() for s in args.students.split(",") if s.strip())
    return QUICK_STUDENTS if args.quick else DEFAULT_STUDENTS


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def final_line(figures: dict) -> str:
    """The benchmark's closing line; a figure that is None (skipped, failed) is 'n/a'."""
    keys = ("overhead", "speedup", "regrade_s", "rescore_executions", "vs_nbgrader", "vs_otter", "dask")
    return "bench: " + " ".join(f"{k}={fmt(figures.get(k))}" for k in keys)


def ratio(a: Timing | None, b: Timing | None) -> float | None:
    if a is None or b is None or not a.seconds or not b.seconds:
        return None
    return a.seconds / b.seconds


def median_of(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ----------------------------------------------------------------------------- the runs

def timed(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return time.perf_counter() - started, done


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def executed_count(stdout: str) -> int | None:
    import re

    found = re.search(r"(\d+) notebook\(s\) executed", stdout)
    return int(found.group(1)) if found else None


class Bench:
    """Everything one benchmark run needs: where things are, what is available, the rounds."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.python = sys.executable
        self.ws = Workspace(args.out_dir)
        self.notebooks = notebooks_of(args.submissions, args.students)
        self.incumbents = find_incumbents(args.incumbents_python)
        self.skipped: dict[str, str] = {}
        self.rounds: list[Round] = []

    def env(self) -> dict:
        return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                "JUPYTER_PATH": str(self.ws.jupyter)}

    def grader(self, folder: Path, *flags: str, rubric: Path | None = None) -> Timing:
        cmd = [self.python, "-m", "grader.cli", "run", str(self.args.submissions), "--out", str(folder / "out"),
               "--cache", str(folder / "cache"), "--quiet", *flags]
        cmd += [a for s in self.args.students for a in ("--student", s)]
        cmd += ["--rubric", str(rubric)] if rubric else []
        seconds, done = timed(cmd, self.env())
        grades = folder / "out" / "grades.csv"
        timing = Timing(seconds, executed=executed_count(done.stdout),
                        grades=grades.read_bytes() if grades.exists() else None)
        if done.returncode != 0:
            timing.note = f"exit {done.returncode}: {last_line(done.stderr) or last_line(done.stdout)}"
        if done.returncode not in (0, GRADER_FAILED):  # not graded: no time to compare
            timing.seconds = None
        return timing

    def driver(self, kind: str, python: str, folder: Path) -> Timing:
        manifest = self.ws.stage(folder, self.notebooks, kind)
        seconds, done = timed([python, str(ROOT / "bench" / "drivers.py"), kind, str(manifest)], self.env())
        if done.returncode != 0:
            return Timing(None, f"{kind} failed (exit {done.returncode}): {last_line(done.stderr)}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        return Timing(seconds, errors=sum(n["errors"] for n in report["notebooks"]))

    def measure(self, name: str, folder: Path) -> dict[str, Timing]:
        """One measurement of a round -> its timings (jobs2 brings the regrade and the rescore)."""
        if name == "floor":
            return {name: self.driver("floor", self.python, folder)}
        if name == "jobs1":
            return {name: self.grader(folder, "--jobs", "1")}
        if name == "jobs2":
            first = self.grader(folder, "--jobs", "2")
            rubric = move_points(ROOT / "rubrics" / "hw3.yaml", folder / "moved.yaml")
            return {name: first, "regrade": self.grader(folder, "--jobs", "2"),
                    "rescore": self.grader(folder, "--jobs", "2", rubric=rubric)}
        if name in INCUMBENTS:
            return {name: self.driver(name, str(self.incumbents), folder)}
        return {name: self.dask(folder)}

    def dask(self, folder: Path) -> Timing:
        try:
            with LocalCluster(self.python, folder / "cluster", self.env()) as address:
                timing = self.grader(folder, "--cluster", address)
        except ClusterError as exc:
            self.skipped["dask"] = f"the local cluster did not start ({exc})"
            return Timing(None, self.skipped["dask"])
        if timing.note:
            self.skipped["dask"] = f"grader run --cluster failed ({timing.note})"
            timing.seconds = None
        return timing

    def available(self) -> None:
        """Fills self.skipped with a reason for each measurement that cannot run here."""
        for name in self.args.skip:
            self.skipped[name] = "skipped (--skip)"
        if self.incumbents is None:
            for name in INCUMBENTS:
                self.skipped.setdefault(name, "no incumbents venv (see the docstring; or pass --incumbents-python)")
        else:
            for name, module in INCUMBENTS.items():
                probe = subprocess.run([str(self.incumbents), "-c", f"import {module}"], capture_output=True)
                if probe.returncode != 0:
                    self.skipped.setdefault(name, f"{module} is not installed in {self.incumbents}")
        if not (ROOT / "grader" / "cluster.py").exists():
            self.skipped.setdefault("dask", "this checkout has no grader/cluster.py (--cluster is not built)")
        elif subprocess.run([self.python, "-c", "import distributed"], capture_output=True).returncode != 0:
            self.skipped.setdefault("dask", f"distributed is not installed in {self.python}")

    def run_round(self, number: int) -> Round:
        this = Round(number)
        order = MEASURES if number % 2 == 0 else MEASURES[::-1]
        for name in order:
            if name in self.skipped:
                continue
            folder = self.ws.fresh(f"round{number + 1}/{name}")
            for key, timing in self.measure(name, folder).items():
                this.timings[key] = timing
                say(f"  round {number + 1} {key}: {fmt(timing.seconds)} s"
                    + (f", {timing.executed} executed" if timing.executed is not None else "")
                    + (f", {timing.errors} error outputs" if timing.errors is not None else "")
                    + (f" ({timing.note})" if timing.note else ""))
        return this


def find_incumbents(given: Path | None) -> Path | None:
    if given is not None:
        return given if given.exists() else None
    for candidate in (ROOT.parent / "bench-venv", ROOT / ".bench-venv"):
        if (candidate / "bin" / "python").exists():
            return candidate / "bin" / "python"
    return None


def say(text: str) -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------- the summary

def figures_of(rounds: list[Round]) -> dict:
    """Per-round ratios, then their medians (see the module's docstring for what each means)."""
    def per_round(a: str, b: str) -> list[float | None]:
        return [ratio(r.timings.get(a), r.timings.get(b)) for r in rounds]

    rescores = [r.timings["rescore"].executed for r in rounds if "rescore" in r.timings]
    regrades = [r.timings["regrade"].seconds for r in rounds if "regrade" in r.timings]
    return {
        "overhead": median_of(per_round("jobs1", "floor")),
        "speedup": median_of(per_round("jobs1", "jobs2")),
        "regrade_s": median_of(regrades),
        "rescore_executions": max(rescores) if rescores and None not in rescores else None,
        "vs_nbgrader": median_of(per_round("jobs2", "nbgrader")),
        "vs_otter": median_of(per_round("jobs2", "otter")),
        "vs_otter_api": median_of(per_round("jobs2", "otter_api")),
        "dask": median_of(per_round("dask", "jobs2")),
    }


def identical_grades(rounds: list[Round]) -> str:
    """Whether --jobs 1, --jobs 2 and dask wrote byte-identical grades.csv, in every round."""
    runs = [(f"round {r.number + 1} {name}", r.timings[name].grades) for r in rounds
            for name in ("jobs1", "jobs2", "regrade", "dask") if name in r.timings and r.timings[name].seconds]
    if not runs or any(g is None for _, g in runs):
        return "grades.csv: some runs wrote none: " + ", ".join(n for n, g in runs if g is None)
    differing = [n for n, g in runs if g != runs[0][1]]
    names = sorted({n.split(" ", 2)[2] for n, _ in runs})
    if differing:
        return f"grades.csv: NOT identical: {', '.join(differing)} differ from {runs[0][0]}"
    return f"grades.csv: byte-identical across {', '.join(names)} ({len(runs)} runs)"


def print_rounds(rounds: list[Round]) -> None:
    names = [n for n in (*MEASURES, "regrade", "rescore") if any(n in r.timings for r in rounds)]
    say("\nseconds per round: " + ", ".join(names))
    for r in rounds:
        say(f"  round {r.number + 1}: " + ", ".join(f"{n}={fmt(r.timings[n].seconds if n in r.timings else None)}"
                                               for n in names))
    pairs = (("overhead (jobs1/floor)", "jobs1", "floor"), ("speedup (jobs1/jobs2)", "jobs1", "jobs2"),
             ("jobs2/floor", "jobs2", "floor"), ("nbgrader/floor", "nbgrader", "floor"),
             ("otter run/floor", "otter", "floor"), ("otter API/floor", "otter_api", "floor"),
             ("vs_nbgrader (jobs2/nbgrader)", "jobs2", "nbgrader"), ("vs_otter (jobs2/otter run)", "jobs2", "otter"),
             ("vs_otter_api (jobs2/otter API)", "jobs2", "otter_api"), ("dask/jobs2", "dask", "jobs2"))
    say("ratios per round (median):")
    for label, a, b in pairs:
        values = [ratio(r.timings.get(a), r.timings.get(b)) for r in rounds]
        say(f"  {label}: {' '.join(fmt(v) for v in values)} (median {fmt(median_of(values))})")
    for name in ("regrade", "rescore"):
        ts = [r.timings[name] for r in rounds if name in r.timings]
        if ts:
            say(f"  {name}: {' '.join(fmt(t.seconds) for t in ts)} s, notebooks executed "
                f"{' '.join(fmt(t.executed) for t in ts)}")


def machine() -> str:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({model or platform.machine()}), {memory:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"bubblewrap {'yes' if shutil.which('bwrap') else 'no'}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    bench.available()
    say(f"machine: {machine()}; load average {load()}")
    say(f"class: {len(bench.notebooks)} notebooks of {len(args.students) or 'all'} students from "
        f"{args.submissions}; {args.rounds} round(s); incumbents: {bench.incumbents or 'none'}")
    for name, why in bench.skipped.items():
        say(f"{name}: skipped: {why}")
    try:
        otter_runs = {"otter", "otter_api"} - set(bench.skipped)
        bench.ws.setup(bench.python, bench.incumbents if otter_runs else None)
        for number in range(args.rounds):
            say(f"round {number + 1} (load average {load()})")
            bench.rounds.append(bench.run_round(number))
        print_rounds(bench.rounds)
        say(identical_grades(bench.rounds))
        if "profile" not in bench.skipped:
            say(profile_report.profile(bench))
        say(f"load average at the end: {load()}")
        for name, why in bench.skipped.items():
            if name != "profile":
                say(f"{name}: n/a: {why}")
        figures = figures_of(bench.rounds)
        say(f"otter's Python API instead of otter run: vs_otter_api={fmt(figures['vs_otter_api'])}")
        say(final_line(figures))
    finally:
        bench.ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
