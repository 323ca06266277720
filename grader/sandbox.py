"""How a student's kernel is started and confined: limits, bubblewrap or not, the kernel manager. No grading.

The kernel runs inside bubblewrap (own user, pid, network, mount, IPC and UTS namespaces; no
capabilities; read-only system; only its scratch folder writable) and talks to the grader over
ZMQ `ipc` sockets in that scratch folder, so no TCP port crosses the boundary. How that process is
launched and killed is provisioner.py; the limits bubblewrap cannot enforce (memory, process count,
scratch size, wall time) are watchdog.py's. Without bubblewrap the kernel runs as a plain process
with the same limits and `NotebookRun.sandbox` says "reduced (<why>)".
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from traitlets import Integer, default
from traitlets.config import Config

from .provisioner import SandboxProvisioner, bwrap_args

MiB = 2**20
GiB = 2**30


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


class CappedKernelClient(AsyncKernelClient):
    """The grader's end of the kernel's channels. ZMQ itself refuses a message over
    max_message_bytes, so a single 1 GB print never lands in the grader's memory.

    Async, so nbclient is async too: with a blocking client nbclient's wait for output blocks its
    event loop and the cell timeout never fires.
    """

    max_message_bytes = Integer(64 * MiB, config=True, help="Largest message accepted from the kernel (bytes).")

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        context = super()._context_default()
        # Default options of the sockets this context creates from now on: the channels.
        context.setsockopt(zmq.MAXMSGSIZE, int(self.max_message_bytes))
        return context


@dataclass
class Kernel:
    """How one notebook's kernel is to be started, and what confines it."""

    km: AsyncKernelManager
    provisioner: SandboxProvisioner
    sandbox: str
    """"full: bubblewrap (...)" or "reduced (<why>)": goes into NotebookRun.sandbox."""
    full: bool

    def close(self) -> None:
        """Give back what the confinement holds (its cgroup), also when the kernel never started."""
        self.provisioner.release()


def prepare_kernel(scratch: Path, limits: Limits) -> Kernel:
    """A kernel manager for a kernel confined to `scratch` (which holds work/, the notebook's cwd)."""
    conn = scratch / "conn"
    conn.mkdir(exist_ok=True)
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(conn / "k"),
                            client_class=f"{__name__}.CappedKernelClient",
                            config=Config({"CappedKernelClient": {"max_message_bytes": int(limits.message_bytes)}}))
    km.connection_file = str(conn / "kernel.json")
    # Interrupts go as messages: a signal from outside would only reach bubblewrap.
    km.kernel_spec.interrupt_mode = "message"
    bwrap, why = bwrap_status() if limits.confine else (None, "confinement switched off")
    km.kernel_id = uuid.uuid4().hex
    provisioner = SandboxProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km,
                                     scratch=scratch, limits=limits, bwrap=bwrap)
    # Set before the start, so jupyter_client launches through it instead of the kernelspec's own.
    km.provisioner = provisioner
    if bwrap:
        sandbox = ("full: bubblewrap (no network, own pid/user/mount namespaces, no capabilities, "
                   "read-only system, only the scratch folder writable)")
    else:
        sandbox = f"sandbox: reduced ({why}): the kernel runs as a plain process of the grader's user"
    if provisioner.cgroup is None:
        sandbox += "; no pids cgroup: processes counted by the watchdog only"
    return Kernel(km, provisioner, sandbox, bool(bwrap))
