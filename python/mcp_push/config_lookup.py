"""Whether a config file (mcp-push.yaml, docs/ROUTING.md) is in use, found without importing configfile.py.

Every message asks for the config file, and most processes have none: a one-shot script then pays a stat
or two here instead of importing the YAML-with-lines reader and schema checks (configfile.py, about 2 ms),
which load_config imports only when there is a file to read."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import setting

FILE_NAME = "mcp-push.yaml"
CONFIG_VAR = "MCP_PUSH_CONFIG"


def user_config_dir() -> Path:
    """The user's config folder for mcp-push (XDG on Linux and BSDs, %APPDATA% on Windows)."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "mcp-push"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "mcp-push"


def user_config_file() -> str:
    """user_config_dir()'s mcp-push.yaml, as a string made without pathlib."""
    if sys.platform == "win32":
        return str(user_config_dir() / FILE_NAME)
    home = os.environ.get("HOME") or os.path.expanduser("~")  # expanduser's own answer when HOME is set
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(base, "mcp-push", FILE_NAME)


def found_config_file() -> str | None:
    """Without MCP_PUSH_CONFIG: FILE_NAME when the working folder has one, else the user folder's file when
    it is there, else None. Looked for on every message (a file made while the server runs applies to the
    next one): plain os.path, no pathlib."""
    if os.path.isfile(FILE_NAME):
        return FILE_NAME
    user = user_config_file()
    return user if os.path.isfile(user) else None


def config_file_in_use(source: Mapping[str, Any]) -> bool:
    """Whether MCP_PUSH_CONFIG names a file (there or not: configfile.config_path says it is missing) or
    one is found: when not, there is no config and configfile.py need not be imported."""
    return bool(setting(CONFIG_VAR, source)) or found_config_file() is not None


def load_config(source: Mapping[str, Any]) -> Any:
    """configfile.load_config(source): the checked config file in use, or None without one (configfile.py
    is then not imported)."""
    if not config_file_in_use(source):
        return None
    from .configfile import load_config as load

    return load(source)
