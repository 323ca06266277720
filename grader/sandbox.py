"""How a student's kernel is started and confined: environment, scratch folder, limits. No grading.

The kernel runs inside bubblewrap (own user, pid, network, mount, IPC and UTS namespaces; no
capabilities; read-only system; only its scratch folder writable) and talks to the grader over
ZMQ `ipc` sockets in that scratch folder, so no TCP port crosses the boundary. A watchdog thread in
the grader enforces the limits bubblewrap cannot (memory, process count, scratch size, wall time)
by killing the kernel's whole process tree. Without bubblewrap the kernel runs as a plain process
with the same limits and `NotebookRun.sandbox` says "reduced (<why>)".
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil
from jupyter_client import AsyncKernelManager

MiB = 2**20
GiB = 2**30

# Threads: one per kernel. Two threads made a tiny torch training 10x slower under load, and the
# thread count changes results in the last digits (determinism).
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


@dataclass(frozen=True)
class Limits:
    """What one notebook may use. Every limit is finite by default; a hit kills the kernel's tree."""

    cell_seconds: float = 300.0
    """Wall seconds per cell (then the cell is interrupted and the notebook goes on)."""
    notebook_seconds: float = 900.0
    """Wall seconds for all student cells; the kernel is killed when it will not stop."""
    extraction_seconds: float = 120.0
    """Wall seconds for the grader's answer-reading cell (on top of notebook_seconds)."""
    interrupt_grace_seconds: float = 5.0
    """How long a timed-out cell may take to stop after the interrupt before the kernel is killed."""
    memory_bytes: int = 4 * GiB
    """Resident memory of the kernel's whole process tree (watchdog)."""
    address_space_bytes: int = 16 * GiB
    """RLIMIT_AS per process: a loose outer bound (an idle Keras kernel reserves 2.2 GB)."""
    processes: int = 64
    """Processes in the kernel's tree, the kernel and the sandbox's own two included (watchdog)."""
    tasks: int = 1024
    """Threads + processes (cgroup pids.max, where the host offers a pids cgroup): stops a fork bomb
    before the watchdog even looks."""
    output_bytes: int = 64 * MiB
    """Output the kernel may send for the whole notebook (streams, displays, errors)."""
    message_bytes: int = 64 * MiB
    """Largest single message the grader accepts from the kernel (ZMQ MAXMSGSIZE); a larger one
    is refused and the kernel's output channel is lost, so the notebook fails closed."""
    kept_output_bytes: int = 1 * MiB
    """Output kept per cell for the report; the rest is dropped with a note."""
    scratch_bytes: int = 2 * GiB
    """Disk used in the scratch folder (notebook copy and data included); also RLIMIT_FSIZE."""
    scratch_files: int = 20_000
    """Files and folders in the scratch folder."""
    tmp_bytes: int = 256 * MiB
    """Size of each of the sandbox's in-memory /tmp and /dev/shm."""
    poll_seconds: float = 0.1
    """How often the watchdog looks."""
    confine: bool = True
    """False runs the kernel without bubblewrap (measurements only; the run says "reduced")."""
    require_sandbox: bool = False
    """Refuse to run (status not_run) when the full sandbox is unavailable."""
    python: str = ""
    """Interpreter the kernel runs (--kernel-python); "" is the grader's own."""


def format_bytes(n: float) -> str:
    """Bytes for a message: '4 GiB', '64 MiB'."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def kernel_env(scratch: Path) -> dict[str, str]:
    """Environment of the kernel: scratch HOME (keras and Jupyter write there), one thread, seeds."""
    home = scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        **THREAD_ENV,
        "HOME": str(home),
        "KERAS_HOME": str(home / ".keras"),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }


# ---------------------------------------------------------------------------------------------
# bubblewrap

# What the interpreter needs from /etc; the rest of /etc (shadow, ssh keys...) stays out.
ETC = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone",
       "passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ssl", "ca-certificates",
       "fonts", "mime.types", "os-release", "debian_version", "locale.alias", "locale.gen")


@functools.lru_cache(maxsize=8)
def _prefixes_of(python: str) -> tuple[str, ...]:
    """sys.prefix and friends of another interpreter (asked once: it is a subprocess)."""
    code = "import sys; print('\\n'.join((sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return tuple(line for line in done.stdout.splitlines() if line)


def python_roots(python: str = "") -> list[str]:
    """Folders holding the kernel's interpreter and its packages (the venv and the real installation)."""
    if python:
        roots = {os.path.realpath(p) for p in _prefixes_of(python)}
    else:
        roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(python or sys.executable))))
    # A root inside another is bound with it; "/usr" is bound anyway.
    keep = sorted(r for r in roots if r not in ("/", "/usr") and not r.startswith("/usr/"))
    return [r for r in keep if not any(r != o and r.startswith(o + os.sep) for o in keep)]


def kernel_python_problem(python: Path) -> str:
    """"" when `python` can run a graded kernel, else what is wrong with it (checked before a run)."""
    try:
        done = subprocess.run([str(python), "-c", "import ipykernel, numpy"], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot be run ({type(exc).__name__}: {exc})"
    if done.returncode != 0:
        last = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return f"cannot start a kernel ({last[0][:200]})"
    return ""


def bwrap_args(scratch: Path, limits: Limits, bwrap: str = "bwrap") -> list[str]:
    """The bubblewrap command line up to (not including) the kernel command."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", "65534", "--gid", "65534", "--hostname", "sandbox",
            "--cap-drop", "ALL", "--die-with-parent", "--new-session",
            # The kernel's parent is the namespace's init (pid 1): without this ipykernel's parent
            # poller takes that for "parent died" and exits. --die-with-parent covers that case.
            "--setenv", "JPY_PARENT_PID", "1",
            "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + top
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    size = str(int(limits.tmp_bytes))
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
             "--size", size, "--tmpfs", "/tmp"]
    # After the /tmp tmpfs, or it would hide an interpreter or venv that lives under /tmp.
    for root in python_roots(limits.python):
        args += ["--ro-bind", root, root]
    args += ["--bind", str(scratch), str(scratch),
             "--chdir", str(scratch / "work"),
             "--remount-ro", "/"]
    return args


@functools.lru_cache(maxsize=4)
def bwrap_status(bwrap_path: str | None = None) -> tuple[str | None, str]:
    """(path of a working bwrap, "") or (None, why not). Tried once per process."""
    path = bwrap_path or shutil.which("bwrap") or ("/usr/bin/bwrap" if os.path.exists("/usr/bin/bwrap") else None)
    if sys.platform != "linux":
        return None, f"bubblewrap needs Linux (this is {sys.platform})"
    if path is None:
        return None, "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = Path("/tmp") / f"grader-probe-{uuid.uuid4().hex}"
    (probe / "work").mkdir(parents=True)
    try:
        cmd = bwrap_args(probe, Limits(), path) + [os.path.realpath(sys.executable), "-c", "pass"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            return None, f"bubblewrap failed: {(done.stderr or '').strip()[:200]} (user namespaces disabled?)"
        return path, ""
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"bubblewrap failed: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(probe, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# process limits set in the child before exec; a pids cgroup where the host has one

class PidsCgroup:
    """A pids cgroup (v1 or v2) of our own: pids.max stops a fork bomb inside the kernel."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, max_tasks: int) -> PidsCgroup | None:
        for base in (Path("/sys/fs/cgroup/pids"), _v2_base()):
            if base is None or not (base / "cgroup.procs").exists():
                continue
            path = base / f"grader-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(int(max_tasks)))
                return cls(path)
            except OSError:
                try:
                    path.rmdir()
                except OSError:
                    pass
        return None

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self) -> None:
        for _ in range(50):
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _v2_base() -> Path | None:
    """Our own cgroup v2 folder, if the pids controller is enabled for its children."""
    try:
        line = next(x for x in Path("/proc/self/cgroup").read_text().splitlines() if x.startswith("0::"))
        base = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
        if "pids" in (base / "cgroup.subtree_control").read_text().split():
            return base
    except (OSError, StopIteration):
        pass
    return None


def child_setup(limits: Limits, cgroup: PidsCgroup | None) -> Callable[[], None]:
    """Runs in the forked child before exec: rlimits, then join the pids cgroup."""
    procs_file = str(cgroup.path / "cgroup.procs") if cgroup else None
    rlimits = [(resource.RLIMIT_AS, int(limits.address_space_bytes)),
               (resource.RLIMIT_FSIZE, int(limits.scratch_bytes)),
               (resource.RLIMIT_CORE, 0)]

    def setup() -> None:
        for which, value in rlimits:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass
        if procs_file:
            with open(procs_file, "w") as fh:
                fh.write(str(os.getpid()))
    return setup


# ---------------------------------------------------------------------------------------------
# the kernel

class _GraderKernelManager(AsyncKernelManager):
    """Starts `python -P -s -m ipykernel_launcher` (inside bubblewrap when `prefix` is set).

    -P keeps the notebook's folder off sys.path, so a student's torch.py or numpy.py next to the
    notebook cannot shadow the real package; -s ignores user site-packages. Not -I: it would also
    ignore PYTHONHASHSEED. Interrupts go as messages: a signal from outside would only reach bwrap.
    Async, so nbclient's client is async too: with a blocking client nbclient's wait for output
    blocks its event loop and the cell timeout never fires.
    """

    prefix: list[str] = []
    python: str = ""

    def format_kernel_cmd(self, extra_arguments=None):
        return [*self.prefix, self.python or sys.executable, "-P", "-s", "-m", "ipykernel_launcher", "-f",
                os.path.realpath(self.connection_file), *(extra_arguments or [])]

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec


@dataclass
class Kernel:
    """How one notebook's kernel is to be started, and what confines it."""

    km: AsyncKernelManager
    start_kwargs: dict
    sandbox: str
    """"full: bubblewrap (...)" or "reduced (<why>)": goes into NotebookRun.sandbox."""
    full: bool
    cgroup: PidsCgroup | None

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()


def prepare_kernel(scratch: Path, limits: Limits) -> Kernel:
    """A kernel manager for a kernel confined to `scratch` (which holds work/, the notebook's cwd)."""
    conn = scratch / "conn"
    conn.mkdir(exist_ok=True)
    km = _GraderKernelManager(kernel_name="python3", transport="ipc", ip=str(conn / "k"))
    km.connection_file = str(conn / "kernel.json")
    km.python = limits.python
    notes = []
    if limits.confine:
        bwrap, why = bwrap_status()
    else:
        bwrap, why = None, "confinement switched off"
    cgroup = PidsCgroup.create(limits.tasks)
    if cgroup is None:
        notes.append("no pids cgroup: processes counted by the watchdog only")
    if bwrap:
        km.prefix = bwrap_args(scratch, limits, bwrap)
        sandbox = ("full: bubblewrap (no network, own pid/user/mount namespaces, no capabilities, "
                   "read-only system, only the scratch folder writable)")
    else:
        sandbox = f"sandbox: reduced ({why}): the kernel runs as a plain process of the grader's user"
    if notes:
        sandbox += "; " + "; ".join(notes)
    # The kernel's own fd-level output (TensorFlow's C++ logs) would flood the instructor's terminal;
    # what students print reaches the grader over the kernel protocol, not through these.
    start_kwargs = {"cwd": str(scratch / "work"), "env": kernel_env(scratch),
                    "preexec_fn": child_setup(limits, cgroup),
                    "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return Kernel(km, start_kwargs, sandbox, bool(bwrap), cgroup)


# ---------------------------------------------------------------------------------------------
# the watchdog

@dataclass(frozen=True)
class Trip:
    """A limit the kernel hit."""

    kind: str
    """"memory", "processes", "disk", "files", "output", "time"."""
    message: str
    """e.g. "memory limit (4 GiB) exceeded" (the caller adds the cell)."""
    cell: int
    """0-based index of the cell running when it was seen (-1: before the first cell)."""


class Watchdog(threading.Thread):
    """Polls the kernel's process tree and scratch folder; on a limit hit, kills the whole tree."""

    def __init__(self, root_pid: int, scratch: Path, limits: Limits, cgroup: PidsCgroup | None,
                 deadline: float):
        super().__init__(name="grader-watchdog", daemon=True)
        self.root_pid = root_pid
        self.scratch = scratch
        self.limits = limits
        self.cgroup = cgroup
        self.deadline = deadline
        """time.monotonic() after which the tree is killed (the caller moves it for the extraction)."""
        self.cell = -1
        self.trip: Trip | None = None
        self.peak_rss = 0
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._last_disk = 0.0

    def run(self) -> None:
        while not self._stop_event.wait(self.limits.poll_seconds):
            if self.check() is not None:
                return

    def stop(self) -> None:
        self._stop_event.set()

    def check(self, disk: bool = False) -> Trip | None:
        """Look once; kill the tree and return the Trip if a limit is exceeded."""
        if self.trip is not None:
            return self.trip
        found = self._tree_problem()
        now = time.monotonic()
        if found is None and (disk or now - self._last_disk >= 0.5):
            self._last_disk = now
            found = self._disk_problem()
        if found is None and now > self.deadline:
            found = ("time", "time limit exceeded and the kernel would not stop")
        if found is not None:
            self.fire(*found)
        return self.trip

    def fire(self, kind: str, message: str) -> Trip:
        """Record the limit hit (the first one wins) and kill the kernel's tree."""
        with self._lock:
            if self.trip is None:
                self.trip = Trip(kind, message, self.cell)
        self.kill()
        return self.trip

    def kill(self) -> None:
        kill_tree(self.root_pid, self.cgroup)

    def _tree_problem(self) -> tuple[str, str] | None:
        procs = tree(self.root_pid)
        if len(procs) > self.limits.processes:
            return "processes", f"process limit ({self.limits.processes}) exceeded"
        rss = 0
        for proc in procs:
            try:
                rss += proc.memory_info().rss
            except psutil.Error:
                pass
        self.peak_rss = max(self.peak_rss, rss)
        if rss > self.limits.memory_bytes:
            return "memory", f"memory limit ({format_bytes(self.limits.memory_bytes)}) exceeded"
        return None

    def _disk_problem(self) -> tuple[str, str] | None:
        used, count = folder_usage(self.scratch, self.limits.scratch_files + 1)
        if count > self.limits.scratch_files:
            return "files", f"file count limit ({self.limits.scratch_files} files) exceeded"
        if used >= self.limits.scratch_bytes:
            return "disk", f"disk limit ({format_bytes(self.limits.scratch_bytes)}) exceeded"
        return None


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(pid: int, cgroup: PidsCgroup | None = None) -> None:
    """SIGKILL a process and all its descendants (and everything in its cgroup).

    Inside bubblewrap the second process is the pid namespace's init: killing it kills every
    process in the namespace at once, so a fork bomb cannot outrun us.
    """
    for _ in range(20):
        procs = tree(pid)
        pids = {p.pid for p in procs} | set(cgroup.pids() if cgroup else ())
        if not pids:
            return
        for child in procs[1:2] + procs[2:] + procs[:1]:
            try:
                child.kill()
            except psutil.Error:
                pass
        for other in pids - {p.pid for p in procs}:
            try:
                os.kill(other, signal.SIGKILL)
            except OSError:
                pass
        alive = [p for p in procs if _alive(p)]
        if not alive and not (cgroup and cgroup.pids()):
            return
        time.sleep(0.05)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def folder_usage(folder: Path, max_entries: int) -> tuple[int, int]:
    """(bytes on disk, entries) under folder; stops counting after max_entries entries."""
    used, count = 0, 0
    stack = [str(folder)]
    while stack and count < max_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    count += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used, count
