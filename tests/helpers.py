"""Helpers shared by the tests that run notebooks: notebooks are generated from cell sources into tmp_path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader import execute, extract
from grader.model import Answers, NotebookRun, Request
from grader.sandbox import GiB, MiB, Limits, bwrap_status

REQUEST = Request(names=("answer",))

# Tight limits so every hostile notebook ends within seconds, except the time limits: they are far-off
# backstops, so each test is decided by the one limit it is about however slowly a busy machine runs
# (a memory bomb must not become a timeout). Tests of the time limits set their own, as CELL_LIMIT.
TIGHT = Limits(cell_seconds=30, notebook_seconds=60, interrupt_grace_seconds=2, extraction_seconds=20,
               memory_bytes=1 * GiB, processes=16, tasks=256, output_bytes=8 * MiB,
               kept_output_bytes=64 * 1024, scratch_bytes=256 * MiB, scratch_files=2000,
               tmp_bytes=64 * MiB)
CELL_LIMIT = replace(TIGHT, cell_seconds=3)
"""For the tests of the cell limit: 3 s per cell, the notebook's limit still far off."""


def write_notebook(folder: Path, *cells: str, name: str = "H3P1.ipynb") -> Path:
    """A notebook holding these code cells (markdown cells: prefix the source with '#md ')."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(c[4:]) if c.startswith("#md ") else nbformat.v4.new_code_cell(c)
        for c in cells])
    path = folder / name
    nbformat.write(nb, path)
    return path


def grade(path: Path, limits: Limits = TIGHT, request: Request = REQUEST) -> tuple[NotebookRun, Answers]:
    run = execute.run_notebook(path, "H3P1", extract.kernel_code(request), limits)
    return run, extract.read_answers(run, request)


needs_bwrap = pytest.mark.skipif(bwrap_status()[0] is None, reason="bubblewrap is not usable here")


def write_file(folder: Path, text: str | bytes, name: str = "H3P1.ipynb") -> Path:
    """A file of exactly these bytes (a notebook as a student's editor may have saved it)."""
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def notebook_text(*cells: str) -> str:
    """A notebook of these code cells, as nbformat writes it."""
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]))


def empty_class(folder: Path, *students: str) -> Path:
    """A class whose students handed in nothing a kernel would run (an empty folder each)."""
    subs = folder / "subs"
    subs.mkdir()
    (subs / "roster.csv").write_text("student,level\n" + "".join(f"{s},grad\n" for s in students))
    for student in students:
        (subs / student).mkdir()
    return subs
