"""The routing config file, mcp-push.yaml (docs/ROUTING.md): where it is, reading it as YAML 1.2 with the
line of every value, checking it against spec/config.schema.json and the channel specs, and the named
channel instances it declares. js/src/configFile.js is the same, word for word.

The file is read as YAML 1.2's core schema in both runtimes (PyYAML alone reads YAML 1.1, where
`22:00` is the number 79200 and `on` is true): the composed nodes are turned into data here.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, as_text, setting
from .config_lookup import CONFIG_VAR, FILE_NAME, found_config_file, user_config_dir  # noqa: F401 (its names)
from .specs import channel_ids, load_channel, spec_dir

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_TYPE_WORDS = {"string": "text", "object": "a mapping", "array": "a list", "boolean": "true or false",
               "integer": "a whole number", "number": "a number"}


class ConfigFileError(ConfigError):
    """A config file that cannot be used: every problem, one a line, `<file>:<line>: <field>: <rule>`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Config:
    """A checked config file: its data (YAML 1.2), where it came from, and the line of each value."""

    path: str
    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def channels(self) -> dict[str, dict[str, Any]]:
        return self.data.get("channels") or {}

    @property
    def routes(self) -> list[dict[str, Any]]:
        return self.data.get("routes") or []


def config_path(source: Mapping[str, Any]) -> Path | None:
    """MCP_PUSH_CONFIG (which must name a file), else ./mcp-push.yaml, else the user config folder's; None
    when there is none (then nothing about routing applies)."""
    named = setting(CONFIG_VAR, source)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigFileError([f"{CONFIG_VAR}: no file at {named}"])
        return path
    # The working folder's name asked for (a syscall) only when the file is there.
    found = found_config_file()
    if found is None:
        return None
    return Path.cwd() / FILE_NAME if found == FILE_NAME else Path(found)


_cache: dict[str, tuple[tuple[int, int], Config]] = {}
_one_look = threading.local()


@contextlib.contextmanager
def one_look() -> Iterator[None]:
    """Within the block, on this thread, load_config looks at the file system once per MCP_PUSH_CONFIG
    value: one message's routing, checks and channel selection each ask for the config, and see one file."""
    outer = getattr(_one_look, "memo", None)
    if outer is None:
        _one_look.memo = {}
    try:
        yield
    finally:
        if outer is None:
            _one_look.memo = None


def load_config(source: Mapping[str, Any]) -> Config | None:
    """The config file in use, checked (ConfigFileError when it cannot be used), or None without one.
    Read again only when the file changes."""
    memo = getattr(_one_look, "memo", None)
    if memo is None:
        return _load_config(source)
    named = setting(CONFIG_VAR, source)
    if named not in memo:
        try:
            memo[named] = (_load_config(source), None)
        except ConfigFileError as exc:
            memo[named] = (None, exc)
    config, error = memo[named]
    if error is not None:
        raise error
    return config


def _load_config(source: Mapping[str, Any]) -> Config | None:
    path = config_path(source)
    if path is None:
        return None
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    key = str(path.resolve())
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    _cache[key] = (stamp, config)
    return config


# --- YAML 1.2 core, with lines -------------------------------------------------------------------------

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


def _scalar(node: Any) -> Any:
    text = node.value
    if node.style or node.tag.startswith("!") or not node.tag.startswith("tag:yaml.org,2002:"):
        return text  # quoted, literal, folded or tagged by hand: text as written
    if _NULL.match(text):
        return None
    if _TRUE.match(text):
        return True
    if _FALSE.match(text):
        return False
    if _INT.match(text):
        return int(text)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text


def _to_data(node: Any, path: str, lines: dict[str, int], problems: list[str], label: str) -> Any:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(child, _join(path, str(i)), lines, problems, label) for i, child in enumerate(node.value)]
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = as_text(_scalar(key_node)) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
        where = _join(path, key)
        if key in out:
            problems.append(f"{label}:{key_node.start_mark.line + 1}: {where}: is given twice")
            continue
        lines[f"{where}#key"] = key_node.start_mark.line + 1
        out[key] = _to_data(value_node, where, lines, problems, label)
    return out


def _join(path: str, step: str) -> str:
    return f"{path}.{step}" if path else step


def read_yaml(text: str, label: str) -> tuple[Any, dict[str, int]]:
    """The document as YAML 1.2 core data and the line of each value ("routes.0.to") and key
    ("routes.0.to#key"); ConfigFileError for text that is no YAML or a key given twice."""
    import yaml

    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigFileError([f"{label}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    if node is None:
        return {}, {}
    lines: dict[str, int] = {}
    problems: list[str] = []
    data = _to_data(node, "", lines, problems, label)
    if problems:
        raise ConfigFileError(problems)
    return data, lines


# --- checking ------------------------------------------------------------------------------------------

_schema: dict[str, Any] = {}


def config_schema() -> dict[str, Any]:
    if not _schema:
        _schema.update(json.loads((spec_dir() / "config.schema.json").read_text(encoding="utf-8")))
    return _schema


def _line(lines: Mapping[str, int], path: str, key: bool = False) -> int:
    if key and f"{path}#key" in lines:
        return lines[f"{path}#key"]
    while path not in lines and "." in path:
        path = path.rsplit(".", 1)[0]
    return lines.get(path, 1)


def _schema_problems(data: Any, lines: Mapping[str, int]) -> list[tuple[int, str, str]]:
    """(line, field, rule) for each way the data breaks spec/config.schema.json."""
    import jsonschema

    found = set()
    for error in jsonschema.Draft202012Validator(config_schema()).iter_errors(data):
        where = ".".join(str(step) for step in error.absolute_path)
        keyword, value, instance = error.validator, error.validator_value, error.instance
        if keyword == "required":
            for name in value:
                if isinstance(instance, dict) and name not in instance:
                    found.add((_line(lines, where), _join(where, name), "is required"))
        elif keyword == "additionalProperties":
            known = error.schema.get("properties", {})
            for name in instance:
                if name not in known:
                    found.add((_line(lines, _join(where, name), key=True), _join(where, name), "is not a known field"))
        else:
            found.add((_line(lines, where), where or "(top)", _rule(keyword, value, error.schema)))
    return sorted(found)


def _rule(keyword: str, value: Any, schema: Mapping[str, Any]) -> str:
    if keyword == "type":
        names = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(_TYPE_WORDS[name] for name in names)
    if keyword == "enum":
        return "must be one of " + ", ".join(str(item) for item in value)
    if keyword == "pattern":
        return str(schema.get("description") or f"must match {value}")
    if keyword == "minItems":
        return f"must list at least {value}"
    if keyword == "minimum":
        return f"must be at least {value}"
    return f"breaks the schema's {keyword}"


def valid_time_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _meaning_problems(data: dict[str, Any], lines: Mapping[str, int]) -> list[tuple[int, str, str]]:
    """What the schema cannot say: names, channel types and their variables, route targets, time zones."""
    found = []
    known = set(channel_ids())
    channels = data.get("channels") or {}
    tags = {tag for instance in channels.values() for tag in instance.get("tags", [])}
    for name, instance in channels.items():
        where = f"channels.{name}"
        if not _NAME.match(name):
            found.append((_line(lines, where, key=True), where, str(config_schema()["$defs"]["name"]["description"])))
        kind = instance["type"]
        if kind not in known:
            found.append((_line(lines, f"{where}.type"), f"{where}.type", f"unknown channel '{kind}'"))
            continue
        spec = load_channel(kind)
        for var in instance.get("env") or {}:
            if var not in spec.env:
                found.append((_line(lines, f"{where}.env.{var}", key=True), f"{where}.env.{var}",
                              f"{kind} reads no {var}"))
    for index, route in enumerate(data.get("routes") or []):
        for position, target in enumerate(route["to"]):
            where = f"routes.{index}.to.{position}"
            if target.startswith("tag:"):
                if target[4:] not in tags:
                    found.append((_line(lines, where), where, f"no instance has tag '{target[4:]}'"))
            elif target not in channels and target not in known:
                found.append((_line(lines, where), where, f"no instance '{target}'"))
        zone = (route.get("quiet_hours") or {}).get("tz")
        if zone is not None and not valid_time_zone(zone):
            where = f"routes.{index}.quiet_hours.tz"
            found.append((_line(lines, where), where, f"unknown time zone '{zone}'"))
    return sorted(found)


def parse_config(text: str, label: str = FILE_NAME) -> Config:
    """A config file's text, checked: the Config, or ConfigFileError listing every problem found
    (`mcp-push.yaml:7: routes.1.throttle: must be a duration ...`)."""
    data, lines = read_yaml(text, label)
    if data is None:
        data = {}
    problems = _schema_problems(data, lines)
    if not problems:
        problems = _meaning_problems(data, lines)
    if problems:
        raise ConfigFileError([f"{label}:{line}: {where}: {rule}" for line, where, rule in problems])
    return Config(label, data, dict(lines))


# --- instances -----------------------------------------------------------------------------------------

def expand(value: Any, source: Mapping[str, Any]) -> str:
    """A config value as text, each `${NAME}` replaced by that environment variable ("" when unset)."""
    return _REFERENCE.sub(lambda m: as_text(source.get(m.group(1))), as_text(value))


def references(value: Any) -> list[str]:
    """The environment variables a config value reads."""
    return _REFERENCE.findall(as_text(value))


def inline_secrets(config: Config) -> list[str]:
    """Warnings for secret variables written into the file rather than read from the environment."""
    warnings = []
    for name, instance in config.channels.items():
        spec = load_channel(instance["type"])
        for var, value in (instance.get("env") or {}).items():
            if spec.env[var].secret and as_text(value) and not references(value):
                where = f"channels.{name}.env.{var}"
                warnings.append(f"{config.path}:{_line(config.lines, where)}: {where}: a secret written into the "
                                f"file; better \"${{{var}}}\" and the value in the environment")
    return warnings
