"""Edit in place (spec/README.md, "Edit in place"). `post_or_edit` is the one rule for an edit that fails,
used by `dispatch`/`send_event` and by the MCP server's engine alike. For `send_event`
(MCP_PUSH_EDIT_PROGRESS=true) outside the engine, the message each run's first post created is remembered
in this process's memory, and the run's later updates edit it. js/src/edits.js is the same.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import result as R
from .config import is_true, setting
from .paths import resolve_path
from .specs import ChannelSpec
from .success import parse_json

if TYPE_CHECKING:
    from .deliver import Outcome

log = logging.getLogger("mcp_push")


def __getattr__(name: str) -> Any:
    """lane_key and PROCESS_SALT, still importable from here (the engine does), from lanekey.py when first
    asked: a plain send (post_or_edit) needs no lane keys and does not import them."""
    if name in ("lane_key", "PROCESS_SALT"):
        from . import lanekey

        return getattr(lanekey, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
        return resolve_path(parse_json(reply_text), spec.edit["ref"])
    except (KeyError, TypeError, IndexError):
        return None


def edit_refused(outcome: Outcome) -> bool:
    """The vendor answered the edit with a no that a new post can get past: a 4xx other than 429 (the
    message is gone, too old, not editable), or a success status whose body says it failed. A 5xx or 429
    (retried as the edit first), a timeout or a network error is not: the edit may have landed, or the
    vendor is down, and a post as well could show the message twice."""
    result, plan = outcome.result, outcome.plan
    status = result.http_status
    return (
        plan.edits
        and result.status == R.REJECTED
        and status is not None
        and (status < 300 or 400 <= status < 500)  # a 3xx is an answer, but not about the message
        and not plan.transport.retryable(status)
    )


def post_or_edit(
    send: Callable[[Mapping[str, Any], list[str] | None], list[Outcome]], edit_refs: Mapping[str, Any]
) -> list[Outcome]:
    """The one edit rule, for `dispatch`/`send_event` and the MCP server's engine. `send(refs, only)`
    plans and delivers (the channels in `only`, or all when None), editing the message refs[channel]
    names where the channel can; its retries apply to an edit as to a post. An edit the vendor refused
    (edit_refused) is posted anew, once, and that post's outcome is the channel's (its attempts and time
    counting the edit's too); any other failed edit is the channel's outcome as it is. Outcomes keep the
    order of the first send."""
    outcomes = {outcome.plan.spec.name: outcome for outcome in send(edit_refs, None)}
    refused = [name for name, outcome in outcomes.items() if edit_refused(outcome)]
    if refused:
        for name in refused:
            edit = outcomes[name]
            log.info("%s: the vendor refused the edit (%s); posting a new message", edit.plan.spec.display_name,
                     edit.result.error)
        for post in send({}, refused):
            # The refused edit went out too: the channel's requests and time are both sends'.
            edit = outcomes[post.plan.spec.name].result
            both = replace(post.result, attempts=post.result.attempts + edit.attempts,
                           elapsed_ms=post.result.elapsed_ms + edit.elapsed_ms)
            outcomes[post.plan.spec.name] = replace(post, result=both)
    return list(outcomes.values())


def dispatch_run(
    title: str,
    content: str,
    source: Mapping[str, Any],
    run_id: str,
    kind: str,
    channels: Iterable[str] | None = None,
    now: float | None = None,
    refs: EditRefs = EDITS,
    tags: Iterable[str] | None = None,
    store: Any = None,
    params: Mapping[str, Any] | None = None,
    note: Mapping[str, Any] | None = None,
) -> R.SendResult:
    """Sends one event of a run (`kind`: start, update, end, error) like `dispatch`; with the opt-in,
    an update edits the run's message where the channel can (post_or_edit: a refused edit is posted anew,
    and that post becomes the run's message)."""
    from .api import prepare_message, record
    from .routed import route_prepared

    prepared = prepare_message(title, content, source, channels)
    if prepared.result is not None:
        return record(source, prepared.title, prepared.content, prepared.result, kind, run_id, note=note)
    routing = route_prepared(prepared, source, kind, run_id, tags, channels, store, now)  # None: no config file
    if routing is not None:
        result = routing.merge([] if not prepared.targets
                               else _send_run(prepared, source, run_id, kind, now, refs, params))
    else:
        result = R.SendResult(_send_run(prepared, source, run_id, kind, now, refs, params))
    return record(source, prepared.title, prepared.content, result, kind, run_id, note=note)


def _send_run(prepared: Any, source: Mapping[str, Any], run_id: str, kind: str, now: float | None,
              refs: EditRefs, params: Mapping[str, Any] | None = None) -> list[R.ChannelResult]:
    from .api import prepare_record, send_prepared

    def meanwhile() -> None:  # the history the event is recorded in, opened while the vendors answer
        prepare_record(source)

    if not is_true(setting(EDIT_VAR, source)):
        return [outcome.result for outcome in send_prepared(prepared, params, now=now, meanwhile=meanwhile)]
    from .lanekey import PROCESS_SALT, lane_key  # here: a plain send (post_or_edit) needs no lane keys

    lanes = {spec.name: lane_key(spec, env, PROCESS_SALT) for spec, env in prepared.targets if spec.edit is not None}
    edit_refs: dict[str, Any] = {}
    if kind == "update" or kind in TERMINAL:  # the end or error replaces the progress on the run's card
        found = ((name, refs.get(lane, run_id)) for name, lane in lanes.items())
        edit_refs = {name: ref for name, ref in found if ref is not None}
    outcomes = send_prepared(prepared, params, now=now, edit_refs=edit_refs, meanwhile=meanwhile)
    for outcome in outcomes:
        name = outcome.plan.spec.name
        if name not in lanes or not outcome.result.ok:
            continue
        if kind in TERMINAL:
            refs.set(lanes[name], run_id, None)
        elif not outcome.plan.edits and outcome.replies:
            # A post (the run's first, or one after a refused edit) is the message its later updates edit.
            refs.set(lanes[name], run_id, read_ref(outcome.plan.spec, outcome.replies[0]))
    return [outcome.result for outcome in outcomes]
