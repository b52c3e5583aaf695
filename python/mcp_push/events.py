"""Agent events: validate an envelope (spec/envelope.schema.json), render it as a title and content
(spec/templates/event.yaml), and send it. The Node runtime's events.js does the same, word for word:
conformance cases pin both the rendering and the validation messages."""

from __future__ import annotations

import calendar
import functools
import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .cards import CARD_PARAM, FORMAT_VAR
from .config import ConfigError, as_text, setting, strip_space
from .specs import spec_dir, template
from .templates import FILTERS, render
from .wire import js_key_order, to_json

if TYPE_CHECKING:
    from .edits import EditRefs


class EnvelopeError(ValueError):
    """An invalid envelope; the message names the field and the rule it breaks."""

    def __init__(self, field: str, rule: str):
        super().__init__(f"{field}: {rule}")
        self.field, self.rule = field, rule


@functools.lru_cache(maxsize=1)
def envelope_schema() -> dict[str, Any]:
    return json.loads((spec_dir() / "envelope.schema.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def event_template() -> dict[str, Any]:
    return template("event")


# --- validation ----------------------------------------------------------------------------------------

_TYPE_WORDS = {"string": "a string", "number": "a number", "integer": "an integer", "object": "an object",
               "boolean": "a boolean", "array": "an array"}
_PATTERN_RULES = {"artifact_url": "must be an http(s) URL", "timestamp": "must be an RFC 3339 date-time"}


def _type_rule(expected: str | list[str]) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    return "must be " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)


def _field(path: Iterable[Any], name: str | None = None) -> str:
    parts = [str(p) for p in path] + ([name] if name else [])
    return ".".join(parts) or "envelope"


def _problems(error: Any) -> list[tuple[str, str]]:
    """One jsonschema error as (field, rule) pairs, worded as the Node runtime words ajv's errors."""
    path, kind, expected = list(error.absolute_path), error.validator, error.validator_value
    if kind == "required":
        return [(_field(path, name), "is required") for name in expected if name not in error.instance]
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        return [(_field(path, name), "is not a known field") for name in error.instance if name not in known]
    field = _field(path)
    leaf = str(path[-1]) if path else ""
    rules = {
        "type": lambda: _type_rule(expected),
        "enum": lambda: "must be one of " + ", ".join(expected),
        "minLength": lambda: "must not be empty" if expected == 1 else f"must be at least {expected} characters",
        "maxLength": lambda: f"must be at most {expected} characters",
        "minimum": lambda: f"must be at least {expected}",
        "maximum": lambda: f"must be at most {expected}",
        "pattern": lambda: _PATTERN_RULES.get(leaf, "has the wrong form"),
        "minItems": lambda: f"must have at least {expected} item{'' if expected == 1 else 's'}",
        "maxItems": lambda: f"must have at most {expected} item{'' if expected == 1 else 's'}",
    }
    return [(field, rules[kind]())] if kind in rules else [(field, str(error.message))]


def _nan_problems(schema: Mapping[str, Any], data: Any, path: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """NaN where the schema wants a number (Python's json reads the NaN literal): JSON Schema has no
    word for it and jsonschema lets it through every bound, so it is named here, with the range."""
    if isinstance(data, float) and math.isnan(data) and schema.get("type") == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        rule = f"must be a number from {low} to {high}" if low is not None and high is not None else "must be a number"
        return [(_field(path), rule)]
    if not isinstance(data, dict):
        return []
    properties = schema.get("properties", {})
    return [p for name, value in data.items() if name in properties
            for p in _nan_problems(properties[name], value, (*path, name))]


def schema_checker(schema: Mapping[str, Any]) -> Callable[[Any], list[tuple[str, str]]]:
    """The check of values against a JSON schema (an MCP tool's input schema), compiled once, at its first
    use: it gives the (field, rule) pairs, worded and ordered as the envelope's errors. Lazily, because the
    server makes its tools' checks at start and jsonschema's import is about 30 ms of its cold start."""
    compiled: list[Any] = []

    def check(value: Any) -> list[tuple[str, str]]:
        if not compiled:  # two threads may both compile it once: the same validator, no harm
            import jsonschema

            compiled.append(jsonschema.Draft202012Validator(schema))
        return sorted(p for error in compiled[0].iter_errors(value) for p in _problems(error))

    return check


def argument_problems(schema: Mapping[str, Any], arguments: Any) -> list[tuple[str, str]]:
    """(field, rule) pairs of `arguments` against a JSON schema; a caller that checks many values
    against one schema compiles it once (schema_checker)."""
    return schema_checker(schema)(arguments)


@functools.lru_cache(maxsize=1)
def _envelope_validator() -> Any:
    import jsonschema  # the first event pays for it, not the import of mcp_push

    return jsonschema.Draft202012Validator(envelope_schema())


def rfc3339(now: float) -> str:
    """Unix seconds as RFC 3339 UTC with milliseconds, as JavaScript's Date.toISOString() writes it."""
    stamp = datetime.fromtimestamp(math.floor(now * 1000) / 1000, tz=timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_ENVELOPE_FIELDS = frozenset(("run_id", "event", "message", "data", "timestamp"))
_EVENTS = frozenset(("start", "update", "end", "error"))


@functools.lru_cache(maxsize=1)
def _envelope_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The schema's own artifact_url and timestamp patterns, compiled (jsonschema searches them too)."""
    properties = envelope_schema()["properties"]
    return (re.compile(properties["data"]["properties"]["artifact_url"]["pattern"]),
            re.compile(properties["timestamp"]["pattern"]))


def _plainly_valid(data: Any) -> bool:
    """True only for an envelope the schema accepts, checked by hand in a few microseconds (jsonschema
    takes tens on every event); False means "ask jsonschema", which then words the problem (or finds
    none: a float error_code such as 3.0 is an integer to it). Rules as in spec/envelope.schema.json."""
    if type(data) is not dict or not data.keys() <= _ENVELOPE_FIELDS:
        return False
    run_id, event, message = data.get("run_id"), data.get("event"), data.get("message")
    if not (type(run_id) is str and 1 <= len(run_id) <= 200 and type(message) is str
            and 1 <= len(message) <= 20000 and type(event) is str and event in _EVENTS):
        return False
    url_pattern, stamp_pattern = _envelope_patterns()
    if "timestamp" in data:
        stamp = data["timestamp"]
        if type(stamp) is not str or not stamp_pattern.search(stamp):
            return False
    if "data" not in data:
        return True
    details = data["data"]
    if type(details) is not dict:
        return False
    if "step" in details and not (type(details["step"]) is str and len(details["step"]) <= 500):
        return False
    if "progress" in details:
        progress = details["progress"]
        if type(progress) not in (int, float) or not 0 <= progress <= 1:  # NaN fails the range too
            return False
    if "artifact_url" in details:
        url = details["artifact_url"]
        if type(url) is not str or len(url) > 2048 or not url_pattern.search(url):
            return False
    return "error_code" not in details or type(details["error_code"]) in (str, int)


def validate_envelope(data: Any, now: float | None = None) -> dict[str, Any]:
    """A normalized copy of the envelope (timestamp filled in when absent), or EnvelopeError naming the
    first problem (fields in alphabetical order, so both runtimes report the same one)."""
    if not _plainly_valid(data):
        problems = sorted({p for error in _envelope_validator().iter_errors(data) for p in _problems(error)}
                          | set(_nan_problems(envelope_schema(), data)))
        if problems:
            raise EnvelopeError(*problems[0])
    envelope = dict(data)
    if "timestamp" not in envelope:
        envelope["timestamp"] = rfc3339(time.time() if now is None else now)
    timestamp_ms(envelope["timestamp"])  # the pattern admits month 13; the calendar does not
    return envelope


# --- rendering -----------------------------------------------------------------------------------------

_STAMP = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$"
)


def timestamp_ms(stamp: str) -> int:
    """RFC 3339 to Unix milliseconds; digits past the millisecond are dropped (as in JavaScript)."""
    match = _STAMP.fullmatch(stamp)  # not match: $ would also pass a final newline
    if not match:
        raise EnvelopeError("timestamp", "must be an RFC 3339 date-time")
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = match.groups()
    try:  # a date that does not exist (month 13, 30 February, second 60) is no date-time
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise EnvelopeError("timestamp", "must be an RFC 3339 date-time") from None
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
    offset = 0 if sign is None else (1 if sign == "+" else -1) * (int(off_h) * 60 + int(off_m)) * 60
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return (seconds - offset) * 1000 + millis


def format_elapsed(ms: int) -> str:
    seconds = max(ms, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


class RunLog:
    """When this process saw each run start, so `end` and `error` can say how long the run took."""

    LIMIT = 1000  # runs remembered; the oldest are forgotten first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starts: OrderedDict[str, int] = OrderedDict()

    def elapsed(self, envelope: Mapping[str, Any]) -> str:
        """Records a start; for an end or error of a run whose start was seen, the time since it."""
        at = timestamp_ms(envelope["timestamp"])
        run_id, event = envelope["run_id"], envelope["event"]
        with self._lock:
            if event == "start":
                self._starts[run_id] = at
                self._starts.move_to_end(run_id)
                while len(self._starts) > self.LIMIT:
                    self._starts.popitem(last=False)
                return ""
            if event in ("end", "error") and run_id in self._starts:
                return format_elapsed(at - self._starts.pop(run_id))
        return ""


RUNS = RunLog()


def detail_lines(data: Mapping[str, Any], limits: Mapping[str, int]) -> str:
    """The data fields the template has no line for, one `key: value` line each (spec/README.md,
    Events): in the wire's key order, a string as it is, any other value as the wire's JSON; line breaks
    folded (one_line), so no field can start a line of its own; at most `fields` lines of at most
    `chars` code points, and a last line saying how many fields were left out."""
    known = envelope_schema()["properties"]["data"]["properties"]
    extra = [(str(key), value) for key, value in js_key_order(dict(data)).items() if str(key) not in known]
    lines = []
    for key, value in extra[:limits["fields"]]:
        try:
            text = value if isinstance(value, str) else to_json(value)
        except (TypeError, ValueError, RecursionError):  # a datetime, a set, a cycle: JSON has no word for it
            raise EnvelopeError(f"data.{key}", "must be a JSON value") from None
        line = FILTERS["one_line"](f"{key}: {text}")
        lines.append(line if len(line) <= limits["chars"] else line[: limits["chars"] - 1] + "…")
    left = len(extra) - limits["fields"]
    if left > 0:
        lines.append(f"({left} more field{'' if left == 1 else 's'})")
    return "\n".join(lines)


def event_context(envelope: Mapping[str, Any], runs: RunLog = RUNS) -> dict[str, Any]:
    """The values spec/templates/event.yaml and the cards render a validated envelope with (records a
    run's start in `runs`)."""
    template = event_template()
    data = envelope.get("data") or {}
    progress = data.get("progress")
    percent, bar = "", ""
    if progress is not None:
        cells, filled = template["bar"]["cells"], math.floor(progress * template["bar"]["cells"])
        percent = str(math.floor(progress * 100 + 0.5))  # ties up, as JavaScript's Math.round
        bar = template["bar"]["full"] * filled + template["bar"]["empty"] * (cells - filled)
    context = {
        "mark": template["marks"][envelope["event"]],
        "run_id": envelope["run_id"],
        "event": envelope["event"],
        "message": envelope["message"],
        "timestamp": envelope["timestamp"],
        "step": as_text(data.get("step")),
        "artifact_url": as_text(data.get("artifact_url")),
        "error_code": as_text(data.get("error_code")),
        "percent": percent,
        "bar": bar,
        "details": detail_lines(data, template["details"]),
        "elapsed": runs.elapsed(envelope),
        "progress": progress,
    }
    return context


def _text(context: Mapping[str, Any]) -> tuple[str, str]:
    template = event_template()
    title = render(template["title"], dict(context))
    lines = (render(line, dict(context)) for line in template["lines"])
    return title, "\n".join(line for line in lines if line)


def render_event(envelope: Mapping[str, Any], runs: RunLog = RUNS) -> tuple[str, str]:
    """(title, content) for a validated envelope, from spec/templates/event.yaml."""
    return _text(event_context(envelope, runs))


def cards_on(source: Mapping[str, Any]) -> bool:
    """MCP_PUSH_FORMAT: card (the default) or text. A value that is neither is reported by the send's
    settings check (api.check_settings); the event is then rendered as text."""
    try:
        return strip_space(setting(FORMAT_VAR, source)).lower() != "text"
    except ConfigError:
        return False


def event_message(envelope: Mapping[str, Any], source: Mapping[str, Any], runs: RunLog = RUNS
                  ) -> tuple[str, str, dict[str, Any]]:
    """(title, content, params) for a validated envelope: the text every channel without a card gets,
    and, unless MCP_PUSH_FORMAT=text, the params that carry the event's card (cards.py) to the channels
    whose spec has one. The card's fields are the text template's values, its title the text title."""
    context = event_context(envelope, runs)
    title, content = _text(context)
    if not cards_on(source):
        return title, content, {}
    card = {"kind": context["event"], "title": title, **{k: v for k, v in context.items() if k != "event"}}
    return title, content, {CARD_PARAM: card}


# --- sending -------------------------------------------------------------------------------------------

def send_event(
    envelope: Mapping[str, Any],
    channels: Iterable[str] | None = None,
    env: Mapping[str, Any] | None = None,
    runs: RunLog = RUNS,
    now: float | None = None,
    edits: EditRefs | None = None,
    tags: Iterable[str] | None = None,
    store: Any = None,
):
    """Validates (EnvelopeError when invalid), renders and sends an event to the configured channels.
    `tags` are matched by a routing config file's routes (docs/ROUTING.md).
    With MCP_PUSH_EDIT_PROGRESS=true a run's updates edit its message where a channel can (edits.py,
    remembering messages in `edits`, this process's store by default)."""
    from .edits import EDITS, dispatch_run

    valid = validate_envelope(envelope, now=now)
    source = os.environ if env is None else env
    title, content, params = event_message(valid, source, runs)
    data = valid.get("data") or {}
    note = {"message": valid["message"], "step": data.get("step"), "progress": data.get("progress")}  # the history's
    return dispatch_run(title, content, source, valid["run_id"], valid["event"], channels=channels, now=now,
                        refs=EDITS if edits is None else edits, tags=tags, store=store, params=params, note=note)


def plan_event(
    envelope: Mapping[str, Any],
    env: Mapping[str, Any] | None = None,
    now: float | None = None,
    seen: Iterable[Mapping[str, Any]] = (),
    redact: bool = True,
    edit_refs: Mapping[str, Any] | None = None,
    channels: str | Iterable[str] | None = None,
    priority: str | None = None,
) -> list[dict[str, Any]]:
    """The dry run of an event: `seen` are earlier events of this process (a run's start), rendered
    into a fresh run log first so elapsed times are deterministic; `edit_refs` and `channels` as in `plan`."""
    from .api import plan

    runs = RunLog()
    for earlier in seen:
        render_event(validate_envelope(earlier, now=now), runs)
    source = os.environ if env is None else env
    title, content, params = event_message(validate_envelope(envelope, now=now), source, runs)
    return plan(title, content, env=env, now=now, params=params, redact=redact, edit_refs=edit_refs,
                channels=channels, priority=priority)
