"""How a failing cell reads in the report: trimmed tracebacks, and the cause when the grading
environment explains the failure (a missing package, no network, no GPU), with the hint for it.

Pure functions over text and cells; execute.py turns kernel replies into CellFailures with them.
"""

from __future__ import annotations

import re

from .model import PIP_ENAME, CellFailure

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Import names whose pip package is called differently (what the instructor would add).
PIP_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "skimage": "scikit-image",
             "yaml": "pyyaml", "bs4": "beautifulsoup4", "Crypto": "pycryptodome", "attr": "attrs",
             "dateutil": "python-dateutil", "dotenv": "python-dotenv", "google.colab": "google-colab",
             "tf_keras": "tf-keras", "lightning": "lightning", "pytorch_lightning": "pytorch-lightning"}
NETWORK_SIGNS = ("Temporary failure in name resolution", "Name or service not known", "Network is unreachable",
                 "Failed to establish a new connection", "Could not find a version", "No matching distribution",
                 "urlopen error", "Connection refused", "Max retries exceeded", "getaddrinfo failed",
                 "URL fetch failure", "Exception: URL fetch failure", "couldn't connect to",
                 "unable to resolve host", "Could not resolve host")
NETWORK_ENAMES = ("URLError", "gaierror", "ConnectionError", "ConnectionRefusedError", "HTTPError", "Timeout",
                  "ConnectTimeout", "ReadTimeout", "MaxRetryError", "NewConnectionError", "SSLError",
                  "RemoteDisconnected", "timeout")
GPU_SIGNS = ("Torch not compiled with CUDA enabled", "Found no NVIDIA driver", "no CUDA GPUs are available",
             "CUDA driver initialization failed", "Attempting to deserialize object on a CUDA device",
             "cuda is not available", "Could not satisfy device specification", "/device:GPU", "/GPU:0",
             "CUDA error", "NVIDIA driver on your system is too old")
NO_NETWORK_HINT = ("the grader has no network (pip install and downloads fail); use the packages of the "
                   "grading environment and the data in data/")
NO_GPU_HINT = "the grader has no GPU; write device = 'cuda' if torch.cuda.is_available() else 'cpu'"
PIP_LINE = re.compile(r"^\s*[!%]\s*(pip|pip3|conda)\s+install\b", re.M)
MISSING_MODULE = re.compile(r"No module named '([^']+)'")
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*$", re.M)
# How pip says it did not install anything when no network sign is shown: the system pip refuses an
# externally managed environment, the kernel's site-packages is read-only, pip is not on PATH.
PIP_ERROR = re.compile(r"^\s*(ERROR:|error:).*|.*(externally-managed-environment|Read-only file system"
                       r"|pip3?: not found|No module named pip).*$", re.M)
DOWNLOAD_LINE = re.compile(r"^\s*!\s*(wget|curl|git\s+clone|gdown|kaggle)\b", re.M)


def one_line(text: object, width: int = 160) -> str:
    """Any text -> one line of at most `width` characters (for a report line or a reason)."""
    return " ".join(str(text).split())[:width]


def trim_traceback(lines: list[str], keep: int = 12, width: int = 2000) -> str:
    """The end of a traceback is where the student's error is; the top is IPython plumbing."""
    text = ANSI.sub("", "\n".join(str(line) for line in lines))
    rows = text.splitlines()
    if len(rows) > keep:
        rows = ["..."] + rows[-keep:]
    return "\n".join(rows)[-width:]


def missing_package_hint(module: str) -> str:
    """An import name ('cv2.foo') -> the report's sentence naming the pip package to add."""
    top = module.split(".")[0]
    pip = PIP_NAMES.get(module) or PIP_NAMES.get(top) or top.replace("_", "-")
    return (f"the grading environment has no package '{pip}' (import {top}); "
            "the instructor can add it to environment/requirements.txt")


def failure_cause(ename: str, evalue: str, traceback: str) -> tuple[str, str]:
    """(cause, hint) when the grading environment explains the failure, else ("", "")."""
    # The exception lines only: the traceback also shows the student's source, and a line such as
    # `device = "cuda" if torch.cuda.is_available() else "cpu"` in it is no sign of anything.
    text = "\n".join([evalue, *EXCEPTION_LINE.findall(traceback)])
    if any(sign.lower() in text.lower() for sign in GPU_SIGNS):
        return "needs_gpu", NO_GPU_HINT
    if ename.split(".")[-1] in NETWORK_ENAMES or any(sign in text for sign in NETWORK_SIGNS):
        return "no_network", NO_NETWORK_HINT
    if ename.split(".")[-1] in ("ModuleNotFoundError", "ImportError"):
        found = MISSING_MODULE.search(evalue)
        if found:
            return "missing_package", missing_package_hint(found.group(1))
    return "", ""


def _stream_text(cell) -> str:
    return "".join(str(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def pip_failure(index: int, cell) -> CellFailure | None:
    """A `!pip install` line does not raise when it fails; its output says so. Recorded as a
    failure with cause no_network so the report explains it (it is not a raising cell). Whatever
    pip's reason, the student's fix is the same: the grader installs nothing."""
    if not PIP_LINE.search(str(cell.get("source", ""))):
        return None
    out = ANSI.sub("", _stream_text(cell))
    sign = next((s for s in NETWORK_SIGNS if s in out), None)
    if sign is not None:
        line = next((ln for ln in out.splitlines() if sign in ln), sign)
    elif (found := PIP_ERROR.search(out)) is not None:
        line = found.group(0)
    else:
        return None
    return CellFailure(index, "error", PIP_ENAME, one_line(line, 300), trim_traceback(out.splitlines()[-6:]),
                       "no_network", NO_NETWORK_HINT)


def download_note(index: int, cell) -> str | None:
    """`!wget URL` (Colab's way to fetch data) does not raise either: without network, or without
    the tool, its output says so. A note, not a CellFailure: the cell raised nothing and ran on the
    student's machine, so it must not cost Part 2's "runs" item (like PIP_ENAME's failures)."""
    command = DOWNLOAD_LINE.search(str(cell.get("source", "")))
    if command is None:
        return None
    out = ANSI.sub("", _stream_text(cell))
    line = next((ln for ln in out.splitlines() if any(s in ln for s in NETWORK_SIGNS) or ": not found" in ln), None)
    if line is None:
        return None
    return (f"cell {index + 1}: !{' '.join(command.group(1).split())} did not download ({one_line(line, 200)}); "
            f"{NO_NETWORK_HINT}")
