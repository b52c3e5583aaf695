"""Counts how often each spec keyword, $-form, filter and encoding is used across spec/channels/*.yaml.

A maintenance aid for keeping the spec vocabulary small: a keyword used by no channel is a candidate for
removal, one used by a single channel must be justified in spec/README.md ("Knobs one channel uses").
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FILTER = re.compile(r"\|\s*([a-z_0-9]+)")
FORMS = ("$ref", "$optional", "$json", "$when", "$merge")


DATA = ("body", "headers", "query", "env", "data")  # their keys are the vendor's or the user's, not keywords


def _walk(node, path, counts, users, channel, in_data=False):
    """Counts keyword paths (`edit.request.url`), $-forms and filters; below a DATA key only $-forms."""
    if isinstance(node, dict):
        for key, child in node.items():
            key = str(key)
            if key in FORMS:
                counts[key] += 1
                users[key].add(channel)
            elif not in_data and not key.startswith("$"):
                label = ".".join(path + [key])
                counts[label] += 1
                users[label].add(channel)
            _walk(child, path + [key], counts, users, channel, in_data or (key in DATA and not key.startswith("$")))
    elif isinstance(node, list):
        for item in node:
            _walk(item, path, counts, users, channel, in_data)
    elif isinstance(node, str) and ("{{" in node or "{%" in node):
        for name in FILTER.findall(node):
            counts[f"filter {name}"] += 1
            users[f"filter {name}"].add(channel)


def inventory(channels_dir: Path = ROOT / "spec" / "channels"):
    counts: collections.Counter = collections.Counter()
    users: dict = collections.defaultdict(set)
    for file in sorted(channels_dir.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text(encoding="utf-8"))
        _walk(spec, [], counts, users, spec["name"])
        for req in (spec.get("request"), *((spec.get(k) or {}).get("request") for k in ("edit", "token"))):
            if isinstance(req, dict) and "encoding" in req:
                counts[f"encoding {req['encoding']}"] += 1
                users[f"encoding {req['encoding']}"].add(spec["name"])
    return counts, users


def main() -> int:
    counts, users = inventory()
    schema = json.loads((ROOT / "spec" / "channel.schema.json").read_text(encoding="utf-8"))
    for key in schema["properties"]:
        counts.setdefault(key, 0)
    for label in sorted(counts, key=lambda k: (k.startswith(("filter", "encoding", "$")), k)):
        names = sorted(users.get(label, ()))
        who = ", ".join(names) if len(names) <= 3 else f"{len(names)} channels"
        print(f"{counts[label]:4d}  {label:40s} {who}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
