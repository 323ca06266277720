"""How a student's kernel is started: environment, scratch folder, limits. No grading here."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_client import KernelManager

# Threads: one per kernel. Two threads made a tiny torch training 10x slower under load, and the
# thread count changes results in the last digits (determinism).
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}

# Seeds and settings applied in the kernel before the student's first cell. Torch, TensorFlow and
# Keras are seeded right after the student imports them (importing them up front would cost every
# Part 1 notebook 3 s).
SETUP_CODE = r'''
def _grader_setup():
    import importlib.abc, random, sys
    random.seed(0)
    try:
        import numpy
        numpy.random.seed(0)
    except Exception:
        pass

    def seed(name, module):
        try:
            if name == "torch":
                module.manual_seed(0)
                module.set_num_threads(1)
                module.set_num_interop_threads(1)
            elif name == "tensorflow":
                module.random.set_seed(0)
                module.config.threading.set_intra_op_parallelism_threads(1)
                module.config.threading.set_inter_op_parallelism_threads(1)
            elif name == "keras":
                module.utils.set_random_seed(0)
        except Exception:
            pass

    class SeedAfterImport(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname not in ("torch", "tensorflow", "keras"):
                return None
            sys.meta_path.remove(self)
            try:
                import importlib.util
                spec = importlib.util.find_spec(fullname)
            finally:
                sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            loader = spec.loader
            exec_module = loader.exec_module

            def exec_and_seed(module, _exec=exec_module, _name=fullname):
                _exec(module)
                seed(_name, module)
            loader.exec_module = exec_and_seed
            return spec

    sys.meta_path.insert(0, SeedAfterImport())
_grader_setup()
del _grader_setup
'''


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 300.0
    notebook_seconds: float = 900.0


def kernel_env(scratch: Path) -> dict[str, str]:
    """Environment of the kernel: scratch HOME (keras and Jupyter write there), one thread, seeds."""
    home = scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        **THREAD_ENV,
        "HOME": str(home),
        "KERAS_HOME": str(home / ".keras"),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }


class _GraderKernelManager(KernelManager):
    """Starts `python -I -m ipykernel_launcher`: -I keeps the notebook's folder off sys.path, so a
    student's torch.py or numpy.py next to the notebook cannot shadow the real package."""

    def format_kernel_cmd(self, extra_arguments=None):
        return [sys.executable, "-I", "-m", "ipykernel_launcher", "-f",
                os.path.realpath(self.connection_file), *(extra_arguments or [])]


def kernel_manager(scratch: Path) -> tuple[KernelManager, dict]:
    """A manager for an IPython kernel of this interpreter, and the start_kernel keyword arguments."""
    km = _GraderKernelManager(kernel_name="python3")
    return km, {"cwd": str(scratch / "work"), "env": kernel_env(scratch)}
