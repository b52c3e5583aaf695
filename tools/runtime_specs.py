"""The runtime's spec loader (python/mcp_push/specs.py), loaded alone: importing the mcp_push package
would pull in the HTTP, template and MCP dependencies, which the lint session does not install."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load(module: str = "specs") -> ModuleType:
    """python/mcp_push/<module>.py alone: specs (the loader) or config (value checks by env type)."""
    name = f"mcp_push_{module}"
    if name in sys.modules:
        return sys.modules[name]
    location = importlib.util.spec_from_file_location(name, ROOT / "python" / "mcp_push" / f"{module}.py")
    module = importlib.util.module_from_spec(location)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    location.loader.exec_module(module)
    return module
