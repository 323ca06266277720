"""The limits bubblewrap cannot enforce (memory, process count, scratch disk, wall time), watched
from the grader while the kernel runs one step at a time; a hit kills the kernel's whole tree.

The run drives it with one call per step, `watch(cell, deadline, step)`, which returns what the
step returned and the Trip of a limit hit (None when there was none). The other two guards that
stop a kernel (the output cap, an ignored interrupt) report their hit with `fire`, so the first
hit of any kind is the one the report names.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import psutil

from .sandbox import Limits, format_bytes

T = TypeVar("T")


@dataclass(frozen=True)
class Trip:
    """A limit the kernel hit."""

    kind: str
    """"memory", "processes", "disk", "files", "output", "time"."""
    message: str
    """e.g. "memory limit (4 GiB) exceeded" (the caller adds the cell)."""
    cell: int
    """0-based index of the cell running when it was seen (-1: the grader's setup, before the first
    cell; the number of cells: the grader's answer-reading step)."""


class Watchdog:
    """Looks at one kernel's process tree and scratch folder every limits.poll_seconds while a step runs."""

    def __init__(self, processes: Callable[[], list[psutil.Process]], kill: Callable[[], None],
                 scratch: Path, limits: Limits):
        self._processes = processes
        self._kill = kill
        self._scratch = scratch
        self._limits = limits
        self._lock = threading.Lock()
        self._trip: Trip | None = None
        self._cell = -1
        self._deadline = math.inf
        self._last_disk = 0.0
        self._peak_memory = 0

    @property
    def trip(self) -> Trip | None:
        """The first limit hit, if any (for a step that raised instead of returning)."""
        return self._trip

    @property
    def peak_memory(self) -> int:
        """Largest resident memory of the kernel's process tree seen so far, bytes."""
        return self._peak_memory

    def watch(self, cell: int, deadline: float, step: Callable[[], T]) -> tuple[T, Trip | None]:
        """Run step() while watching it as cell `cell`, killing the tree past `deadline`
        (time.monotonic()); then look once more, disk included. -> (what step returned, the Trip).

        After a hit the kernel is dead, so step ends soon (how is the step's own business).
        """
        self._cell, self._deadline = cell, deadline
        done = threading.Event()
        poller = threading.Thread(target=self._poll, args=(done,), name="grader-watchdog", daemon=True)
        poller.start()
        try:
            value = step()
        finally:
            done.set()
            poller.join()
        self._look(disk=True)
        return value, self._trip

    def fire(self, kind: str, message: str) -> None:
        """A limit another guard saw, in the step being watched: kill the tree; the first hit is kept."""
        with self._lock:
            if self._trip is None:
                self._trip = Trip(kind, message, self._cell)
        self._kill()

    def _poll(self, done: threading.Event) -> None:
        while not done.wait(self._limits.poll_seconds):
            if self._look() is not None:
                return

    def _look(self, disk: bool = False) -> Trip | None:
        """Look once; on a limit exceeded, fire. The disk is looked at twice a second at most."""
        if self._trip is not None:
            return self._trip
        found = self._tree_problem()
        now = time.monotonic()
        if found is None and (disk or now - self._last_disk >= 0.5):
            self._last_disk = now
            found = self._disk_problem()
        if found is None and now > self._deadline:
            found = ("time", "time limit exceeded and the kernel would not stop")
        if found is not None:
            self.fire(*found)
        return self._trip

    def _tree_problem(self) -> tuple[str, str] | None:
        procs = self._processes()
        if len(procs) > self._limits.processes:
            return "processes", f"process limit ({self._limits.processes}) exceeded"
        rss = 0
        for proc in procs:
            try:
                rss += proc.memory_info().rss
            except psutil.Error:
                pass
        self._peak_memory = max(self._peak_memory, rss)
        if rss > self._limits.memory_bytes:
            return "memory", f"memory limit ({format_bytes(self._limits.memory_bytes)}) exceeded"
        return None

    def _disk_problem(self) -> tuple[str, str] | None:
        used, count = folder_usage(self._scratch, self._limits.scratch_files + 1)
        if count > self._limits.scratch_files:
            return "files", f"file count limit ({self._limits.scratch_files} files) exceeded"
        if used >= self._limits.scratch_bytes:
            return "disk", f"disk limit ({format_bytes(self._limits.scratch_bytes)}) exceeded"
        return None


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
