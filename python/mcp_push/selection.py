"""Which channels a call goes to: every configured one, or those a `channels` argument names (channel
ids, any case; a text lists several, comma-separated), and the errors for names that are no configured
channel (spec/README.md, "Choosing channels"). js/src/selection.js is the same, word for word."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .config import EnvSnapshot, as_text, channel_env, is_configured, is_set, resolve_var, strip_space
from .specs import ChannelSpec, active_vars, channel_ids, load_channel


def _instances(source: Mapping[str, Any]) -> list[tuple[ChannelSpec, dict[str, str]]] | None:
    """With a config file (configfile.py): its named instances, in file order, each a copy of its
    channel's spec under the instance's name with the instance's own settings (`${NAME}` read from the
    source), then the env-configured channels not shadowed by an instance's name. None without one."""
    from .config_lookup import load_config

    config = load_config(source)
    if config is None:
        return None
    from dataclasses import replace

    from .configfile import expand
    found = []
    for name, instance in config.channels.items():
        base = load_channel(instance["type"])
        given = {var: expand(value, source) for var, value in (instance.get("env") or {}).items()}
        found.append((replace(base, name=name, instance_of=base.name), channel_env(base, given)))
    named = set(config.channels)
    return found + [(spec, env) for spec, env in _env_channels(source, None) if spec.name not in named]


def configured_channels(
    source: Mapping[str, Any], only: Iterable[str] | None = None
) -> list[tuple[ChannelSpec, dict[str, str]]]:
    """(spec, resolved env) for every channel whose env says it is in use, in spec order; with `only`,
    just those of these ids (any case). Only the channels whose active_when variables are set are built."""
    wanted = {name.lower() for name in only} if only is not None else None
    if isinstance(source, EnvSnapshot):  # an unchanging env: the answer is worked out once
        from .config_lookup import load_config

        key = ("configured_channels", None if wanted is None else frozenset(wanted), id(load_config(source)))
        return list(source.derive(key, lambda: configured_channels(dict(source), wanted)))
    if type(source) is dict:
        return _kept_channels(source, wanted)
    return _configured(source, wanted)


# A plain dict env is mostly the same one message after message (a script's env, the bench's): its answer
# is kept, by the env's items, the config file in use and the specs read, so any change is a new entry.
MAX_KEPT = 16
_kept_lock = threading.Lock()
_kept: dict[Any, tuple[Any, Any, tuple[tuple[ChannelSpec, dict[str, str]], ...]]] = {}


def _kept_channels(source: dict[str, Any], wanted: set[str] | None) -> list[tuple[ChannelSpec, dict[str, str]]]:
    from .config_lookup import load_config
    from .specs import spec_documents

    config, documents = load_config(source), spec_documents()
    try:
        key = (tuple(source.items()), None if wanted is None else frozenset(wanted))
        found = _kept.get(key)
    except TypeError:  # a value that cannot be hashed (kwargs may carry any Python value)
        return _configured(source, wanted)
    if found is not None and found[0] is config and found[1] is documents:
        return list(found[2])
    made = _configured(source, wanted)
    with _kept_lock:
        while len(_kept) >= MAX_KEPT:  # the oldest go first
            del _kept[next(iter(_kept))]
        _kept[key] = (config, documents, tuple(made))
    return made


def _configured(
    source: Mapping[str, Any], wanted: set[str] | None
) -> list[tuple[ChannelSpec, dict[str, str]]]:
    instances = _instances(source)
    if instances is not None:
        return [(spec, env) for spec, env in instances if wanted is None or spec.name in wanted]
    return _env_channels(source, wanted)


def _env_channels(
    source: Mapping[str, Any], wanted: set[str] | None
) -> list[tuple[ChannelSpec, dict[str, str]]]:
    found = []
    for name in channel_ids():
        if wanted is not None and name not in wanted:
            continue
        if not _turned_on(active_vars(name), source):
            continue
        spec = load_channel(name)
        env = channel_env(spec, source)
        if is_configured(spec, env):
            found.append((spec, env))
    return found


def _turned_on(variables: tuple[Any, ...], source: Mapping[str, Any]) -> bool:
    """Whether any of a channel's active_when variables is set (is_set of resolve_var), as a loop: every
    message asks it of every channel, and most are unset."""
    get = source.get
    for var in variables:
        value = get(var.name)
        if value is None or value == "":
            if var.default == "":
                continue
            value = var.default
        elif type(value) is not str:
            value = resolve_var(var, source)
        if is_set(var, value):
            return True
    return False


def channel_names(channels: str | Iterable[str] | None) -> list[str] | None:
    """The channel names a caller gave, each once, in order: a text is split on commas (the CLI's
    `--channel a,b`), blanks are dropped. None means every configured channel."""
    if channels is None:
        return None
    items = [channels] if isinstance(channels, str) else [as_text(item) for item in channels]
    return list(dict.fromkeys(part for item in items for part in map(strip_space, item.split(",")) if part))


NO_CHANNEL_NAMED = "channels names no channel; leave it out to send to every configured channel"


def _unconfigured(source: Mapping[str, Any], names: Iterable[str]) -> tuple[list[tuple[str, str]], str]:
    """(name, what is wrong) for each name that is no configured channel (matched ignoring case), and
    the list of the configured ones ("configured: dingtalk, ntfy", or "configured: none")."""
    configured = [spec.name for spec, _ in configured_channels(source)]
    known = channel_ids()
    wrong = [
        (name, f"channel '{name}' is not configured" if name.lower() in known else f"unknown channel '{name}'")
        for name in names if name.lower() not in configured
    ]
    return wrong, "configured: " + (", ".join(configured) if configured else "none")


def channel_problems(source: Mapping[str, Any], names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, error) for each name that is no configured channel, the error listing the configured ones:
    "unknown channel 'nope'; configured: dingtalk, ntfy"."""
    wrong, listed = _unconfigured(source, names)
    return [(name, f"{what}; {listed}") for name, what in wrong]


def channels_error(source: Mapping[str, Any], channels: str | Iterable[str] | None) -> str | None:
    """One line saying what is wrong with a `channels` argument, or None when every name is a configured
    channel (or none was given): for callers that refuse the call instead (the CLI, the MCP tools)."""
    names = channel_names(channels)
    if names is None:
        return None
    if not names:
        return NO_CHANNEL_NAMED
    wrong, listed = _unconfigured(source, names)
    return "; ".join(what for _, what in wrong) + "; " + listed if wrong else None


def find_target(source: Mapping[str, Any], name: str) -> tuple[ChannelSpec, dict[str, str]] | None:
    """The configured channel or instance of this name (a config file's instance, or a channel id), with
    its settings as they are now; None when there is none."""
    return next(((spec, env) for spec, env in configured_channels(source, [name]) if spec.name == name), None)


def target_env(spec: ChannelSpec, source: Mapping[str, Any]) -> dict[str, str]:
    """A channel's settings as they are now: an instance's from its config file entry, a channel's from
    the source."""
    if spec.instance_of is None:
        return channel_env(spec, source)
    found = find_target(source, spec.name)
    return found[1] if found is not None else {name: var.default for name, var in spec.env.items()}
