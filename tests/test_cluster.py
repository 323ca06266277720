"""`grader run --cluster`: a Dask scheduler and two workers, each a process of its own on loopback,
grade a class exactly as a local run does, also when a worker dies mid-notebook; a scheduler that
cannot be reached is one line and exit code 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader import cluster as dask_runner
from grader.errors import SettingsError
from grader.model import KernelJob
from grader.sandbox import Limits
from grader.work import NotebookWork

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")
PART1_ONLY = ("mallory", "nina", "oscar")
"""Students of the bundled class who handed in Part 1 only."""
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
"""Workers and the grader import this checkout's grader."""


class Cluster:
    """A scheduler and workers started with the `dask` command, bound to 127.0.0.1 only (the
    dashboards too). Workers run without a nanny, so a killed worker stays dead."""

    def __init__(self, folder: Path):
        from distributed import Client

        self.folder, self.file = folder, folder / "scheduler.json"
        self.scheduler = self._start("scheduler.log", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                     "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(self.file))
        self.workers: list[subprocess.Popen] = []
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.client = Client(self.address, timeout=30, set_as_default=False)

    def _start(self, log: str, *args: str, env: dict = ENV) -> subprocess.Popen:
        with open(self.folder / log, "ab") as out:
            return subprocess.Popen([str(DASK), *args], cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT)

    def add_worker(self, env: dict = ENV) -> subprocess.Popen:
        n = len(self.workers)
        self.workers.append(self._start(f"worker{n}.log", "worker", "--scheduler-file", str(self.file),
                                        "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                                        "--dashboard-address", "127.0.0.1:0",
                                        "--local-directory", str(self.folder / f"worker{n}"), env=env))
        self.client.wait_for_workers(sum(w.poll() is None for w in self.workers), timeout=60)
        return self.workers[-1]

    def executing(self, prefix: str, seconds: float = 60) -> str:
        """The address of the worker executing the task whose key starts with `prefix`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for worker, stacks in self.client.call_stack().items():
                if any(str(key).startswith(prefix) for key in stacks):
                    return worker
            time.sleep(0.05)
        raise AssertionError(f"no worker started {prefix}")

    def kill(self, worker: str) -> None:
        """SIGKILL the worker process at that address (one this fixture started)."""
        pid = self.client.run(os.getpid, workers=[worker])[worker]
        (process,) = [w for w in self.workers if w.pid == pid]
        process.kill()
        process.wait()

    def close(self) -> None:
        """Workers first (a worker whose scheduler is gone waits for it to come back), then the scheduler."""
        self.client.close()
        for group in (self.workers, [self.scheduler]):
            for process in group:
                process.terminate()
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        running.add_worker()
        running.add_worker()
        yield running
    finally:
        running.close()


def _class(root: Path, first_cell: dict[str, str] | None = None) -> Path:
    """The Part 1-only students of the bundled class; `first_cell` puts a cell before a student's own."""
    root.mkdir(parents=True)
    roster = (ROOT / "submissions" / "roster.csv").read_text().splitlines()
    (root / "roster.csv").write_text("\n".join(l for l in roster if l.split(",")[0] in ("student", *PART1_ONLY)) + "\n")
    for student in PART1_ONLY:
        (root / student).mkdir()
        nb = nbformat.read(ROOT / "submissions" / student / "H3P1.ipynb", as_version=4)
        if first_cell and student in first_cell:
            nb.cells.insert(0, nbformat.v4.new_code_cell(first_cell[student]))
        nbformat.write(nb, root / student / "H3P1.ipynb")
    return root


def _grade(subs: Path, out: Path, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", "run", str(subs), "--out", str(out), *more],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def _cached(out: Path) -> set[str]:
    return {p.name for p in (out / ".cache").rglob("*.json")}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    """The reports folder of the Part 1 class graded here with --jobs 1."""
    folder = tmp_path_factory.mktemp("local")
    done = _grade(_class(folder / "class"), folder / "out", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    return folder / "out"


@pytest.mark.slow
def test_a_class_graded_on_the_cluster_has_the_grades_of_a_local_run(cluster, local_run, tmp_path):
    done = _grade(_class(tmp_path / "class"), tmp_path / "out", "--cluster", cluster.address)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (local_run / "grades.csv").read_bytes()
    # The workers computed the keys this machine would: their runs serve a local regrade.
    assert _cached(tmp_path / "out") == _cached(local_run) and len(_cached(local_run)) == len(PART1_ONLY)


@pytest.mark.slow
def test_a_scheduler_that_cannot_be_reached_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    done = _grade(_class(tmp_path / "class"), tmp_path / "out", "--cluster", address)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"error: --cluster: {address}: cannot reach a Dask scheduler there")
    assert not (tmp_path / "out" / "grades.csv").exists()


@pytest.mark.slow
def test_a_worker_killed_mid_notebook_has_it_run_again_on_the_other_worker(cluster, local_run, tmp_path):
    # mallory's notebook is the first one handed out (ties go by name) and sleeps first, so it is
    # still running when its worker is killed. The extra cell changes none of her points.
    subs = _class(tmp_path / "class", {"mallory": "import time\ntime.sleep(5)"})
    cmd = [sys.executable, "-m", "grader.cli", "run", str(subs), "--out", str(tmp_path / "out"),
           "--cluster", cluster.address]
    grading = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder = cluster.executing("notebook-mallory-")
        cluster.kill(holder)
        _, err = grading.communicate(timeout=300)
    finally:
        grading.kill()
    assert grading.returncode == 0, err
    assert holder not in cluster.client.scheduler_info()["workers"]  # it died; the other one ran the retry
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (local_run / "grades.csv").read_bytes()
    report = json.loads((tmp_path / "out" / "mallory" / "report.json").read_text())
    assert report["notebooks"][0]["status"] == "ok"
    # A second death would have given up on the notebook (KilledWorker): retried once, not more.
    assert cluster.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) == 1
    cluster.add_worker()  # two workers again for the tests after this one


@pytest.mark.slow
def test_a_worker_without_the_grader_stops_the_run_before_any_notebook(cluster, tmp_path):
    # Such a worker would die on the first notebook it is sent, and the run wait for ever.
    (tmp_path / "shadow" / "grader").mkdir(parents=True)
    (tmp_path / "shadow" / "grader" / "__init__.py").write_text("raise ModuleNotFoundError('no grader here')\n")
    stranger = cluster.add_worker({**os.environ, "PYTHONPATH": str(tmp_path / "shadow")})
    try:
        done = _grade(_class(tmp_path / "class"), tmp_path / "out", "--cluster", cluster.address)
    finally:
        stranger.kill()
        stranger.wait()
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert "1 worker(s) cannot import the grader" in done.stderr and "no grader here" in done.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


def _work() -> NotebookWork:
    return NotebookWork("key", "ann", "H3P1", Path("H3P1.ipynb"), b"{}", KernelJob((), {}), Limits())


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "http://127.0.0.1:8786", "tcp://127.0.0.1", "tcp://h:port"])
def test_an_address_that_is_not_a_scheduler_address_is_a_settings_error(address):
    with pytest.raises(SettingsError) as raised:
        next(dask_runner.DaskRunner(address).run([_work()]))
    assert raised.value.exit_code == 2
    assert raised.value.line() == (f"--cluster: {address}: not a Dask scheduler address. "
                                   "Fix: give it as tcp://HOST:PORT (the address `dask scheduler` prints)")


class _Raised:
    """A Dask future whose task raised."""

    def result(self):
        raise RuntimeError("the executor broke")


def test_a_notebook_whose_task_raised_comes_back_as_its_own_failure():
    work = _work()
    got, run, trace = dask_runner._outcome(work, _Raised())
    assert (got, run) == (work, None)
    assert trace.strip().endswith("RuntimeError: the executor broke")
