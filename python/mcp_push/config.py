"""Reads a channel's env vars the way QingLong does: a non-empty value wins, otherwise the spec default."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: tools/lint_specs.py loads this module alone
    from .specs import ChannelSpec, EnvVar

_FALSE_WORDS = frozenset({"", "false", "0", "no", "off"})
# ASCII white space: str.strip() and JS's String.trim() disagree beyond it (\x1c-\x1f, \x85, \ufeff),
# so both runtimes strip exactly these.
SPACE = " \t\n\r\f\v"


def strip_space(value: str) -> str:
    return value.strip(SPACE)


class ConfigError(Exception):
    """The channel is configured but its configuration cannot work; the message names what to fix."""


class EnvSnapshot(dict):
    """An env copied into a plain dict (os.environ encodes every key it is asked for, and one message
    reads about a hundred), which must not change while it is in use, and the values derived from it
    (`derive`): the MCP server takes one per call and keeps it while the env stays the same, so what
    the env decides (the configured channels, the secrets to mask) is worked out once per env."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._derived: dict[Any, Any] = {}

    def derive(self, key: Any, compute: Any) -> Any:
        """compute(), the first time `key` is asked for (two threads at once may both compute it)."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = compute()
            return value


def as_text(value: Any) -> str:
    """kwargs may carry Python values (QingLong passes them through); specs only ever see text."""
    if type(value) is str:  # nearly always: an env value
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def message_text(value: Any) -> str:
    """Title or content as text, made well-formed: a lone surrogate (from a mis-decoded file name, say)
    cannot be encoded as UTF-8, so it becomes U+FFFD, as JavaScript's String.toWellFormed() does."""
    text = as_text(value)
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# A number in a setting (canonical rule 10): ASCII digits, a decimal one with an optional fraction; no
# sign, exponent, "_", "0x" or other digits, which float() and int() would take. float() and Number() read
# every such text to the same double.
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def decimal_setting(text: str) -> float:
    """A setting's decimal number, ASCII white space around it stripped; NaN when it is none."""
    number = strip_space(text)
    return float(number) if _DECIMAL.fullmatch(number) else math.nan


def request_timeout(text: str) -> float:
    """MCP_PUSH_TIMEOUT in seconds: a decimal number above zero, or a ConfigError naming the variable."""
    value = decimal_setting(text)
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"MCP_PUSH_TIMEOUT must be a positive number of seconds, got '{text}'")
    return value


def agent_defaults(source: Mapping[str, Any]) -> Mapping[str, Any]:
    """Defaults for the MCP server and the CLI, which speak for agents: no hitokoto quote appended
    unless HITOKOTO is set (QingLong's drop-ins keep its default, on)."""
    from collections import ChainMap

    if as_text(source.get("HITOKOTO")):
        return source
    return ChainMap({"HITOKOTO": "false"}, source)


def setting(name: str, source: Mapping[str, Any]) -> str:
    """The one way to read a setting (an `MCP_PUSH_*` variable or another of spec/settings.yaml's `env`):
    the source's value, else its declared default, checked against its declared type (ASCII white space
    around it stripped first) with a ConfigError "<VAR>: <rule>". The text is returned as set: callers that
    parse it further (MCP_PUSH_TIMEOUT, MCP_PUSH_OVERFLOW) word their own rules. A name spec/settings.yaml
    does not declare is a bug, not a user's mistake: KeyError."""
    if type(source) is EnvSnapshot:
        # A snapshot does not change: each setting is read and checked once for it (the MCP server reads
        # a dozen per message). A ConfigError is not kept: it is raised again, worked out each time.
        return source.derive(("setting", name), lambda: _setting(name, source))
    return _setting(name, source)


def _setting(name: str, source: Mapping[str, Any]) -> str:
    from .specs import load_settings

    declared = load_settings()["env"]
    if name not in declared:
        raise KeyError(f"{name}: not declared in spec/settings.yaml")
    var = declared[name]
    value = resolve_var(var, source)
    problem = setting_problem(var, strip_space(value))
    if problem:
        raise ConfigError(problem)
    return value


def setting_problem(var: EnvVar, value: str) -> str | None:
    """What is wrong with a setting's value: its spec type (value_problem), or `seconds`, a decimal
    number above zero; None when it fits or is empty."""
    if var.type == "seconds" and value != "" and not (math.isfinite(seconds := decimal_setting(value)) and seconds > 0):
        return f"{var.name}: must be a number of seconds above 0"
    return value_problem(var, value)


def is_true(value: str) -> bool:
    return strip_space(value).lower() not in _FALSE_WORDS


def resolve_var(var: EnvVar, source: Mapping[str, Any]) -> str:
    value = as_text(source.get(var.name))
    return value if value != "" else var.default


def is_set(var: EnvVar, value: str) -> bool:
    return is_true(value) if var.type == "bool" else value != ""


def channel_env(spec: ChannelSpec, source: Mapping[str, Any]) -> dict[str, str]:
    # resolve_var for each variable, written out: every message reads every configured channel's settings.
    env = {}
    get = source.get
    for name, var in spec.env.items():
        value = get(name)
        if type(value) is not str:
            value = as_text(value)
        env[name] = value if value != "" else var.default
    return env


def is_configured(spec: ChannelSpec, env: Mapping[str, str]) -> bool:
    return any(is_set(spec.env[name], env[name]) for name in spec.active_when)


# The checks of the spec's env types; js/src/config.js words them identically. ASCII classes only, so
# both regex engines agree.
_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20]")
_INT = re.compile(r"-?[0-9]{1,18}")


def _int_rule(var: EnvVar) -> str:
    if var.min is not None and var.max is not None:
        return f"must be an integer from {var.min} to {var.max}"
    if var.min is not None:
        return f"must be an integer of at least {var.min}"
    if var.max is not None:
        return f"must be an integer of at most {var.max}"
    return "must be an integer"


def value_problem(var: EnvVar, value: str) -> str | None:
    """What is wrong with a set value of a typed variable, naming it and the rule ("NTFY_PRIORITY: must be
    one of 1, 2, 3 ..."), or None. An empty value is unset: missing_config says what is required."""
    if value == "":
        return None
    if var.type == "url" and not _URL.match(value):
        return f"{var.name}: must be an http(s) URL"
    if var.type == "int":
        number = int(value) if _INT.fullmatch(value) else None
        if number is None or (var.min is not None and number < var.min) or (var.max is not None and number > var.max):
            return f"{var.name}: {_int_rule(var)}"
    if var.type == "enum":
        allowed = [a.lower() for a in var.enum] if var.ignore_case else list(var.enum)
        if (value.lower() if var.ignore_case else value) not in allowed:
            return f"{var.name}: must be one of {', '.join(var.enum)}"
    return None


def invalid_config(spec: ChannelSpec, env: Mapping[str, str]) -> list[str]:
    """Every set variable of the channel whose value breaks its spec type, as value_problem words it."""
    problems = (value_problem(var, env.get(name, "")) for name, var in spec.env.items())
    return [problem for problem in problems if problem]


def request_variables(spec: ChannelSpec, env: Mapping[str, str]) -> list[str]:
    """The set variables the channel's requests are built from (a hook may read any of them): what a
    request that cannot even be sent (a malformed URL, a control character in a header) is blamed on."""
    import json

    templates = json.dumps([spec.request, spec.token, spec.edit], ensure_ascii=False)
    used = set(re.findall(r"env\.([A-Z][A-Z0-9_]*)", templates))
    return [name for name, var in spec.env.items()  # a default is not the user's doing
            if env.get(name, "") not in ("", var.default) and var.type != "bool" and (spec.hook or name in used)]


def missing_config(spec: ChannelSpec, env: Mapping[str, str]) -> list[str]:
    """What a configured channel still lacks, as readable phrases (empty when complete)."""
    missing = [name for name, var in spec.env.items() if var.required and not is_set(var, env[name])]
    for group in spec.require_one_of:
        if not any(is_set(spec.env[name], env[name]) for name in group):
            missing.append(" or ".join(group))
    return missing


def channel_prefix(spec: ChannelSpec) -> str:
    """The start its variables share, at an underscore (NTFY_, GOOGLE_CHAT_, DD_BOT_); a channel with
    one variable, its first word (SLACK_); "" when they share none (Feishu's FSKEY, FSSECRET)."""
    words = [name.split("_") for name in spec.env]
    if len(words) == 1:
        common = words[0][:1] if len(words[0]) > 1 else []
    else:
        common = []
        for parts in zip(*words, strict=False):  # stops at the shortest name
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
    return "_".join(common) + "_" if common else ""


def unknown_env(
    source: Mapping[str, Any], specs: Iterable[ChannelSpec], known: Iterable[str]
) -> list[tuple[str, str, str | None]]:
    """(channel, name, closest known name or None) for each variable in `source` that starts like a
    channel's variables (NTFY_TOPC) but is read by no channel or setting: most likely a typo."""
    import difflib

    names = sorted(set(known))
    prefixes = sorted(((channel_prefix(spec), spec.name) for spec in specs), key=lambda p: -len(p[0]))
    found = []
    for name in sorted(str(n) for n in source):
        if name in names or not as_text(source.get(name)):
            continue
        channel = next((channel for prefix, channel in prefixes if prefix and name.startswith(prefix)), None)
        if channel is not None:
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            found.append((channel, name, close[0] if close else None))
    return found
