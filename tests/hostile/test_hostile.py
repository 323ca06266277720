"""Hostile submissions: each notebook tries one attack; the test asserts the exact outcome.

Every test that starts a kernel is `slow` and bounded by tests/helpers.py:TIGHT, whose time
limits are far off unless the test is about them: one limit decides each test, on a busy machine too.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from tests.helpers import CELL_LIMIT, TIGHT, grade, needs_bwrap, write_notebook

from grader.provisioner import python_roots



# --- time ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_infinite_loop_cell_is_interrupted_and_later_cells_run(tmp_path):
    run, answers = grade(write_notebook(tmp_path, "answer = 1", "while True:\n    pass", "answer = 2"), CELL_LIMIT)
    assert run.status == "ok"
    assert [(f.index, f.kind) for f in run.failures] == [(1, "timeout")]
    assert answers.values["answer"].value == 2


@pytest.mark.slow
def test_slow_notebook_stops_at_its_limit_and_keeps_earlier_answers(tmp_path):
    # Each cell keeps within the cell limit; together they pass the notebook's. No re-run: its time is up.
    cells = ["answer = 1"] + ["import time; time.sleep(2.5)"] * 8 + ["answer = 2"]
    run, answers = grade(write_notebook(tmp_path, *cells), replace(CELL_LIMIT, notebook_seconds=12))
    assert run.status == "timed_out"
    assert run.reason.startswith("the notebook ran past its 12 s limit before cell ")
    assert (run.rerun, answers.values["answer"].value) == ("", 1)


@pytest.mark.slow
@pytest.mark.parametrize("loop", [
    "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass",
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
], ids=["swallows-KeyboardInterrupt", "ignores-SIGINT"])
def test_loop_that_ignores_interrupt_is_killed(tmp_path, loop):
    # The notebook limit is far off, so only the cell limit and its ignored interrupt can end this,
    # however long the kernel took to start on a busy machine.
    run, answers = grade(write_notebook(tmp_path, "answer = 1", loop, "answer = 2"), CELL_LIMIT)
    assert run.status == "timed_out"
    assert run.reason == ("time limit (3 s per cell) exceeded and the interrupt ignored in cell 2; "
                          "the kernel was stopped")
    assert [(f.index, f.kind) for f in run.failures] == [(1, "timeout")]
    assert answers.values["answer"].value == 2  # graded from the re-run without cell 2


# --- memory, processes, output, disk ----------------------------------------------------------

@pytest.mark.slow
def test_memory_bomb_is_killed(tmp_path):
    bomb = "x = []\nwhile True:\n    x.append(b'x' * (20 * 2**20))"
    run, answers = grade(write_notebook(tmp_path, "answer = 1", bomb, "answer = 2"))
    assert run.status == "limit_exceeded"
    assert run.reason == "memory limit (1 GiB) exceeded in cell 2; the kernel was stopped"
    assert [(f.index, f.kind) for f in run.failures] == [(1, "limit")]
    assert answers.values["answer"].value == 2  # graded from the re-run without cell 2


@pytest.mark.slow
def test_fork_bomb_is_killed(tmp_path):
    # Bounded by TIGHT.processes (watchdog) and TIGHT.tasks (pids cgroup, where available).
    bomb = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)"
    run, answers = grade(write_notebook(tmp_path, "answer = 1", bomb, "answer = 2"))
    assert run.status == "limit_exceeded"
    assert run.reason == "process limit (16) exceeded in cell 2; the kernel was stopped"
    assert answers.values["answer"].value == 2  # graded from the re-run without cell 2


@pytest.mark.slow
def test_printing_a_gigabyte_is_stopped(tmp_path):
    # Paced so that no batch of prints (ipykernel sends 0.2 s of them as one message) comes near
    # message_bytes: the notebook's output limit is then the one thing that can stop it.
    import psutil
    before = psutil.Process().memory_info().rss
    spam = "import time\nfor _ in range(1024):\n    print('x' * 2**20)\n    time.sleep(0.01)"
    run, answers = grade(write_notebook(tmp_path, "answer = 1", spam, "answer = 2"))
    assert psutil.Process().memory_info().rss - before < 512 * 2**20
    assert (run.status, run.reason) == ("limit_exceeded", "output limit (8 MiB) exceeded in cell 2; the kernel was stopped")
    assert answers.values["answer"].value == 2  # graded from the re-run without cell 2


@pytest.mark.slow
def test_long_output_is_cut_but_kept_running(tmp_path):
    run, answers = grade(write_notebook(tmp_path, "for i in range(2000):\n    print('y' * 100)", "answer = 3"))
    assert run.status == "ok"
    assert run.notes == ("output was cut to 64 KiB in cell(s) 1",)
    assert answers.values["answer"].value == 3


@pytest.mark.slow
def test_one_huge_message_never_reaches_the_grader(tmp_path):
    # A single 200 MB message is refused by the grader's socket (ZMQ MAXMSGSIZE = message_bytes).
    # The kernel's output channel is then lost, so the notebook fails closed: nothing is graded.
    # The time limits are far off, so the lost channel is the one thing that decides: the cell
    # ends without output or failure, and no answer comes back within the extraction's limit.
    run, answers = grade(write_notebook(tmp_path, "import sys; sys.stdout.write('z' * (200 * 2**20)); sys.stdout.flush()",
                                        "answer = 4"))
    assert (run.status, run.failures, run.payload) == ("ok", (), None)
    assert answers.missing == {"answer": "not graded: the grader's answer-reading step ran past its 20 s limit"}


@pytest.mark.slow
@pytest.mark.parametrize("writer", [
    "with open('big.bin', 'wb') as f:\n    for _ in range(10240):\n        f.write(b'\\0' * 2**20)",
    "for i in range(100):\n    with open(f'part{i}.bin', 'wb') as f:\n        for _ in range(100):\n            f.write(b'\\1' * 2**20)",
], ids=["one-10GB-file", "many-100MB-files"])
def test_writing_10_gb_is_stopped(tmp_path, writer):
    run, answers = grade(write_notebook(tmp_path, "answer = 1", writer, "answer = 2"))
    assert run.status == "limit_exceeded"
    assert run.reason == "disk limit (256 MiB) exceeded in cell 2; the kernel was stopped"
    assert answers.values["answer"].value == 2  # graded from the re-run without cell 2


@needs_bwrap
@pytest.mark.slow
def test_filling_tmp_fails_inside_the_sandbox_only(tmp_path):
    fill = ("import errno\ntry:\n    with open('/tmp/fill', 'wb') as f:\n        for _ in range(1024):\n"
            "            f.write(b'\\0' * 2**20)\n    answer = 'filled'\nexcept OSError as e:\n    answer = errno.errorcode[e.errno]")
    run, answers = grade(write_notebook(tmp_path, fill))
    # The sandbox's /tmp (64 MiB) fills long before the file size limit (RLIMIT_FSIZE, 256 MiB).
    assert run.status == "ok"
    assert answers.values["answer"].value == "ENOSPC"


# --- the kernel dies or attacks its parents ------------------------------------------------

@pytest.mark.slow
def test_os_exit_mid_notebook(tmp_path):
    run, answers = grade(write_notebook(tmp_path, "answer = 1", "import os; os._exit(0)", "answer = 2"))
    assert run.status == "kernel_died"
    assert run.reason == "the kernel died (its process exited or was killed) in cell 2"
    assert [(f.index, f.kind) for f in run.failures] == [(1, "kernel_died")]
    assert answers.values["answer"].value == 2  # graded from the re-run without cell 2


@needs_bwrap
@pytest.mark.slow
def test_killing_every_visible_process_spares_the_grader(tmp_path):
    attack = ("import os, signal\nseen = []\nfor name in os.listdir('/proc'):\n    if name.isdigit() and int(name) != os.getpid():\n"
              "        seen.append(int(name))\n        try:\n            os.kill(int(name), signal.SIGKILL)\n"
              "        except OSError:\n            pass\nfor pid in (os.getppid(), -1):\n    try:\n"
              "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nanswer = sorted(seen)")
    run, answers = grade(write_notebook(tmp_path, attack))
    # The test process is still here (this line runs). The kernel saw only its namespace's init.
    assert run.status == "ok"
    assert answers.values["answer"].value == [1]


# --- isolation: files and network ----------------------------------------------------------

SNOOP = r'''
import glob, os
found = set()
for top in ('/', '../..'):
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(os.path.abspath(root), d) not in ('/proc', '/usr', '/sys', '/etc', '/dev')
                   and d not in ('.venv', '.pyenv')]
        found.update(os.path.abspath(os.path.join(root, n)) for n in dirs + files)
found.update(os.path.abspath(p) for p in glob.glob('../../**/*', recursive=True))
for f in ('/etc/shadow', '/root/.bash_history', '/work/main/rubrics/hw3.yaml'):
    try:
        open(f).read(10)
        found.add(f)
    except OSError:
        pass
answer = sorted(found)
'''


@needs_bwrap
@pytest.mark.slow
def test_snooping_sees_only_its_own_scratch_folder(tmp_path):
    course = tmp_path / "course"
    (course / "rubrics" / "hidden").mkdir(parents=True)
    (course / "rubrics" / "hidden" / "secret.csv").write_text("label\n1\n")
    (course / "reference").mkdir()
    (course / "reference" / "solution.ipynb").write_text("{}")
    write_notebook(course / "submissions" / "bob", "answer = 'bob'")
    path = write_notebook(course / "submissions" / "alice", SNOOP)
    run, answers = grade(path, TIGHT)
    assert run.status == "ok", run.reason
    seen = answers.values["answer"].value
    assert seen, "the notebook saw nothing at all"
    bad = [p for p in seen if any(w in p for w in ("hidden", "rubrics", "reference", "submissions",
                                                    "secret", str(tmp_path), "/work/main/grader", "hw3.yaml",
                                                    "/etc/shadow", "bash_history"))]
    assert bad == []
    # The interpreter's folders are mounted read-only (a clone under /tmp has its venv there).
    roots = python_roots()
    python = lambda p: any(p == r or p.startswith(r + "/") or r.startswith(p + "/") for r in roots)
    scratch = {p.split("/")[2] for p in seen if p.startswith("/tmp/") and p.count("/") >= 2 and not python(p)}
    assert len(scratch) == 1 and next(iter(scratch)).startswith("grader-")


@needs_bwrap
@pytest.mark.slow
def test_no_network_not_even_loopback(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    cells = [f"import socket\nanswer = []\nfor addr in [('127.0.0.1', {port}), ('127.0.0.1', 22), ('8.8.8.8', 53), ('1.1.1.1', 443)]:\n"
             "    try:\n        socket.create_connection(addr, timeout=1).close()\n        answer.append('connected')\n"
             "    except OSError as e:\n        answer.append(type(e).__name__)"]
    try:
        run, answers = grade(write_notebook(tmp_path, *cells))
    finally:
        listener.close()
    assert run.status == "ok"
    assert "connected" not in answers.values["answer"].value
    assert len(answers.values["answer"].value) == 4


@pytest.mark.slow
def test_replacing_numpy_module_does_not_reach_the_grader_and_is_found(tmp_path):
    patch = "import sys, types\nsys.modules['numpy'] = types.ModuleType('numpy')\nanswer = 5"
    run, answers = grade(write_notebook(tmp_path, patch))
    assert run.status == "ok"
    assert answers.values["answer"].value == 5  # the grader's code imports the numpy it captured
    assert run.tampering == ("cell 1: assigns into sys.modules",
                             "changed in the kernel: sys.modules['numpy'] was replaced")


LIARS = '''
import numpy as np
class Liar:
    def __eq__(self, other): return True
    def __float__(self): return 0.5
    def __array__(self, *a, **k): return np.ones(3)
    def __len__(self): return 3
class LyingFloat(np.float64):
    def __eq__(self, other): return True
    def __float__(self): return 0.25
class LyingStr(str):
    def __eq__(self, other): return True
'''


@pytest.mark.slow
@pytest.mark.parametrize("expr, kind", [
    ("Liar()", "missing"),
    ("[1.0, Liar()]", "missing"),
    ("LyingFloat(3.0)", "float"),
    ("LyingStr('abc')", "str"),
], ids=["object", "list-of-objects", "float-subclass", "str-subclass"])
def test_lying_objects_come_back_as_plain_data_or_not_at_all(tmp_path, expr, kind):
    run, answers = grade(write_notebook(tmp_path, LIARS, f"answer = {expr}"))
    assert run.status == "ok"
    if kind == "missing":
        assert "cannot read" in answers.missing["answer"]
        return
    value = answers.values["answer"]
    assert value.kind == kind
    assert type(value.value) is (float if kind == "float" else str)


@pytest.mark.slow
def test_writing_into_its_own_folder_leaves_the_original_unchanged(tmp_path):
    folder = tmp_path / "submissions" / "alice"
    attack = (f"import glob, os\nfor p in glob.glob('*.ipynb') + glob.glob({str(folder)!r} + '/*'):\n"
              "    try:\n        open(p, 'w').write('{}')\n    except OSError:\n        pass\n"
              f"for p in ('pwned.txt', {str(folder / 'pwned.txt')!r}):\n    try:\n        open(p, 'w').write('x')\n"
              "    except OSError:\n        pass\nanswer = 1")
    path = write_notebook(folder, attack)
    before = path.read_bytes()
    run, answers = grade(path)
    assert run.status == "ok"
    assert answers.values["answer"].value == 1
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["H3P1.ipynb"]


# --- bad notebooks --------------------------------------------------------------------------

def test_invalid_json(tmp_path):
    path = tmp_path / "H3P1.ipynb"
    path.write_text('{"cells": [')
    run, answers = grade(path)
    assert run.status == "unreadable"
    assert run.reason.startswith("not a valid notebook (not JSON:")
    assert answers.missing == {"answer": "not graded: " + run.reason}


def test_empty_notebook(tmp_path):
    path = tmp_path / "H3P1.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    run, answers = grade(path)
    assert run.status == "unreadable"
    assert run.reason == "the notebook has no cells; hand in the notebook that holds your work"


@pytest.mark.slow
def test_nbformat_v3_is_upgraded_and_run(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "heading", "level": 1, "source": "Q1", "metadata": {}},
        {"cell_type": "code", "input": "answer = 7", "language": "python", "outputs": [], "metadata": {}}]}]}
    path = tmp_path / "H3P1.ipynb"
    path.write_text(json.dumps(v3))
    run, answers = grade(path)
    assert run.status == "ok"
    assert run.notes == ("the notebook was in nbformat 3; it was upgraded to 4 to run it",)
    assert answers.values["answer"].value == 7


def test_required_sandbox_refuses_an_unconfined_run(tmp_path):
    run, answers = grade(write_notebook(tmp_path, "answer = 1"), replace(TIGHT, confine=False, require_sandbox=True))
    assert run.status == "not_run"
    assert run.reason.startswith("not run: the full sandbox is required but sandbox: reduced (")
    assert answers.missing["answer"].startswith("not graded: not run:")
    assert os.path.exists(tmp_path / "H3P1.ipynb")


# --- symbolic links ---------------------------------------------------------------------------

def test_links_to_a_classmate_and_to_the_reference_earn_nothing(tmp_path):
    from grader.cli import main
    root = Path(__file__).resolve().parents[2]
    subs = tmp_path / "class"
    (subs / "ann").mkdir(parents=True)
    (subs / "roster.csv").write_text("student,level\nann,grad\nmal,grad\nzed,grad\n")
    (subs / "ann" / "notes.txt").write_text("ann's own work")
    (subs / "mal").mkdir()
    (subs / "mal" / "H3P1.ipynb").symlink_to(root / "reference" / "H3P1.ipynb")
    (subs / "mal" / "H3P2T2_torch.ipynb").symlink_to(root / "reference" / "H3P2T2_torch.ipynb")
    (subs / "zed").symlink_to(subs / "ann", target_is_directory=True)
    assert main(["run", str(subs), "--out", str(tmp_path / "out")]) == 0
    for student in ("mal", "zed"):
        report = json.loads((tmp_path / "out" / student / "report.json").read_text())
        assert report["total"] == 0 and report["notebooks"] == []
        assert any("a symbolic link (to " in line and "links are not followed" in line
                   for line in report["attention"])
