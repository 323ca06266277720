"""The kernel's payload is untrusted: only the kinds and shapes asked for survive, the rest becomes a
reason in `missing`, and nothing a student sends makes extraction raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.extract import kernel_code, read_answers, request_spec
from grader.kernel.protocol import MAX_STR
from grader.model import CellFailure, NotebookRun, Probe, Request

REQUEST = Request(names=("a",), probes=(Probe("a#0", ("a",), args=([1.0, 2.0],)),))


def answers(payload, **run_fields):
    run = NotebookRun(Path("H3P1.ipynb"), "H3P1", "ok", payload=payload, **run_fields)
    return read_answers(run, REQUEST)


@pytest.mark.parametrize("raw, why", [
    ({"kind": "float", "value": "1.5"}, "the number could not be read"),
    ({"kind": "int", "value": True}, "the number could not be read"),
    ({"kind": "bool", "value": 1}, "the value could not be read"),
    ({"kind": "str", "value": "x" * (MAX_STR + 1)}, "the text could not be read"),
    ({"kind": "list", "value": [[[[[1]]]]]}, "the list holds values"),
    ({"kind": "list", "value": [{"__class__": 1}, object.__name__, None]}, "the list holds values"),
    ({"kind": "dict", "value": {"k" * 201: 1}}, "the dict holds keys"),
    ({"kind": "code", "value": "import os"}, "the value could not be read"),
    ({"kind": "other", "type": "Tensor", "why": "holds a Module"}, "it is a Tensor the grader cannot read"),
    ("not a dict", "the value could not be read"),
], ids=["float-as-text", "bool-as-int", "int-as-bool", "string-too-long", "list-too-deep", "list-of-dicts-and-none",
        "dict-key-too-long", "unknown-kind", "other", "not-a-dict"])
def test_a_malformed_value_is_missing_with_its_reason(raw, why):
    got = answers({"values": {"a": raw}})
    assert "a" not in got.values and why in got.missing["a"]


def test_non_finite_floats_arrive_as_floats():
    got = answers({"values": {"a": {"kind": "float", "value": "-inf", "type": "float"}}})
    assert got.values["a"].value == float("-inf")


@pytest.mark.parametrize("raw", [
    {"ok": True, "value": {"shape": [3], "flat": [1.0, 2.0]}},
    {"ok": True, "value": {"shape": [-1], "flat": []}},
    {"ok": True, "value": {"shape": [2], "flat": [1.0, "one"]}},
    {"ok": True, "value": [1.0, 2.0]},
    {"ok": "yes", "value": {"shape": [2], "flat": [1.0, 2.0]}},
], ids=["flat-shorter-than-shape", "negative-dimension", "not-a-number", "no-shape", "ok-not-true"])
def test_a_probe_result_that_is_not_numbers_is_a_failed_probe(raw):
    got = answers({"values": {"a": {"kind": "callable", "type": "function"}}, "probes": {"a#0": raw}})
    assert got.probes["a#0"].ok is False


def test_a_failed_probe_keeps_the_kernels_words_only():
    got = answers({"probes": {"a#0": {"ok": False, "kind": "raised", "detail": "ValueError: " + "x" * 2000}}})
    assert got.probes["a#0"].error.startswith("ValueError") and len(got.probes["a#0"].error) == 500


def test_probes_and_handlers_not_asked_for_are_dropped():
    got = answers({"probes": {"b#0": {"ok": True, "value": {"shape": [1], "flat": [1.0]}}}, "extra": "not a dict"})
    assert got.probes == {} and got.observed == {}


@pytest.mark.parametrize("payload", [None, [], "text", {"values": []}], ids=["none", "list", "text", "values-list"])
def test_a_payload_of_the_wrong_shape_never_raises(payload):
    got = answers(payload)
    assert "a" in got.missing and got.values == {}


def test_a_missing_name_says_which_failing_cell_defines_it():
    failure = CellFailure(4, "error", "ValueError", "bad shape", "")
    got = answers({"values": {}}, failures=(failure,), assigned_in={"a": 4})
    assert got.missing["a"] == "`a` is not defined: cell 5, which defines it, failed (ValueError: bad shape)"


def test_a_notebook_that_defines_none_of_the_names_gets_a_note():
    got = answers({"values": {}})
    assert got.notes and "defines none of the names H3P1 asks for" in got.notes[0]


def test_the_kernel_job_is_the_base_modules_and_the_request_as_data():
    job = kernel_code(REQUEST)
    assert [name for name, _ in job.modules] == ["protocol", "activations", "answers", "guard"]
    assert job.request == request_spec(REQUEST) and job.request["probes"][0]["chain"] == ["a"]
    assert [name for name, _ in kernel_code(REQUEST, ("part2",)).modules][-2:] == ["part2", "guard"]
