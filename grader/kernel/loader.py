"""Loads the kernel-side modules into private module objects: in the student's kernel (its source
is the first thing the setup cell runs) and in the grader's tests, the same way.

The modules never enter sys.modules, where a student's cell could find and replace them. They
import each other as `from grader.kernel import protocol` (or `from grader.kernel.protocol import
MAX_STR`); the private `__import__` given to them
answers that with the package object built here, so the same source also imports normally in the
grader's own process.
"""


def load_modules(sources, private_builtins, package_name="grader.kernel"):
    """sources: [(name, source)] in dependency order -> a module object holding each as an attribute.

    `private_builtins` becomes every module's `__builtins__`; its `__import__` is wrapped so that the
    package name resolves to the private package.
    """
    import types

    package = types.ModuleType(package_name)
    outer_import = private_builtins["__import__"]

    def kernel_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name == package_name:
            return package
        if level == 0 and fromlist and name.startswith(package_name + "."):  # from grader.kernel.x import y
            return getattr(package, name[len(package_name) + 1:])
        return outer_import(name, globals, locals, fromlist, level)

    private_builtins["__import__"] = kernel_import
    for name, source in sources:
        module = types.ModuleType(f"{package_name}.{name}")
        module.__dict__["__builtins__"] = private_builtins
        exec(compile(source, f"<{package_name}.{name}>", "exec"), module.__dict__)
        setattr(package, name, module)
    return package
