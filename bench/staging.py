"""What bench/bench.py prepares before it times anything: fresh copies of the notebooks (each in its
own folder with the task's training CSV in data/, as the grader's scratch folder has it), the
kernelspecs that make nbclient, nbgrader and otter run the grader's interpreter with one thread, the
otter autograder zips, a rubric with points moved, and a local Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "reference" / "data"
KERNEL = "hw3-course"
OTTER_KERNEL = "hw3-course-otter"
THREAD_ENV = {
    # As grader/sandbox.py's THREAD_ENV: every tool's kernels get one thread, as the grader's do.
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
    # Also as the grader's kernels: no GPU probing, no TensorFlow log flood, fixed hashes.
    "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0",
}


def task_of(name: str) -> str:
    return next((t for t in ("H3P2T1", "H3P2T2", "H3P1") if name.upper().startswith(t)), "H3P1")


def notebooks_of(submissions: Path, students: tuple[str, ...]) -> list[Path]:
    """The notebooks `grader run` grades for these students (the whole class when empty)."""
    folders = [submissions / s for s in students] if students else sorted(p for p in submissions.iterdir() if p.is_dir())
    return [nb for folder in folders for nb in sorted(folder.glob("*.ipynb"))]


class Workspace:
    """The benchmark's folder: kernelspecs, zips, and one fresh subfolder per measurement."""

    def __init__(self, out_dir: Path | None):
        self.keep = out_dir is not None
        self.root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="grader-bench-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.jupyter = self.root / "jupyter"
        self.zips: dict[str, Path] = {}

    def setup(self, python: str, incumbents: Path | None) -> None:
        """Kernelspecs for the course kernel (and otter's, with otter importable in it), otter's zips."""
        write_kernelspec(self.jupyter, KERNEL, python, {})
        if incumbents is not None:
            overlay = otter_overlay(python, incumbents, self.root / "otter-overlay")
            write_kernelspec(self.jupyter, OTTER_KERNEL, python, {"PYTHONPATH": str(overlay)})
            for task in ("H3P1", "H3P2T1", "H3P2T2"):
                self.zips[task] = otter_zip(self.root / f"otter-{task}.zip", task)

    def fresh(self, name: str) -> Path:
        folder = self.root / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def stage(self, folder: Path, notebooks: list[Path], kind: str) -> Path:
        """Copies of the notebooks, each in its own folder with data/ -> the driver's manifest."""
        items = []
        for i, nb in enumerate(notebooks):
            home = folder / "nb" / f"{i:02d}-{nb.parent.name}"
            (home / "data").mkdir(parents=True)
            shutil.copyfile(nb, home / nb.name)
            task = task_of(nb.name)
            if (DATA / f"{task}_train.csv").exists():
                shutil.copyfile(DATA / f"{task}_train.csv", home / "data" / f"{task}_train.csv")
            if kind.startswith("otter"):  # otter runs the notebook's own kernelspec (otter run keeps it)
                set_kernel(home / nb.name, OTTER_KERNEL)
            items.append({"name": f"{nb.parent.name}/{nb.name}", "notebook": str(home / nb.name),
                          "kernel": KERNEL, "zip": str(self.zips.get(task, ""))})
        manifest = folder / "manifest.json"
        manifest.write_text(json.dumps(items, indent=1))
        return manifest

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def write_kernelspec(jupyter: Path, name: str, python: str, env: dict) -> None:
    folder = jupyter / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": name,
            "language": "python", "env": {**THREAD_ENV, **env}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))


def set_kernel(path: Path, kernel: str) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb.setdefault("metadata", {})["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    path.write_text(json.dumps(nb), encoding="utf-8")


def otter_overlay(python: str, incumbents: Path, folder: Path) -> Path:
    """A folder with links to just the packages otter's in-kernel code needs that the course
    environment lacks (otter, dill, fica, ...): on the kernel's PYTHONPATH it shadows nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    site = subprocess.run([str(incumbents), "-c", "import otter, os; print(os.path.dirname(os.path.dirname(otter.__file__)))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    probe = ("from otter import Notebook; from otter import logging; from otter.execute import Checker; "
             "from otter.test_files import GradingResults")
    missing = "otter"
    for _ in range(30):
        for entry in (Path(site) / missing, Path(site) / f"{missing}.py"):
            if entry.exists() and not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(folder)})
        if done.returncode == 0:
            return folder
        found = done.stderr.rsplit("No module named '", 1)
        if len(found) < 2:
            raise RuntimeError(f"otter cannot be imported in the course kernel: {done.stderr.strip()[-300:]}")
        missing = found[1].split("'")[0].split(".")[0]
    raise RuntimeError("otter cannot be imported in the course kernel (too many missing packages)")


def otter_zip(path: Path, task: str) -> Path:
    """An autograder zip as `otter generate` makes one, with no tests: only execution is compared."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("otter_config.json", json.dumps({}))
        zf.writestr("tests/", "")
        csv = DATA / f"{task}_train.csv"
        if csv.exists():
            zf.write(csv, f"files/data/{csv.name}")
    return path


def move_points(rubric: Path, target: Path) -> Path:
    """A copy of the rubric with one point moved, at every level, from the first item of a question
    to its second (the question's total unchanged, so it still validates)."""
    import yaml

    data = yaml.safe_load(rubric.read_text(encoding="utf-8"))
    for question in data["questions"].values():
        items = list(question.get("items", {}).values())
        if len(items) >= 2 and all(isinstance(v, (int, float)) and v >= 1 for v in items[0].values()):
            for level in items[0]:
                items[0][level] -= 1
                items[1][level] += 1
            target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            return target
    raise RuntimeError(f"{rubric}: no question with two items to move a point between")


class ClusterError(Exception):
    pass


class LocalCluster:
    """`dask scheduler` and two `dask worker --nthreads 1` processes on 127.0.0.1, stopped on exit
    (each started in its own process group, which is what is signalled)."""

    def __init__(self, python: str, folder: Path, env: dict):
        self.python, self.folder, self.env = python, folder, env
        self.procs: list[subprocess.Popen] = []

    def _start(self, *args: str) -> None:
        dask = Path(self.python).parent / "dask"
        cmd = [str(dask)] if dask.exists() else [self.python, "-m", "distributed.cli.dask"]
        log = open(self.folder / f"{args[0]}-{len(self.procs)}.log", "w")
        self.procs.append(subprocess.Popen([*cmd, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, cwd=self.folder))

    def __enter__(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        scheduler = self.folder / "scheduler.json"
        try:
            self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(scheduler))
            for _ in range(2):
                self._start("worker", "--scheduler-file", str(scheduler), "--nthreads", "1", "--nworkers", "1",
                            "--host", "127.0.0.1", "--no-dashboard")
            return self._wait(scheduler)
        except BaseException:
            self.__exit__()
            raise

    def _wait(self, scheduler: Path) -> str:
        code = ("import sys; from distributed import Client; c = Client(scheduler_file=sys.argv[1], timeout=60); "
                "c.wait_for_workers(2, timeout=120); print(c.scheduler.address); c.close()")
        for _ in range(120):
            if scheduler.exists():
                break
            time.sleep(0.5)
        done = subprocess.run([self.python, "-c", code, str(scheduler)], capture_output=True, text=True,
                              env=self.env, timeout=300)
        if done.returncode != 0:
            raise ClusterError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no workers")
        return done.stdout.strip().splitlines()[-1]

    def __exit__(self, *exc) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
