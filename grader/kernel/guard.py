"""Code that runs INSIDE the student's kernel, BEFORE the student's first cell: seeding and the
answer channel. Never run by the grader itself.

Why before: whatever the grader relies on in the kernel is captured here, while the kernel is still
the one the grader started. The student's cells run afterwards and can patch anything they can
name; so the channel keeps private references and checks, when it answers, that what it computes
with is still what it captured:

- Its code runs in private namespaces whose `__builtins__` is a copy taken now: a student who
  assigns `builtins.__import__` or defines `__import__`/`json` among their names changes nothing here.
- The request does not come as a cell (no IPython cell machinery, no `pre_run_cell` hooks, no
  input transformers, no student names): the grader opens a comm with the request as data, and
  the handler registered here answers with a `comm_msg` sent through the kernel's session.
- The answer is signed with HMAC-SHA256 under a per-run key that the grader sends in a comm right
  after this setup, before the first student cell, and that lives only in the handler's closure.
  A forged or altered answer message does not verify and is refused outside.
- At answer time it compares the modules, module attributes, builtins, event callbacks and the
  display publisher with what it captured here; every change goes into the signed answer as an
  integrity problem, and the grader holds the notebook's points for an instructor.

What remains: a student's code runs in this same process and can, with enough effort (ctypes,
`gc` or frame walking to reach the handler), still lie about its own behaviour. The grader's
static scan flags those idioms; the hidden-set scores cannot be forged without the labels, which
never enter the kernel.
"""

import hashlib
import hmac
import json
import sys

from grader.kernel import protocol

# What the answer code computes with. Not `warnings`: honest notebooks set warnings.showwarning.
_WATCHED_MODULES = ("builtins", "json", "numpy", "math", "inspect", "signal", "hmac", "hashlib",
                    "IPython.display", "IPython.core.display_functions")
# IPython (its builtin trap) and ipykernel (input forwarding) swap these in and out of builtins
# around every cell.
_IPYTHON_BUILTINS = {"exit", "quit", "get_ipython", "display", "_", "__", "___", "__IPYTHON__", "input"}
_SEEDED = ("torch", "tensorflow", "keras")
_MAX_PROBLEMS = 20
_MISSING = object()


def _watch(table, label, obj):
    """Remember obj and a shallow copy of its attributes (identity is what is compared)."""
    try:
        table[label] = (obj, dict(vars(obj)))
    except TypeError:
        pass


def _snapshot(ip):
    table = {}
    for name in _WATCHED_MODULES:
        if name in sys.modules:
            _watch(table, name, sys.modules[name])
    modules = dict(sys.modules)
    callbacks = {event: list(cbs) for event, cbs in ip.events.callbacks.items()}
    publisher = (ip.display_pub, type(ip.display_pub).publish, type(ip.display_pub))
    return {"attrs": table, "modules": modules, "callbacks": callbacks, "publisher": publisher,
            "prefixes": _prefixes()}


def watch_framework(state, name, module):
    """After torch/keras are imported: the classes and functions Part 2 introspection calls."""
    if name == "torch":
        for label, obj in (("torch", module), ("torch.Tensor", getattr(module, "Tensor", None)),
                           ("torch.nn.Module", getattr(getattr(module, "nn", None), "Module", None)),
                           ("torch.nn.functional", getattr(getattr(module, "nn", None), "functional", None))):
            if obj is not None:
                _watch(state["attrs"], label, obj)
    elif name == "keras":
        for label in ("Model", "Sequential", "layers.Layer", "ops"):
            obj = module
            for part in label.split("."):
                obj = getattr(obj, part, None)
            if obj is not None:
                _watch(state["attrs"], "keras." + label, obj)


def _installed(value, prefixes):
    """Whether value comes from an installed package or the standard library. Libraries patch one
    another on import (torch wraps torch.manual_seed and inspect.getfile); a student's patch is
    defined in the notebook (module __main__) or in a file of the scratch folder."""
    if getattr(value, "__module__", None) == "builtins":
        return True  # np.bool = bool: a builtin computes nothing a student wrote
    module = value if type(value) is type(sys) else sys.modules.get(getattr(value, "__module__", None) or "")
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return False
    import os
    return os.path.realpath(path).startswith(prefixes)


def _prefixes():
    import os
    import site
    import sysconfig
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values()}
    try:
        places.update(site.getsitepackages())
    except AttributeError:
        pass
    return tuple(sorted({os.path.realpath(p) + os.sep for p in places if p}))


def _callback_module(cb):
    return str(getattr(cb, "__module__", None) or getattr(getattr(cb, "__func__", None), "__module__", "") or "")


def _changes(ip, state):
    """What the student's code changed among the things the answer is computed with."""
    problems = []
    for label, (obj, attrs) in state["attrs"].items():
        if label in state["modules"] and sys.modules.get(label) is not obj \
                and not _installed(sys.modules.get(label), state["prefixes"]):
            problems.append(f"sys.modules['{label}'] was replaced")
            continue
        try:
            now = vars(obj)
        except TypeError:
            continue
        for attr, value in attrs.items():
            if label == "builtins" and attr in _IPYTHON_BUILTINS:
                continue
            new = now.get(attr, _MISSING)
            if new is _MISSING:
                problems.append(f"{label}.{attr} was deleted")
            elif new is not value and not _installed(new, state["prefixes"]):
                problems.append(f"{label}.{attr} was replaced by code from outside the installed packages")
    for name, module in state["modules"].items():
        if name not in state["attrs"] and sys.modules.get(name, module) is not module \
                and not _installed(sys.modules.get(name), state["prefixes"]):
            problems.append(f"sys.modules['{name}'] was replaced")
    for event, cbs in ip.events.callbacks.items():
        for cb in cbs:
            # An installed library's own hook (matplotlib-inline flushes figures) is no sign.
            if cb not in state["callbacks"].get(event, []) and not _installed(cb, state["prefixes"]):
                problems.append(f"an IPython '{event}' event hook was registered ({_callback_module(cb) or '?'})")
    pub, publish, cls = state["publisher"]
    if ip.display_pub is not pub or type(pub) is not cls or cls.publish is not publish \
            or "publish" in getattr(pub, "__dict__", {}):
        problems.append("IPython's display publisher was replaced or patched")
    return problems[:_MAX_PROBLEMS]


def _seed(name, module):
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


def _install_import_hook(state):
    """Seed torch/TensorFlow/Keras (and watch them) right after the student imports them:
    importing them up front would cost every Part 1 notebook 3 s."""
    import importlib.abc
    import importlib.util

    class SeedAfterImport(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname not in _SEEDED:
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(fullname)
            finally:
                sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def exec_and_seed(module, _exec=exec_module, _name=fullname):
                _exec(module)
                _seed(_name, module)
                watch_framework(state, _name, module)
            spec.loader.exec_module = exec_and_seed
            return spec

    sys.meta_path.insert(0, SeedAfterImport())


def _seed_now():
    import random

    random.seed(0)
    try:
        import numpy
        numpy.random.seed(0)
    except Exception:
        pass


def _private_import(modules, real_import):
    """`import x` for the grader's code: the module x as it was at setup, whatever sys.modules
    holds by then (a student can put a fake numpy there)."""
    def private_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and "." not in name and name in modules:
            return modules[name]
        return real_import(name, globals, locals, fromlist, level)
    return private_import


def _handlers(package):
    """Request `extra` name -> the loaded module's handle(user_ns, spec) (part2)."""
    return {name: module.handle for name, module in vars(package).items()
            if type(module) is type(sys) and callable(getattr(module, "handle", None))}


def install(ip, package, private_builtins):
    """Seed, capture, and register the key and answer handlers. `package` holds the loaded
    kernel-side modules (grader/kernel/loader.py)."""
    _seed_now()
    state = _snapshot(ip)
    private_builtins["__import__"] = _private_import(state["modules"], private_builtins["__import__"])
    _install_import_hook(state)
    extract, handlers, user_ns, kernel = package.answers.extract, _handlers(package), ip.user_ns, ip.kernel
    session, iopub, dumps, new_mac, sha256 = kernel.session, kernel.iopub_socket, json.dumps, hmac.new, hashlib.sha256
    manager, keys = kernel.comm_manager, []

    def on_key(comm, msg):
        manager.unregister_target(protocol.KEY_TARGET, on_key)
        keys.append(bytes.fromhex(msg.get("content", {}).get("data", {}).get("key", "")))
        comm.close()

    def on_open(comm, msg):
        content = msg.get("content", {})
        if len(keys) != 1:
            return  # no answer without the grader's key: the grader fails closed
        problems = _changes(ip, state)
        try:
            payload = extract(user_ns, content.get("data") or {}, handlers)
        except Exception as exc:
            payload = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        payload["integrity"] = problems
        text = dumps(payload)
        mac = new_mac(keys[0], text.encode("utf-8"), sha256).hexdigest()
        session.send(iopub, "comm_msg", {"comm_id": content.get("comm_id"), "data": {"payload": text, "mac": mac}},
                     parent=msg.get("header"))

    manager.register_target(protocol.KEY_TARGET, on_key)
    manager.register_target(protocol.TARGET, on_open)
