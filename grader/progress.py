"""What a class run shows while it works: on a terminal a tqdm bar over the notebooks, weighted by how
long each kind takes, with an ETA, and a line per finished student above it; when stderr is not a
terminal (CI, a log file) only the lines, one per finished student; nothing with quiet.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from tqdm import tqdm

from .model import TASK_WEIGHTS

WEIGHTS = TASK_WEIGHTS
"""A notebook's share of the bar, so the ETA does not treat a Keras training like a Part 1 notebook."""
OTHER = 5.0
REFRESH_SECONDS = 1.0
"""The bar redraws this often, so its clock moves while a long notebook runs."""


class Progress:
    """start(tasks) once, notebook_done(task) per notebook, student_done(line) per student, close()."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None, terminal: bool | None = None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = terminal if terminal is not None else bool(isatty and isatty())
        self.bar: tqdm | None = None
        self.notebooks = self.done = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self, tasks: list[str]) -> None:
        """tasks: the task id of every notebook this run will execute."""
        self.notebooks, self.done = len(tasks), 0
        if self.quiet or not self.terminal or not tasks:
            return
        self.bar = tqdm(total=sum(WEIGHTS.get(t, OTHER) for t in tasks), file=self.stream,
                        smoothing=0, dynamic_ncols=True, leave=True,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed} elapsed, ETA {remaining}]")
        self._show_count()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    def notebook_done(self, task: str) -> None:
        self.done += 1
        if self.bar is not None:
            self._show_count(refresh=False)
            self.bar.update(WEIGHTS.get(task, OTHER))

    def student_done(self, line: str) -> None:
        self.message(line)

    def message(self, line: str, important: bool = False) -> None:
        """A line for the person running the grader; quiet keeps only the important ones (warnings)."""
        if self.quiet and not important:
            return
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _show_count(self, refresh: bool = True) -> None:
        self.bar.set_description_str(f"grading: {self.done}/{self.notebooks} notebooks", refresh=refresh)

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            bar = self.bar
            if bar is not None:
                bar.refresh()
