"""A notebook file as handed in -> a notebook nbclient can run, or one line saying why not.

Also how the report points into a notebook: cells are numbered as the student sees them in Jupyter
(from 1, markdown cells included), and a missing name points to the cell that defines it.
Nothing here runs student code.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import nbformat

from .failures import one_line
from .sandbox import format_bytes

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
"""Limit on the notebook without its saved outputs (what will run)."""
MAX_RAW_BYTES = 512 * 1024 * 1024
"""Hard cap on the file as handed in (saved outputs included)."""
CELL_TYPES = ("code", "markdown", "raw")
FIX = "open it in Jupyter and save it again (File > Save)"
MAGIC_LINE = re.compile(r"^(\s*)[%!].*$", re.M)
IPYTHON_CELL = re.compile(r"Cell In\[(\d+)\]")


def read_notebook_notes(path: Path) -> tuple[Any, str, list[str]]:
    """(notebook as nbformat 4, "", notes) or (None, one-line reason naming the fix, []).

    nbformat 3 is upgraded (with a note); cells of unknown type become empty raw cells
    (with a note), so cell numbers stay those of the notebook as handed in.
    """
    raw, problem = read_bytes(path)
    if raw is None:
        return None, problem, []
    nb, problem, notes = _parse(raw)
    if nb is None:
        return None, problem, []
    problem, dropped = _clean_cells(nb)
    if problem:
        return None, problem, []
    if dropped:
        notes.append("cells of unknown type were ignored: " + ", ".join(dropped[:10]))
    if not nb.cells:
        return None, "the notebook has no cells; hand in the notebook that holds your work", []
    # Saved outputs were dropped above; the limit is on what will run (old plots cost nothing).
    size = len(nbformat.writes(nb).encode("utf-8"))
    if size > MAX_NOTEBOOK_BYTES:
        return None, (f"the notebook's cells are {format_bytes(size)} without their outputs (limit "
                      f"{format_bytes(MAX_NOTEBOOK_BYTES)}); remove the data pasted into cells and hand it in "
                      "again"), []
    return nb, "", notes


def _parse(raw: bytes) -> tuple[Any, str, list[str]]:
    """File content -> (nbformat 4 notebook, "", notes) or (None, reason, [])."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, f"not a valid notebook (not UTF-8 text); {FIX}", []
    except json.JSONDecodeError as exc:
        return None, (f"not a valid notebook (not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}); "
                      f"{FIX}"), []
    if not isinstance(data, dict) or type(data.get("nbformat")) is not int:
        return None, f"not a Jupyter notebook (JSON without an 'nbformat' version); {FIX}", []
    version = data["nbformat"]
    if version not in (3, 4):
        return None, f"nbformat {version} is not supported (only 3 and 4); {FIX} in a current Jupyter", []
    notes = [] if version == 4 else [f"the notebook was in nbformat {version}; it was upgraded to 4 to run it"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw.decode("utf-8-sig"), as_version=4)
    except Exception as exc:
        return None, f"not a valid notebook ({type(exc).__name__}: {one_line(exc, 120)}); {FIX}", []
    if not isinstance(nb.get("cells"), list):
        return None, f"not a valid notebook (no list of cells); {FIX}", []
    return nb, "", notes


def _clean_cells(nb) -> tuple[str, list[str]]:
    """Make every cell runnable text without saved outputs, in place -> ("", unknown cells dropped)
    or (reason the notebook cannot run, [])."""
    kept, dropped = [], []
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return f"not a valid notebook (cell {index + 1} is not a cell); {FIX}", []
        if cell.get("cell_type") not in CELL_TYPES:
            # Kept as an empty raw cell, so every later cell keeps its number in the notebook.
            dropped.append(f"{index + 1} ({one_line(cell['cell_type'], 30)!r})")
            kept.append(nbformat.v4.new_raw_cell(""))
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            cell["source"] = "".join(source)
        elif not isinstance(source, str):
            return f"not a valid notebook (cell {index + 1} has no text); {FIX}", []
        cell.setdefault("metadata", {})
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell.setdefault("execution_count", None)
        kept.append(cell)
    nb.cells = kept
    return "", dropped


def read_bytes(path: Path) -> tuple[bytes | None, str]:
    """(content, "") of a regular file, or (None, why). A symbolic link is refused at open time
    (O_NOFOLLOW), so a link swapped in after discovery is not read either."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "the file is a symbolic link: links are not followed; hand in the file itself"
        return None, f"the file cannot be read ({one_line(exc.strerror or exc)}); hand it in again"
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file; hand in the notebook file itself"
        if info.st_size > MAX_RAW_BYTES:
            return None, (f"the file is {format_bytes(info.st_size)} (limit {format_bytes(MAX_RAW_BYTES)} even "
                          "with outputs); clear the outputs (Kernel > Restart & Clear Output), save and hand it in "
                          "again")
        raw = handle.read(MAX_RAW_BYTES + 1)
    if len(raw) > MAX_RAW_BYTES:
        return None, f"the file is over {format_bytes(MAX_RAW_BYTES)}; clear the outputs, save and hand it in again"
    return raw, ""


def assigned_in(nb) -> dict[str, int]:
    """Name -> 0-based index of the last code cell that assigns, defines or imports it (what a
    message about a missing name points to). Cells that are not valid Python are skipped."""
    found: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(MAGIC_LINE.sub(r"\1pass", str(cell.get("source", ""))))
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in tree.body:
            for name in _bound_names(node):
                found[name] = index
    return found


def _bound_names(node: ast.stmt) -> list[str]:
    """Names a top-level statement binds in the notebook's namespace."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
        for child in [*getattr(node, "body", []), *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                      *[s for h in getattr(node, "handlers", []) for s in h.body]]:
            names += _bound_names(child)
    return names


def number_cells(traceback: str, cells_by_count: dict[int, int]) -> str:
    """IPython names a cell by its execution count (`Cell In[3], line 2`); the report names it by
    its place in the notebook (`cell 7, line 2`), the one numbering a student sees in Jupyter."""
    def cell(match: re.Match) -> str:
        index = cells_by_count.get(int(match.group(1)))
        return match.group(0) if index is None else f"cell {index + 1}"
    return IPYTHON_CELL.sub(cell, traceback)
