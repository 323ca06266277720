"""Everything that runs inside the student's kernel, and the one way it gets there.

The boundary between the student's process and the grader is this folder:
  protocol.py     names, size caps, encodings and payload shapes both sides agree on
  activations.py  the activation table Q1 answers are tried with (also used by the grader)
  answers.py      student objects -> plain JSON values; calls of student functions (probes)
  part2.py        Part 2 introspection: the models' outputs, losses and functions, as data
  guard.py        seeding, the signed answer channel, tamper checks (installed first)
  loader.py       loads these sources into private module objects (kernel and tests alike)
Nothing here decides a grade: the grader parses the answer (grader/extract.py) and judges it in its
own process (grader/checks/).
"""

from __future__ import annotations

from pathlib import Path

from ..model import KernelJob
from .loader import load_modules

HERE = Path(__file__).parent
BASE = ("protocol", "activations", "answers")
"""Modules every notebook's kernel gets, in dependency order; a task may add handlers (part2)."""
HANDLERS = ("part2",)
"""Modules that answer a request's `extra` entry of the same name through their `handle`."""


def sources(modules: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, source) of BASE + modules + guard, in the order they must load."""
    names = BASE + tuple(m for m in modules if m not in BASE) + ("guard",)
    return tuple((name, (HERE / f"{name}.py").read_text(encoding="utf-8")) for name in names)


def loaded(modules: tuple[str, ...] = ()):
    """The kernel-side package as the kernel gets it, loaded here (for tests): private builtins, no
    sys.modules entries."""
    import builtins

    return load_modules(sources(modules), dict(vars(builtins)))


def setup_code(job: KernelJob) -> str:
    """The cell run before the student's first cell: loads the kernel-side modules with a private
    copy of builtins and installs the guard (the signing key follows as a comm)."""
    loader = (HERE / "loader.py").read_text(encoding="utf-8")
    return (
        "def _grader_setup():\n"
        "    import builtins\n"
        "    private = dict(vars(builtins))\n"
        "    ns = {'__name__': '_hw3_loader', '__builtins__': private}\n"
        f"    exec(compile({loader!r}, '<grader.kernel.loader>', 'exec'), ns)\n"
        f"    package = ns['load_modules']({job.modules!r}, private)\n"
        "    package.guard.install(get_ipython(), package, private)\n"
        "_grader_setup()\n"
        "del _grader_setup\n"
    )
