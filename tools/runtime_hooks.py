"""The hooks of a checkout, found as the runtimes find them: by file name. `python/mcp_push/hooks/<name>.py`
and `js/src/hooks/<name>.js` are the hook `<name>`; each defines the function of that name.

The Python hooks are imported as the runtime imports them, but from `root` and without the mcp_push
package's own __init__ (which pulls in the HTTP and MCP dependencies the lint session does not install):
a hook uses the standard library and mcp_push's pure modules only.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

PYTHON_DIR = Path("python", "mcp_push", "hooks")
JS_DIR = Path("js", "src", "hooks")
# The folders' own modules, which are not hooks: the Python package and the Node loader.
NOT_HOOKS = {"__init__", "index"}

_packages = itertools.count()


def python_path(name: str) -> Path:
    return PYTHON_DIR / f"{name}.py"


def js_path(name: str) -> Path:
    return JS_DIR / f"{name}.js"


def names(root: Path, folder: Path, suffix: str) -> set[str]:
    """The hook names in one runtime's folder: its file names."""
    return {p.stem for p in (root / folder).glob(f"*{suffix}") if p.stem not in NOT_HOOKS}


def python_names(root: Path) -> set[str]:
    return names(root, PYTHON_DIR, ".py")


def js_names(root: Path) -> set[str]:
    return names(root, JS_DIR, ".js")


def load_python(root: Path) -> dict[str, Callable | str]:
    """Each Python hook of root: its function, or why it has none (an import error, no function of its name)."""
    package = f"_mcp_push_hooks_{next(_packages)}"
    location = importlib.util.spec_from_loader(package, loader=None, is_package=True)
    location.submodule_search_locations = [str(root / "python" / "mcp_push")]
    sys.modules[package] = importlib.util.module_from_spec(location)
    found: dict[str, Callable | str] = {}
    try:
        for name in sorted(python_names(root)):
            try:
                module = importlib.import_module(f"{package}.hooks.{name}")
            except Exception as exc:  # any failure to import is the hook file's problem, reported as such
                found[name] = f"cannot be imported: {type(exc).__name__}: {exc}"
                continue
            hook = getattr(module, name, None)
            found[name] = hook if callable(hook) else f"defines no function {name}"
    finally:
        # Imported afresh on every call: a test (or an editor) may change the files between two runs.
        for key in [k for k in sys.modules if k == package or k.startswith(f"{package}.")]:
            del sys.modules[key]
    return found
