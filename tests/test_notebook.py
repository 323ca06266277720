"""notebook.py: reading a notebook file as handed in, and pointing into it (cell numbers, defining cells)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader import notebook
from tests.helpers import notebook_text, write_file


def _read(path: Path):
    nb, problem, _ = notebook.read_notebook_notes(path)
    return nb, problem


@pytest.mark.parametrize("text, reason", [
    ('{"cells": [', "not a valid notebook (not JSON: Expecting value at line 1 column 12); open it in Jupyter"),
    (b"\xff\xfe{}", "not a valid notebook (not UTF-8 text)"),
    ("[1, 2]", "not a Jupyter notebook (JSON without an 'nbformat' version)"),
    ('{"nbformat": 2, "cells": []}', "nbformat 2 is not supported (only 3 and 4)"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 5}', "not a valid notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [5]}', "not a valid notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}', "the notebook has no cells; hand in"),
], ids=["not-json", "not-utf8", "json-list", "nbformat-2", "cells-not-list", "cell-not-dict", "no-cells"])
def test_read_notebook_gives_a_one_line_reason(tmp_path, text, reason):
    nb, problem = _read(write_file(tmp_path, text))
    assert nb is None
    assert problem.startswith(reason)
    assert "\n" not in problem


def test_read_notebook_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_BYTES", 100)
    nb, problem = _read(write_file(tmp_path, notebook_text("x = '" + "a" * 200 + "'")))
    assert nb is None
    assert problem.startswith("the notebook's cells are ")
    assert problem.endswith(" without their outputs (limit 100 bytes); remove the data pasted into cells and "
                            "hand it in again")


def test_saved_outputs_do_not_count_against_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_BYTES", 2000)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "A" * 100_000})]
    read, problem = _read(write_file(tmp_path, nbformat.writes(nb)))
    assert problem == "" and read.cells[0].outputs == []


def test_raw_file_has_a_hard_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook, "MAX_RAW_BYTES", 100)
    nb, problem = _read(write_file(tmp_path, notebook_text("x = '" + "a" * 200 + "'")))
    assert nb is None and "(limit 100 bytes even with outputs); clear the outputs" in problem


def test_a_symbolic_link_is_not_read(tmp_path):
    target = write_file(tmp_path, notebook_text("x = 1"), "other.ipynb")
    (tmp_path / "H3P1.ipynb").symlink_to(target)
    nb, problem = _read(tmp_path / "H3P1.ipynb")
    assert nb is None
    assert problem == "the file is a symbolic link: links are not followed; hand in the file itself"


def test_read_notebook_missing_file(tmp_path):
    nb, problem = _read(tmp_path / "nope.ipynb")
    assert nb is None and problem.startswith("the file cannot be read")


def test_read_notebook_upgrades_v3_with_a_note(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "answer = 7", "language": "python", "outputs": [], "metadata": {}}]}]}
    nb, problem, notes = notebook.read_notebook_notes(write_file(tmp_path, json.dumps(v3)))
    assert problem == ""
    assert [c.source for c in nb.cells] == ["answer = 7"]
    assert notes == ["the notebook was in nbformat 3; it was upgraded to 4 to run it"]


def test_read_notebook_drops_unknown_cell_types_with_a_note(tmp_path):
    raw = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "widget", "source": "?", "metadata": {}},
        {"cell_type": "code", "source": ["a = 1\n", "b = 2"], "metadata": {}, "outputs": [{"junk": 1}],
         "execution_count": None}]}
    nb, problem, notes = notebook.read_notebook_notes(write_file(tmp_path, json.dumps(raw)))
    assert problem == ""
    assert [(c.cell_type, c.source) for c in nb.cells] == [("raw", ""), ("code", "a = 1\nb = 2")]
    assert nb.cells[1].outputs == []
    assert notes == ["cells of unknown type were ignored: 1 ('widget')"]


def test_assigned_in_points_to_the_last_defining_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Q3"),
        nbformat.v4.new_code_cell("import numpy as np\n%matplotlib inline\nnet1 = None"),
        nbformat.v4.new_code_cell("def f_nonneg(z):\n    return z\nif True:\n    net1, (a, b) = 1, (2, 3)"),
        nbformat.v4.new_code_cell("this is not python"),
    ])
    assert notebook.assigned_in(nb) == {"np": 1, "net1": 2, "f_nonneg": 2, "a": 2, "b": 2}


def test_tracebacks_name_cells_by_their_place_in_the_notebook():
    text = "Cell In[3], line 2\n----> 2 f()\nCell In[1], line 4, in f()\nCell In[9], line 1"
    assert notebook.number_cells(text, {1: 2, 3: 6}) == (
        "cell 7, line 2\n----> 2 f()\ncell 3, line 4, in f()\nCell In[9], line 1")
