"""Edit in place for `send_event` (MCP_PUSH_EDIT_PROGRESS=true), outside the MCP server's engine: the
message each run's first post created is remembered in this process's memory, and the run's later
updates edit it (spec/README.md, "Rate limits, coalescing and the outbox"). js/src/edits.js is the same.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from . import result as R
from .api import deliver_prepared, prepare_message
from .config import is_true, resolve_var
from .lanekey import PROCESS_SALT, lane_key
from .specs import ChannelSpec, load_settings
from .success import parse_json
from .templates import lookup

log = logging.getLogger("mcp_push")

EDIT_VAR = "MCP_PUSH_EDIT_PROGRESS"
TERMINAL = ("end", "error")
# Refs remembered per credential: runs that never end must not grow memory without bound.
MAX_REFS = 1000


class EditRefs:
    """The message each run's updates edit, per channel credential (lane key) and run id; the oldest
    run of a credential is forgotten first once it holds `limit`."""

    def __init__(self, limit: int = MAX_REFS):
        self.limit = limit
        self._lock = threading.Lock()
        self._refs: dict[str, OrderedDict[str, Any]] = {}

    def get(self, lane: str, run_id: str) -> Any:
        with self._lock:
            return self._refs.get(lane, {}).get(run_id)

    def set(self, lane: str, run_id: str, ref: Any) -> None:
        """Remembers the run's message; None forgets it."""
        with self._lock:
            refs = self._refs.setdefault(lane, OrderedDict())
            if ref is None:
                refs.pop(run_id, None)
                return
            refs[run_id] = ref
            refs.move_to_end(run_id)
            while len(refs) > self.limit:
                refs.popitem(last=False)


EDITS = EditRefs()


def read_ref(spec: ChannelSpec, reply_text: str) -> Any:
    """The value at the spec's `edit.ref` in a post's reply, or None."""
    try:
        return lookup(parse_json(reply_text), spec.edit["ref"])
    except (KeyError, TypeError, IndexError):
        return None


def dispatch_run(
    title: str,
    content: str,
    source: Mapping[str, Any],
    run_id: str,
    kind: str,
    channels: Iterable[str] | None = None,
    now: float | None = None,
    refs: EditRefs = EDITS,
) -> R.SendResult:
    """Sends one event of a run (`kind`: start, update, end, error) like `dispatch`; with the opt-in,
    an update edits the run's message where the channel can, and a refused edit is posted anew."""
    prepared = prepare_message(title, content, source, channels)
    if prepared.result is not None:
        return prepared.result
    if not is_true(resolve_var(load_settings()["env"][EDIT_VAR], source)):
        return R.SendResult([result for result, _ in deliver_prepared(prepared, now=now)])
    lanes = {spec.name: lane_key(spec, env, PROCESS_SALT) for spec, env in prepared.targets if spec.edit is not None}
    edit_refs: dict[str, Any] = {}
    if kind == "update":
        found = ((name, refs.get(lane, run_id)) for name, lane in lanes.items())
        edit_refs = {name: ref for name, ref in found if ref is not None}
    outcomes = {plan.spec.name: (result, plan) for result, plan in deliver_prepared(prepared, now=now,
                                                                                  edit_refs=edit_refs)}
    refused = [name for name in edit_refs if outcomes[name][0].status == R.REJECTED]
    if refused:
        # The message to edit is gone or too old: post anew, and that becomes the run's message.
        for name in refused:
            log.info("%s: editing the run's message failed (%s); posting a new one",
                     outcomes[name][1].spec.display_name, outcomes[name][0].error)
        for result, plan in deliver_prepared(prepared, now=now, only=refused):
            outcomes[plan.spec.name] = (result, plan)
    for name, (result, plan) in outcomes.items():
        if name not in lanes or not result.ok:
            continue
        if kind in TERMINAL:
            refs.set(lanes[name], run_id, None)
        elif plan.request_template is None and plan.reply_texts:
            refs.set(lanes[name], run_id, read_ref(plan.spec, plan.reply_texts[0]))
    return R.SendResult([result for result, _ in outcomes.values()])
