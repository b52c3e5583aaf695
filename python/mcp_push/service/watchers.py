"""Who watches an engine: its history (history.py) and its metrics (metrics.py), attached by the
engine's owner (lifecycle.open_engine, `mcp-push flush`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .engine import Engine
from .history import SqliteHistory, store_for


def watch(engine: Engine, source: Mapping[str, Any]) -> Engine:
    """Attaches the state folder's history (unless MCP_PUSH_HISTORY=false) and metrics to the engine."""
    from .metrics import EngineMetrics, metrics_of

    store = store_for(source)
    if store is not None and store not in engine.observers:
        engine.observers.append(store)
    if metrics_of(engine) is None:
        engine.observers.append(EngineMetrics(engine))
    return engine


def history_of(engine: Engine) -> Any:
    """The engine's history backend (anything with the HistoryBackend calls), or None."""
    return next((o for o in engine.observers if isinstance(o, SqliteHistory) or hasattr(o, "claim_retry")), None)
