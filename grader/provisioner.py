"""How one graded kernel process lives: a jupyter_client kernel provisioner that launches it confined
and stops it by killing its whole process tree.

`SandboxProvisioner` is handed to the kernel manager (`km.provisioner`) before the kernel starts, so
jupyter_client uses it instead of the kernelspec's provisioner (no entry point needed). It builds
the command (bubblewrap's prefix when there is one, then `python -P -s -m ipykernel_launcher`), the
kernel's environment and working folder; the process gets its rlimits and joins a pids cgroup before
exec; kill and terminate kill the tree and everything in the cgroup; cleanup removes the cgroup.
sandbox.py decides whether bubblewrap is used; the watchdog uses `processes` and `kill_tree`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import psutil
from jupyter_client.provisioning import LocalProvisioner

if TYPE_CHECKING:
    from .sandbox import Limits

KILL_POLL_SECONDS = 0.005
"""How often a killed kernel is looked at until it is gone: it takes milliseconds to die, and every
step of waiting is the grader's time, not the student's."""
KILL_ROUNDS = 200
"""At most a second of looking (a process in uninterruptible sleep dies when it wakes)."""

# Threads: one per kernel. Two threads made a tiny torch training 10x slower under load, and the
# thread count changes results in the last digits (determinism).
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}
# What the interpreter needs from /etc; the rest of /etc (shadow, ssh keys...) stays out.
ETC = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone",
       "passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ssl", "ca-certificates",
       "fonts", "mime.types", "os-release", "debian_version", "locale.alias", "locale.gen")


class SandboxProvisioner(LocalProvisioner):
    """Launches the kernel of one notebook confined to its scratch folder (which holds work/, the
    notebook's cwd), inside bubblewrap when `bwrap` is its path, as a plain process when it is None.

    -P keeps the notebook's folder off sys.path, so a student's torch.py or numpy.py next to the
    notebook cannot shadow the real package; -s ignores user site-packages. Not -I: it would also
    ignore PYTHONHASHSEED.
    """

    def __init__(self, *, scratch: Path, limits: Limits, bwrap: str | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.scratch = scratch
        self.limits = limits
        self.bwrap = bwrap
        self.cgroup = PidsCgroup.create(limits.tasks)
        """None where the host offers no pids cgroup (the watchdog still counts processes)."""

    def kernel_command(self, extra_arguments: list[str]) -> list[str]:
        """The command line: bubblewrap's arguments (if any), then the kernel."""
        assert self.parent is not None  # the kernel manager, which wrote the connection file
        prefix = bwrap_args(self.scratch, self.limits, self.bwrap) if self.bwrap else []
        return [*prefix, self.limits.python or sys.executable, "-P", "-s", "-m", "ipykernel_launcher", "-f",
                os.path.realpath(self.parent.connection_file), *extra_arguments]

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        extra_arguments = list(kwargs.get("extra_arguments") or [])
        # The kernel's own fd-level output (TensorFlow's C++ logs) would flood the instructor's
        # terminal; what students print reaches the grader over the kernel protocol, not through these.
        kwargs.update(env=kernel_env(self.scratch), cwd=str(self.scratch / "work"),
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kwargs = await super().pre_launch(**kwargs)
        kwargs["cmd"] = self.kernel_command(extra_arguments)
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        # In the child before exec, so the kernel never runs a line without its limits.
        return await super().launch_kernel(cmd, preexec_fn=child_setup(self.limits, self.cgroup), **kwargs)

    def processes(self) -> list[psutil.Process]:
        """The kernel's process tree (bubblewrap's own processes included), [] before launch."""
        return process_tree(self.pid) if self.pid else []

    def kill_tree(self) -> None:
        """SIGKILL the kernel's whole tree and its cgroup now (callable from any thread)."""
        if self.pid:
            kill_tree(self.pid, self.cgroup)

    async def kill(self, restart: bool = False) -> None:
        # A process group is not enough: without bubblewrap a student's setsid() child leaves it.
        self.kill_tree()

    async def terminate(self, restart: bool = False) -> None:
        # No graceful stop for a graded kernel: what it would do on SIGTERM is the student's code.
        self.kill_tree()

    async def wait(self) -> int | None:
        # LocalProvisioner polls every 100 ms; a graded kernel is only waited for once it has been
        # SIGKILLed, so it is gone within milliseconds, and 100 ms per notebook is the grader's cost.
        while self.process is not None and self.process.poll() is None:
            await asyncio.sleep(KILL_POLL_SECONDS)
        return await super().wait()

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if not restart:
            self.release()

    def release(self) -> None:
        """Give back what lives outside the kernel (the cgroup); also for a kernel never started."""
        if self.cgroup is not None:
            self.cgroup.remove()


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
        """Kill what is left in it and remove it (nothing to do when it is gone already)."""
        for _ in range(50):
            if not self.path.exists():
                return
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


PR_SET_PDEATHSIG = 1


@functools.lru_cache(maxsize=1)
def _prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


def child_setup(limits: Limits, cgroup: PidsCgroup | None) -> Callable[[], None]:
    """Runs in the forked child before exec: rlimits, join the pids cgroup, die with the parent."""
    procs_file = str(cgroup.path / "cgroup.procs") if cgroup else None
    parent, prctl = os.getpid(), _prctl()
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
        # bubblewrap's --die-with-parent is armed only once it runs: a Dask worker killed while it
        # started a kernel left that kernel running for good. The signal survives the exec.
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
    return setup


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants ([] when it is gone)."""
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
    for _ in range(KILL_ROUNDS):
        procs = process_tree(pid)
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
        time.sleep(KILL_POLL_SECONDS)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
