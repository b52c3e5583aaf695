"""docs/CHANNEL_CONFIG.md's event card samples (tools/gen_docs.py): for each channel whose spec has an
`event` block, what the vendor receives for a run's `end` event, read from that channel's conformance case
(conformance/cases/cards/<channel>.yaml), so the sample is the card both runtimes are held to. Read as
YAML only: the lint session that checks the docs does not install the runtime's template engine."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml

# The headers a card sets or changes; the rest are the channel's as for any message.
CARD_HEADERS = ("Title", "Priority", "Markdown", "Tags", "Click")


def _shown(request: dict[str, Any]) -> tuple[str, str]:
    """(code block language, text) of a planned request's body, as a person reads it."""
    body, headers = request["body"], request.get("headers") or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if isinstance(body, dict):  # SMTP's parts
        return "json", json.dumps(body, indent=2, ensure_ascii=False)
    if "json" in content_type:
        return "json", json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    if "x-www-form-urlencoded" in content_type:
        return "json", json.dumps(dict(parse_qsl(body, keep_blank_values=True)), indent=2, ensure_ascii=False)
    lines = [f"{name}: {headers[name]}" for name in CARD_HEADERS if name in headers]
    return "text", "\n".join([*lines, "", body])


def _width(text: str) -> int:
    """Columns a monospace font gives the text: CJK and emoji two, the rest one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" or ord(c) > 0xFFFF else 1 for c in text)


def _elapsed(start: str, end: str) -> str:
    seconds = int((datetime.fromisoformat(end.replace("Z", "+00:00"))
                   - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds())
    return f"{seconds // 3600}h {seconds % 3600 // 60}m {seconds % 60}s"


def preview(root: Path, spec: dict[str, Any], sample: dict[str, Any]) -> list[str]:
    """A screenshot-like sketch of the card: its title with the kind's style, the message, the facts, the
    extra data field and the artifact (a button where the card has one)."""
    marks = yaml.safe_load((root / "spec" / "templates" / "event.yaml").read_text(encoding="utf-8"))["marks"]
    envelope, [start] = sample["input"]["event"], sample["input"]["seen"]
    style = ", ".join(f"{k} {v}" for k, v in ((spec["event"].get("style") or {}).get("end") or {}).items() if v)
    data = dict(envelope.get("data") or {})
    artifact = data.pop("artifact_url", "")
    body = json.dumps(sample["requests"][0]["body"], ensure_ascii=False)
    elapsed = _elapsed(start["timestamp"], envelope["timestamp"])
    rows = [envelope["message"], f"Run: {envelope['run_id']} · Elapsed: {elapsed}",
            *(f"{key}: {value}" for key, value in data.items()),
            "[ Open artifact ]" if "Open artifact" in body else f"(a tap opens {artifact})"]
    title = f"{marks['end']} {envelope['run_id']} finished" + (f"   ({style})" if style else "")
    inner = max(_width(text) for text in [title, *rows]) + 2
    return [f"┌─ {title} {'─' * (inner - _width(title) - 2)}┐",
            *(f"│ {row}{' ' * (inner - _width(row))}│" for row in rows),
            f"└{'─' * (inner + 1)}┘"]


def card_sample(root: Path, spec: dict[str, Any]) -> list[str]:
    """The Markdown lines of a channel's "Event card" part; none for a channel without a card."""
    event = spec.get("event")
    if not event:
        return []
    path = root / "conformance" / "cases" / "cards" / f"{spec['name']}.yaml"
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    sample = next(c for c in cases if c["input"]["event"]["event"] == "end" and c["input"].get("seen"))
    envelope = sample["input"]["event"]
    language, text = _shown(sample["requests"][0])
    return [
        "",
        f"Event card (events use it unless `MCP_PUSH_FORMAT=text`): {event.get('description', 'the vendor format')}.",
        "",
        "```text",
        *preview(root, spec, sample),
        "```",
        "",
        f"What the vendor receives for an `end` event (`{json.dumps(envelope, ensure_ascii=False)}`, an hour"
        " after its start), from"
        f" [`conformance/cases/cards/{spec['name']}.yaml`](../conformance/cases/cards/{spec['name']}.yaml):",
        "",
        f"```{language}",
        *text.split("\n"),
        "```",
    ]
