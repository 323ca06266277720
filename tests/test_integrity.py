"""The static scan for tampering idioms and the rule that holds a notebook's points (issue 9)."""

from __future__ import annotations

import pytest

from grader.integrity import held, holds_points, scan_source
from grader.model import Finding

HONEST = [
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()",
    "from tqdm import tqdm\nfor epoch in tqdm(range(3)):\n    pass",
    "import torch\ntorch.backends.cudnn.deterministic = True\ntorch.manual_seed(0)",
    "import pandas as pd\ndf = pd.read_csv('data/H3P2T1_train.csv')\ndf.sample(frac=1).to_csv('data/shuffled.csv')",
    "import gc\ngc.collect()",
    "import sys\nsys.argv = ['']\nsys.path.append('.')",
    "model.eval()\nmodel.compile(optimizer='adam', loss='mse')",
    "class Net(nn.Module):\n    def forward(self, x):\n        return x\nNet.forward = Net.forward",
    "!pip install nothing\nanswer = eval('1 + 1')",
    "def broken(:\n    pass",
    "import numpy as np\nnp.float = float\nnp.int = int",
]


@pytest.mark.parametrize("source", HONEST, ids=["plots", "tqdm", "torch-flags", "pandas-files", "gc-collect",
                                                "sys-argv", "eval-compile-methods", "own-class", "pip-and-literal-eval",
                                                "syntax-error", "numpy2-compat-alias"])
def test_honest_code_shows_no_sign(source):
    assert scan_source(source) == []


@pytest.mark.parametrize("source, sign", [
    ("get_ipython().events.register('pre_run_cell', f)", "registers an IPython hook (events.register)"),
    ("ip.display_pub.publish = fake", "reaches IPython's display publisher (display_pub)"),
    ("k.comm_manager.targets.clear()", "reaches the kernel's comm manager (comm_manager)"),
    ("import builtins\nbuiltins.float = int", "assigns into builtins.float"),
    ("import sys\nsys.modules['numpy'] = fake", "assigns into sys.modules"),
    ("import json\njson.dumps, x = f, 1", "assigns into json.dumps"),
    ("setattr(np, 'asarray', f)", "changes the module np (setattr)"),
    ("torch.nn.Module.__call__ = lambda self, x: x", "assigns into torch...Module.__call__"),
    ("import ctypes", "loads ctypes (raw memory access)"),
    ("import gc\ngc.get_referrers(x)", "searches the garbage collector's objects (get_referrers)"),
    ("f.__closure__[0].cell_contents", "reads function closures (__closure__)"),
    ("import sys\nsys._getframe(1).f_globals", "walks the call stack (_getframe)"),
    ("def __import__(*a):\n    pass", "defines __import__"),
    ("exec(code)", "note: runs code it builds at run time (exec of a computed string)"),
], ids=["events", "display-pub", "comm-manager", "builtins", "sys-modules", "tuple-target", "setattr", "torch-class",
        "ctypes", "gc-walk", "closure", "frames", "import-hook", "exec"])
def test_tampering_idioms_are_named(source, sign):
    assert scan_source(source)[0] == sign


def test_a_note_does_not_hold_points_but_a_sign_does():
    findings = [Finding("dL_dw1", "pass", 1.0, "matches"), Finding("q3_explanation", "review", 0.5, "provisional")]
    assert held(findings, ("cell 2: note: runs code it builds at run time (exec of a computed string)",)) == findings
    assert not holds_points("cell 2: note: runs code it builds at run time (exec of a computed string)")
    out = held(findings, ("cell 3: registers an IPython hook (events.register)",))
    assert [(f.item, f.status, f.fraction) for f in out] == [("dL_dw1", "review", 0.0), ("q3_explanation", "review", 0.0)]
    assert out[0].message == ("held for the instructor: the notebook shows signs of tampering with the grader "
                              "(cell 3: registers an IPython hook (events.register)). The checker found: pass, "
                              "100% of the points (matches)")
