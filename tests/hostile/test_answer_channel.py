"""Grade integrity: what a student's own process says about itself (issue 9).

Each notebook tries one way to make the grader read something other than its real answer. The
answer channel is installed before the student's first cell, answers a comm (not a cell) and signs
its reply; the kernel-side guard and the static scan report what was tampered with. Each test
asserts the one outcome: the real answer or none, and the sign that was found.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from tests.helpers import TIGHT, write_notebook
from tests.helpers import grade as grade_with

from grader.kernel.protocol import TARGET

ROOMY = replace(TIGHT, cell_seconds=120, notebook_seconds=300)
"""These tests are about the answer channel, not limits: time enough for `import torch` on a busy
machine, so the one possible outcome is the channel's."""


def grade(path):
    return grade_with(path, ROOMY)

FORGED = '{"values": {"answer": {"kind": "int", "value": 42, "type": "int"}}, "probes": {}, "extra": {}}'
pytestmark = pytest.mark.slow


def test_fake_score_prints_and_answer_displays_are_ignored(tmp_path):
    cells = ["print('{\"score\": 100}')",
             "from IPython.display import display\n"
             f"display({{'application/vnd.hw3-grader.answers+json': {FORGED}}}, raw=True)",
             "answer = 1"]
    run, answers = grade(write_notebook(tmp_path, *cells))
    assert (run.status, answers.values["answer"].value, run.tampering) == ("ok", 1, ())


def test_pre_run_cell_hook_that_patches_the_publisher_changes_nothing_and_is_found(tmp_path):
    hook = ("ip = get_ipython()\n"
            "real = ip.display_pub.publish\n"
            "def forge(data, *a, **k):\n"
            f"    return real({{'application/json': {FORGED}}}, *a, **k)\n"
            "def patch(info):\n"
            "    ip.display_pub.publish = forge\n"
            "ip.events.register('pre_run_cell', patch)")
    run, answers = grade(write_notebook(tmp_path, hook, "answer = 1", "x = 2"))
    assert answers.values["answer"].value == 1
    assert run.tampering == (
        "cell 1: reaches IPython's display publisher (display_pub)",
        "cell 1: registers an IPython hook (events.register)",
        "changed in the kernel: an IPython 'pre_run_cell' event hook was registered (__main__)",
        "changed in the kernel: IPython's display publisher was replaced or patched",
    )


def test_names_that_shadow_import_and_json_do_not_reach_the_request(tmp_path):
    shadow = ("import builtins\n"
              "def __import__(name, *a, **k):\n"
              "    raise ImportError('no')\n"
              "json = None\nnp = None\nanswer = 'dL_dy_hat'")
    run, answers = grade(write_notebook(tmp_path, shadow))
    assert answers.values["answer"].value == "dL_dy_hat"
    assert run.tampering == ("cell 1: defines __import__",)


def test_patched_numpy_and_builtins_are_found(tmp_path):
    patch = ("import builtins, numpy\nnumpy.asarray = lambda *a, **k: 42\n"
             "builtins.float = lambda *a: 1.0\nanswer = 3")
    run, answers = grade(write_notebook(tmp_path, patch))
    assert answers.values["answer"].value == 3  # read with the grader's private builtins
    assert run.tampering == (
        "cell 1: assigns into numpy.asarray",
        "cell 1: assigns into builtins.float",
        "changed in the kernel: builtins.float was replaced by code from outside the installed packages",
        "changed in the kernel: numpy.asarray was replaced by code from outside the installed packages",
    )


REPLACE_HANDLER = (
    "def forge(comm, msg):\n"
    f"    comm.send({{'payload': {FORGED!r}, 'mac': '0' * 64}})\n"
    f"get_ipython().kernel.comm_manager.register_target({TARGET!r}, forge)\n"
    "answer = 1")


def test_a_replaced_answer_handler_cannot_sign_and_fails_closed(tmp_path):
    run, answers = grade(write_notebook(tmp_path, REPLACE_HANDLER))
    assert run.payload is None
    assert answers.missing == {"answer": "not graded: " + run.reason}
    assert run.tampering == (
        "cell 1: reaches the kernel's comm manager (comm_manager)",
        "cell 1: registers an IPython hook (comm_manager.register_target)",
        "answer channel: an answer message whose signature does not verify (forged or altered)",
        "answer channel: no answer came back from the grader's code in the kernel (its handler was replaced or blocked?)",
    )


def test_an_obfuscated_replacement_is_found_at_answer_time(tmp_path):
    hidden = base64.b64encode(REPLACE_HANDLER.encode()).decode()
    run, answers = grade(write_notebook(tmp_path, f"import base64\nexec(base64.b64decode({hidden!r}).decode())"))
    assert run.payload is None and answers.values == {}
    assert run.tampering[0] == "cell 1: note: runs code it builds at run time (exec of a computed string)"
    assert "answer channel: an answer message whose signature does not verify (forged or altered)" in run.tampering


def test_an_honest_notebook_with_plots_progress_and_files_is_not_flagged(tmp_path):
    honest = ("%matplotlib inline\n"
              "import gc, os, sys, json\nimport numpy as np\nimport matplotlib.pyplot as plt\n"
              "from tqdm.auto import tqdm\n"
              "losses = [1 / (i + 1) for i in tqdm(range(20))]\n"
              "plt.plot(losses); plt.title('loss'); plt.show()\n"
              "os.makedirs('checkpoints', exist_ok=True)\n"
              "json.dump({'losses': losses}, open('checkpoints/log.json', 'w'))\n"
              "np.save('checkpoints/w.npy', np.ones(3))\n"
              "plt.rcParams['figure.figsize'] = (4, 3)\nsys.argv = ['']\ngc.collect()\n"
              "answer = eval('1 + 1')")
    run, answers = grade(write_notebook(tmp_path, honest))
    assert (run.status, answers.values["answer"].value) == ("ok", 2)
    assert run.tampering == ()


def test_the_signing_key_is_not_in_cached_cell_sources_or_the_current_message(tmp_path):
    snoop = ("import linecache, re\n"
             "texts = [''.join(v[2]) for v in list(linecache.cache.values()) if len(v) > 2]\n"
             "texts.append(str(get_ipython().kernel.get_parent()))\n"
             "answer = len(re.findall(r'[0-9a-f]{64}', ' '.join(texts)))")
    run, answers = grade(write_notebook(tmp_path, snoop))
    assert (run.status, answers.values["answer"].value) == ("ok", 0)


def test_a_patched_torch_module_call_is_found(tmp_path):
    patch = ("import torch\n"
             "real = torch.nn.Module.__call__\n"
             "torch.nn.Module.__call__ = lambda self, *a, **k: real(self, *a, **k)\n"
             "answer = 1")
    run, answers = grade(write_notebook(tmp_path, patch))
    assert answers.values["answer"].value == 1
    assert run.tampering == (
        "cell 1: assigns into torch...Module.__call__",
        "changed in the kernel: torch.nn.Module.__call__ was replaced by code from outside the installed packages",
    )
