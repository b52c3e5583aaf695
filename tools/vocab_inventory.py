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


def _walk(node, path, counts, users, channel):
    if isinstance(node, dict):
        for key, child in node.items():
            label = key if str(key).startswith("$") else ".".join(path + [str(key)])
            counts[label] += 1
            users[label].add(channel)
            # Body trees and env tables hold data keys, not keywords: count only their $-forms below.
            if path[-1:] in (["body"], ["env"], ["headers"], ["query"], ["data"]) and not str(key).startswith("$"):
                label = None
            _walk(child, path + [str(key)] if label else path + ["*"], counts, users, channel)
    elif isinstance(node, list):
        for item in node:
            _walk(item, path, counts, users, channel)
    elif isinstance(node, str):
        for name in FILTER.findall(node):
            if "{{" in node or "{%" in node:
                counts[f"filter {name}"] += 1
                users[f"filter {name}"].add(channel)


def inventory(channels_dir: Path = ROOT / "spec" / "channels"):
    counts: collections.Counter = collections.Counter()
    users: dict = collections.defaultdict(set)
    for file in sorted(channels_dir.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text(encoding="utf-8"))
        _walk(spec, [], counts, users, spec["name"])
        for req in (spec.get("request"), (spec.get("edit") or {}).get("request"), (spec.get("token") or {}).get("request")):
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
        if "*" in label or label.startswith(("env.", "data.")):
            continue
        names = sorted(users.get(label, ()))
        who = ", ".join(names) if len(names) <= 3 else f"{len(names)} channels"
        print(f"{counts[label]:4d}  {label:40s} {who}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
