"""The runtime's spec loader (python/mcp_push/specs.py), loaded alone: importing the mcp_push package
would pull in the HTTP, template and MCP dependencies, which the lint session does not install."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load() -> ModuleType:
    name = "mcp_push_specs"
    if name in sys.modules:
        return sys.modules[name]
    location = importlib.util.spec_from_file_location(name, ROOT / "python" / "mcp_push" / "specs.py")
    module = importlib.util.module_from_spec(location)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    location.loader.exec_module(module)
    return module
