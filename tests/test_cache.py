"""The two-level cache: a key changes with everything that decides a run and nothing else; only runs
whose outcome is the student's own are kept; entries survive a round trip exactly."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from grader import cache
from grader.model import CellFailure, KernelJob, NotebookRun
from grader.sandbox import Limits

JOB = KernelJob((("answers", "def extract(): pass"),), {"names": ["answer"], "probes": [], "extra": {}})
DATA = (("H3P2T1_train.csv", b"x1,label\n1,0\n"),)
BASE = dict(name="H3P1.ipynb", task="H3P1", notebook=b'{"cells": []}', data=DATA, job=JOB, limits=Limits())


def key(**changes) -> str:
    args = {**BASE, **changes}
    return cache.run_key(args["name"], args["task"], args["notebook"], args["data"], args["job"], args["limits"])


def test_the_same_inputs_give_the_same_key():
    assert key() == key()


@pytest.mark.parametrize("change", [
    {"name": "H3P1 (1).ipynb"},
    {"task": "H3P2T1"},
    {"notebook": b'{"cells": [1]}'},
    {"data": (("H3P2T1_train.csv", b"x1,label\n2,0\n"),)},
    {"job": KernelJob(JOB.modules, {**JOB.request, "names": ["answer", "other"]})},
    {"job": KernelJob((("answers", "def extract(): return 1"),), JOB.request)},
    {"limits": Limits(cell_seconds=299)},
    {"limits": Limits(python="/usr/bin/python3")},
], ids=["file-name", "task", "notebook-bytes", "training-data", "request", "kernel-code", "limits", "interpreter"])
def test_every_input_that_decides_a_run_changes_the_key(change):
    assert key(**change) != key()


RUN = NotebookRun(Path("/class/ann/H3P1.ipynb"), "H3P1", "ok",
                  (CellFailure(2, "error", "NameError", "name 'q' is not defined", "NameError: ...", "", ""),),
                  3.5, "", {"values": {"answer": {"kind": "int", "value": 1, "type": "int"}}, "integrity": []},
                  "full: bubblewrap", ("nbformat 3 upgraded",), "", {"answer": 1}, ("cell 1: note: eval",))


@pytest.mark.parametrize("run, kept", [
    (RUN, True),
    (replace(RUN, status="timed_out"), False),
    (replace(RUN, failures=(CellFailure(2, "timeout", "CellTimeoutError", "", ""),)), False),
    (replace(RUN, failures=(CellFailure(2, "limit", "memory limit", "", ""),)), False),
    (replace(RUN, status="kernel_died"), False),
    (replace(RUN, payload=None), False),
    (replace(RUN, rerun="run again without cell 3"), False),
], ids=["student-error-is-kept", "timed-out", "cell-timeout", "limit", "kernel-died", "no-answers", "rerun"])
def test_only_runs_whose_outcome_is_the_students_are_cached(tmp_path, run, kept):
    store = cache.RunCache(tmp_path)
    store.put("ab" * 32, run)
    assert (store.get("ab" * 32, run.path) is not None) == kept


def test_a_cached_run_comes_back_equal_with_the_current_path(tmp_path):
    store = cache.RunCache(tmp_path)
    store.put("cd" * 32, RUN)
    elsewhere = Path("/other/ann/H3P1.ipynb")
    assert store.get("cd" * 32, elsewhere) == replace(RUN, path=elsewhere)
    assert store.hits == 1


def test_no_folder_means_no_cache(tmp_path):
    store = cache.RunCache(None)
    store.put("ef" * 32, RUN)
    assert store.get("ef" * 32, RUN.path) is None


def test_a_corrupt_entry_is_a_miss(tmp_path):
    store = cache.RunCache(tmp_path)
    store.put("12" * 32, RUN)
    next(tmp_path.rglob("*.json")).write_text("{not json", encoding="utf-8")
    assert store.get("12" * 32, RUN.path) is None


def test_a_linked_notebook_is_not_read_for_its_digest(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("labels")
    link = tmp_path / "H3P1.ipynb"
    os.symlink(secret, link)
    assert cache.file_digest(link).startswith("unreadable")
    assert cache.file_digest(secret) != cache.file_digest(link)


def test_changing_a_checker_leaves_execution_keys_alone():
    """Checkers and reports are scoring-only code: a change to them re-scores, never re-runs."""
    files = {p.relative_to(cache.GRADER).parts[0] for p in cache.GRADER.rglob("*.py")}
    assert {"checks", "report", "score.py"} <= set(cache.SCORING_ONLY) & files
    assert not {"execute.py", "kernel", "sandbox.py"} & set(cache.SCORING_ONLY)
