"""The run's steps on recorded kernel replies, without a kernel (the way nbclient's own tests fake one
with `prepare_cell_mocks`): a timeout, an ignored interrupt, a death, the output limit, and a
student's own exception named like nbclient's timeout. Each runs in milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from queue import Empty

import nbformat
import pytest

from grader import execute
from grader.answer_channel import Answer
from grader.sandbox import Kernel, Limits

LIMITS = Limits(cell_seconds=3, notebook_seconds=60, interrupt_grace_seconds=2, output_bytes=4096,
                kept_output_bytes=2048)
OK = {"status": "ok"}


@dataclass
class Cell:
    """What the kernel does with one execute request."""

    reply: dict | None = None
    """The execute_reply's content; None: no reply before the cell's time limit."""
    outputs: list[tuple[str, dict]] = field(default_factory=list)
    """(msg_type, content) of the iopub messages before the cell's idle status."""


class RecordedKernelClient:
    """Answers nbclient's requests from recorded replies, cell after cell."""

    def __init__(self, *cells: Cell, alive: bool = True, honours_interrupt: bool = True):
        self.cells = list(cells)
        self.alive = alive
        self.honours_interrupt = honours_interrupt
        self.shell_channel = _Channel(self._shell_msg)
        self.iopub_channel = _Channel(self._iopub_msg)
        self.iopub: list[dict] = []
        self.reply: dict | None = None
        self.info_id = ""

    def execute(self, code, store_history=True, stop_on_error=True) -> str:
        cell, parent = self.cells.pop(0), uuid.uuid4().hex
        self.iopub = [_msg(kind, content, parent) for kind, content in cell.outputs]
        self.iopub.append(_msg("status", {"execution_state": "idle"}, parent))
        self.reply = None if cell.reply is None else _msg("execute_reply", cell.reply, parent)
        return parent

    async def _iopub_msg(self, timeout=None) -> dict:
        if not self.iopub:
            await asyncio.Event().wait()  # nothing more until the next request (nbclient cancels this)
        return self.iopub.pop(0)

    async def _shell_msg(self, timeout=None) -> dict:
        if self.reply is None:
            raise Empty  # the cell's time limit went by without a reply
        reply, self.reply = self.reply, None
        return reply

    async def is_alive(self) -> bool:
        return self.alive

    def kernel_info(self) -> str:
        self.info_id = uuid.uuid4().hex
        return self.info_id

    async def get_shell_msg(self, timeout=None) -> dict:
        if not self.honours_interrupt:
            raise Empty  # still busy in the interrupted cell
        return {"parent_header": {"msg_id": self.info_id}}

    def stop_channels(self) -> None:
        pass


class _Channel:
    def __init__(self, get_msg):
        self.get_msg = get_msg


def _msg(msg_type: str, content: dict, parent: str) -> dict:
    return {"msg_type": msg_type, "header": {"msg_type": msg_type, "msg_id": uuid.uuid4().hex},
            "parent_header": {"msg_id": parent}, "content": content, "metadata": {}}


class _Manager:
    """The kernel manager as the run uses it once no kernel process is left."""

    has_kernel = False

    def __init__(self):
        self.interrupts = 0

    def interrupt_kernel(self) -> None:
        self.interrupts += 1

    async def cleanup_resources(self) -> None:
        pass


class _Provisioner:
    def __init__(self):
        self.kills = 0

    def processes(self) -> list:
        return []

    def kill_tree(self) -> None:
        self.kills += 1


@pytest.fixture
def replay(tmp_path, monkeypatch):
    """Run notebook cells against a RecordedKernelClient -> (NotebookRun, kernel manager)."""
    monkeypatch.setattr(execute, "request_answers", lambda *args: Answer({"values": {}}))

    def run(kc: RecordedKernelClient, *sources: str, limits: Limits = LIMITS):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        kernel = Kernel(_Manager(), _Provisioner(), "recorded replies", False)
        one = execute._Run(nb, tmp_path / "H3P1.ipynb", "H3P1", None, limits, tmp_path, kernel, [])
        one.client.kc = kc
        one.client.setup_kernel = contextlib.nullcontext  # the kernel is the recording
        one._setup = lambda: None  # no setup code or key to send
        return one.notebook_run(), kernel.km
    return run


def test_a_cell_past_its_limit_is_a_timeout_and_later_cells_run(replay):
    kc = RecordedKernelClient(Cell(reply=None), Cell(reply={**OK, "execution_count": 2}))
    run, km = replay(kc, "while True: pass", "answer = 1")
    assert (run.status, run.reason, run.payload) == ("ok", "", {"values": {}})
    assert [(f.index, f.kind, f.ename) for f in run.failures] == [(0, "timeout", "CellTimeoutError")]
    assert km.interrupts == 1


def test_a_cell_that_ignores_the_interrupt_gets_the_kernel_stopped(replay):
    kc = RecordedKernelClient(Cell(reply=None), Cell(reply=OK), honours_interrupt=False)
    run, _ = replay(kc, "while True:\n    try: pass\n    except KeyboardInterrupt: pass", "answer = 1")
    assert (run.status, run.payload) == ("timed_out", None)
    assert run.reason == "time limit (3 s per cell) exceeded and the interrupt ignored in cell 1; the kernel was stopped"
    assert [(f.index, f.kind, f.evalue) for f in run.failures] == [(0, "timeout", run.reason)]
    assert kc.cells == [Cell(reply=OK)]  # the run ended there: cell 2 was never sent


def test_a_kernel_that_dies_in_a_cell_ends_the_run_there(replay):
    kc = RecordedKernelClient(Cell(reply=OK), Cell(reply=None), Cell(reply=OK), alive=False)
    run, km = replay(kc, "answer = 1", "import os; os._exit(1)", "answer = 2")
    assert (run.status, run.payload) == ("kernel_died", None)
    assert run.reason == "the kernel died (its process exited or was killed) in cell 2"
    assert [(f.index, f.kind) for f in run.failures] == [(1, "kernel_died")]
    assert km.interrupts == 0 and len(kc.cells) == 1


def test_output_past_the_notebooks_limit_stops_the_kernel(replay):
    line = ("stream", {"name": "stdout", "text": "x" * 1000})
    kc = RecordedKernelClient(Cell(reply=OK, outputs=[line]), Cell(reply=OK, outputs=[line] * 6), Cell(reply=OK))
    run, _ = replay(kc, "print(1)", "print(2)", "answer = 1")
    assert (run.status, run.payload) == ("limit_exceeded", None)
    assert run.reason == "output limit (4 KiB) exceeded in cell 2; the kernel was stopped"
    assert [(f.index, f.kind) for f in run.failures] == [(1, "limit")]
    assert run.notes == ("output was cut to 2 KiB in cell(s) 2",)


def test_a_students_own_CellTimeoutError_is_an_error_not_a_timeout(replay):
    raised = {"status": "error", "ename": "CellTimeoutError", "evalue": "mine", "traceback": ["CellTimeoutError: mine"]}
    kc = RecordedKernelClient(Cell(reply=raised), Cell(reply=OK))
    run, km = replay(kc, "class CellTimeoutError(Exception): pass\nraise CellTimeoutError('mine')", "answer = 1")
    assert run.status == "ok"
    assert [(f.index, f.kind, f.ename, f.evalue) for f in run.failures] == [(0, "error", "CellTimeoutError", "mine")]
    assert km.interrupts == 0


def test_the_notebooks_deadline_stops_before_the_next_cell_and_answers_are_still_read(replay):
    kc = RecordedKernelClient(Cell(reply=OK))
    run, _ = replay(kc, "answer = 1", "answer = 2", limits=Limits(notebook_seconds=0))
    assert (run.status, run.payload) == ("timed_out", {"values": {}})
    assert run.reason == "the notebook ran past its 0 s limit before cell 1"
    assert kc.cells == [Cell(reply=OK)]
