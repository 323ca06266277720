"""Notebooks on a Dask cluster (`grader run --cluster tcp://HOST:PORT`): the same contract as
work.LocalRunner, with a distributed scheduler's workers doing the executing.

Only NotebookWorks leave this process (notebook bytes, training files, the kernel job with the
hidden FEATURES, the limits); labels, the rubric and its keyword lists never do, since the
pipeline judges every Outcome here. A worker that dies mid-notebook has that notebook retried once
on another worker: the scheduler re-runs a task whose worker died until it has lost
`allowed-failures` + 1 workers, and the grader sets that to 1 when it connects. A second death gives
KilledWorker, which becomes that student's grader error (graded again on the next run). Workers
need this grader and bubblewrap (docs/cluster.md).
"""

from __future__ import annotations

import logging
import math
import traceback
import uuid
from dataclasses import replace
from typing import Iterator
from urllib.parse import urlsplit

from . import cache
from .errors import SettingsError
from .model import NotebookRun
from .work import NotebookWork, Outcome, execute_work, longest_first

ALLOWED_FAILURES = 1
"""Workers a notebook may kill before it is given up: 1 is "retried once elsewhere"."""
CONNECT_SECONDS = 10
TICK_MS = 1000
"""How often the scheduler's and workers' event loops time themselves (distributed's default is
20 ms): a notebook task spends its seconds waiting on a kernel, so the default only takes CPU."""
SCHEMES = ("tcp", "tls", "ws", "wss")


def _checked(address: str) -> str:
    """The scheduler's address as given, if it has the form SCHEME://HOST:PORT."""
    try:
        parts = urlsplit(address)
        ok = parts.scheme in SCHEMES and bool(parts.hostname) and parts.port is not None
    except ValueError:  # a port that is not a number, an unclosed [
        ok = False
    if not ok:
        raise SettingsError("--cluster", address, "not a Dask scheduler address",
                            "give it as tcp://HOST:PORT (the address `dask scheduler` prints)")
    return address


def _connect(address: str):
    """A distributed.Client on the scheduler at `address`, or a SettingsError naming it."""
    _checked(address)
    try:
        from distributed import Client
    except ImportError:
        raise SettingsError("--cluster", address, "the Python package distributed is not installed",
                            "pip install dask distributed (or run without --cluster)") from None
    # A lost scheduler already becomes each waiting student's grader error; the client's own log
    # of it is a traceback on the instructor's terminal.
    logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        problem = " ".join(str(exc).split()) or type(exc).__name__
        raise SettingsError("--cluster", address, f"cannot reach a Dask scheduler there ({problem})",
                            "start one (dask scheduler --port PORT) and give its tcp://HOST:PORT, "
                            "or run without --cluster") from None


def _configure(client, address: str) -> None:
    """Tune the scheduler for notebooks: allowed-failures 1 (a task whose worker died is retried
    until allowed-failures + 1 workers died running it; distributed's default is 3), and a worker
    saturation of 1, so a worker holds only the notebook it runs and an idle worker never waits
    while another one holds a queued notebook (the default 1.1 gives a one-thread worker two).
    Workers and nannies, those that join later included, get the quiet plugins (_quiet_workers)."""

    def tune(dask_scheduler, allowed, saturation, tick_ms):
        dask_scheduler.allowed_failures = allowed
        if math.isfinite(dask_scheduler.WORKER_SATURATION):  # inf: no queueing at all, left alone
            dask_scheduler.WORKER_SATURATION = saturation
        if "tick" in dask_scheduler.periodic_callbacks:
            dask_scheduler.periodic_callbacks["tick"].callback_time = tick_ms

    # Nested, so it is pickled by value: the scheduler need not have the grader installed.
    try:
        client.run_on_scheduler(tune, allowed=ALLOWED_FAILURES, saturation=1.0, tick_ms=TICK_MS)
        for plugin in _quiet_workers():
            client.register_plugin(plugin)
    except Exception as exc:  # a scheduler that blocks run_function (distributed.scheduler.blocked-handlers)
        raise SettingsError("--cluster", address, f"the scheduler refused to be configured ({exc})",
                            "let clients run functions on the scheduler (blocked-handlers), so a notebook "
                            "whose worker dies is retried once") from None


def _quiet_workers() -> list:
    """Plugins that stop what costs a notebook worker CPU for nothing: the statistical profiler
    (it samples the task thread's stack every 10 ms, and the task thread only waits on the kernel)
    and the 20 ms event-loop tick, in workers and their nannies. Measured on two local workers
    beside their two kernels: 41 s for the bench class with them, 34-35 s without (jobs 2: 31 s)."""
    from distributed.diagnostics.plugin import NannyPlugin, WorkerPlugin

    def quiet(server, names) -> None:
        for name in names:
            if name in server.periodic_callbacks:
                server.periodic_callbacks[name].stop()
        if "tick" in server.periodic_callbacks:
            server.periodic_callbacks["tick"].callback_time = TICK_MS

    class QuietWorker(WorkerPlugin):
        name = "grader-quiet-worker"
        idempotent = True

        def setup(self, worker):
            quiet(worker, ("profile", "profile-cycle"))

    class QuietNanny(NannyPlugin):
        name = "grader-quiet-nanny"
        idempotent = True
        restart = False

        def setup(self, nanny):
            quiet(nanny, ())

    return [QuietWorker(), QuietNanny()]


def _check_workers(client, address: str) -> None:
    """Every worker connected now must import this module: one that cannot dies on the first
    notebook it is sent (the task does not unpickle), and the run would wait for ever."""

    def probe():
        try:
            import grader.cluster  # noqa: F401
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return ""

    # Nested, so it is pickled by value and reaches a worker that lacks the grader.
    problems = {worker: problem for worker, problem in client.run(probe).items() if problem}
    if problems:
        worker, problem = sorted(problems.items())[0]
        raise SettingsError("--cluster", address, f"{len(problems)} worker(s) cannot import the grader, e.g. "
                            f"{worker} ({problem})", "install this grader on every worker and start them again")


def execute_remotely(work: NotebookWork) -> tuple[NotebookRun, str]:
    """What a Dask worker runs: the work's NotebookRun and the cache key as computed there.

    The key covers the grader's execution code, the course environment and the sandbox; a worker
    that differs from this machine gives another key, and its run is cached under that one, so the
    cache never serves it for a run made here."""
    here = cache.run_key(work.path.name, work.task, work.notebook, work.data, work.job, work.limits)
    return execute_work(work), here


def _task_key(work: NotebookWork) -> str:
    """Unique per submission: work.key is a content address, and two students handing in
    byte-identical notebooks must each get a run. The student names the task on the dashboard."""
    return f"notebook-{work.student}-{work.path.name}-{uuid.uuid4().hex}"


def _outcome(work: NotebookWork, future) -> Outcome:
    try:
        run, key = future.result()
    except Exception:  # the notebook's task raised, lost two workers, or was cancelled
        return work, None, traceback.format_exc()
    return replace(work, key=key), run, ""


class DaskRunner:
    """Runs works on the workers of the Dask scheduler at `address`, longest first."""

    def __init__(self, address: str):
        self.address = address

    def run(self, works: list[NotebookWork]) -> Iterator[Outcome]:
        """Each work's Outcome as it completes; never raises for one notebook."""
        ordered = longest_first(works)
        client = _connect(self.address)
        from distributed import as_completed  # installed: _connect said so

        try:
            _configure(client, self.address)
            _check_workers(client, self.address)
            # Higher priority runs first; the scheduler queues root tasks and hands them out in that order.
            futures = {client.submit(execute_remotely, work, key=_task_key(work), priority=len(ordered) - rank): work
                       for rank, work in enumerate(ordered)}
            for future in as_completed(futures, loop=client.loop):
                yield _outcome(futures.pop(future), future)
        finally:
            client.close()
