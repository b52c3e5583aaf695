"""What planning a channel works out from its spec, its settings and the message's priority level alone,
the same for every message: the settings and request templates under that level, the secrets of those
settings (and of the proxy variables) with the masking forms they make, and whether the settings can
work at all (missing or invalid ones). plan_channel asks for it once per message; it is kept per
(spec, settings, level, proxy variables), so a changed setting is a new entry, never a stale one."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import invalid_config, missing_config
from .priority import with_priority
from .redact import PROXY_VARS, REGISTRY, Redactor, _proxy_values, env_secrets, proxy_secrets
from .specs import ChannelSpec
from .transports import Transport, transport_for

# Entries kept: a process sees few distinct settings (a server's config, a script's env); a test
# suite planning thousands of envs must not grow it without end. The oldest entry goes first.
MAX_ENTRIES = 512
# Per entry: request heads and masked texts (a spec has a few request templates, each a few parts).
MAX_HEADS = 16
MAX_MASKED = 64


@dataclass(frozen=True)
class ChannelSetup:
    spec: ChannelSpec  # held, so the id in the key cannot be another spec's while the entry lives
    env: dict[str, str]  # the settings under the level: copy it before handing it out (settings_copy)
    post: Mapping[str, Any]  # the request template under the level
    card_post: Mapping[str, Any] | None  # the event card's request template under the level
    secrets: tuple[str, ...]  # the settings' and proxies' secrets, for the process registry
    masker: Redactor  # masks `secrets`; never given out, never added to (plans get copy())
    transport: Transport
    error: str | None  # what makes the settings unusable (missing, then invalid), or None
    # The heads of the request templates that read only the settings (request_heads.py), by the
    # template's id: (template, RequestHead or None when it reads more). Filled by the planner.
    heads: dict[int, tuple[Mapping[str, Any], Any]] = field(default_factory=dict)
    # Texts every message of this setup repeats (the channel's name, its steps, those heads' parts),
    # masked by `masker`: a plan's redactor reads them instead of scanning them again.
    masked: dict[str, str] = field(default_factory=dict)
    # The REGISTRY generation `secrets` were last given to (register()): once per registry, not per plan.
    registered: list[int] = field(default_factory=lambda: [-1])

    def redactor(self) -> Redactor:
        """A new redactor masking the settings' secrets, to which the message's own may be added."""
        return self.masker.copy(self.masked)

    def register(self) -> None:
        """Gives `secrets` to the process registry (the logging filter) unless it has them since its
        last clear()."""
        generation = REGISTRY.generation
        if self.registered[0] != generation:
            REGISTRY.add(self.secrets)
            self.registered[0] = generation

    def remember(self, texts: Iterable[str]) -> None:
        """Masks these settings-only texts once, for every later plan's redactor (bounded)."""
        masked = self.masked
        fresh = [text for text in texts if text not in masked][: max(MAX_MASKED - len(masked), 0)]
        masked.update({text: self.masker.text(text) for text in fresh})


_entries: dict[tuple[Any, ...], ChannelSetup] = {}
_lock = threading.Lock()


def channel_setup(spec: ChannelSpec, env: Mapping[str, str], level: str | None) -> ChannelSetup:
    # HTTPS_PROXY and its kin are read from the process environment (the HTTP client does): part of the key.
    key = (id(spec), tuple(env.items()), level, _proxy_key())
    found = _entries.get(key)
    if found is not None and found.spec is spec:
        return found
    made = _make(spec, env, level)
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            del _entries[next(iter(_entries))]
        _entries[key] = made
    return made


# The proxy variables as os.environ holds them (undecoded; CPython's private store on POSIX), else decoded.
_ENCODED = tuple(os.fsencode(name) for name in PROXY_VARS) if os.name == "posix" else ()


def _proxy_key() -> tuple[Any, ...]:
    data = getattr(os.environ, "_data", None)
    if _ENCODED and isinstance(data, dict):
        return tuple(map(data.get, _ENCODED))
    return tuple(_proxy_values(os.environ))


def _make(spec: ChannelSpec, given: Mapping[str, str], level: str | None) -> ChannelSetup:
    card_post = with_priority(spec, given, spec.event["request"], level)[1] if spec.event else None
    env, post = with_priority(spec, given, spec.request, level)
    # HTTPS_PROXY's credentials too: the HTTP client reads it, and an error may quote the proxy URL.
    secrets = tuple(env_secrets(spec.env, env) + proxy_secrets())
    missing = missing_config(spec, env)
    error = None
    if missing:
        error = f"{spec.name} is missing {', '.join(missing)}"
    else:
        invalid = invalid_config(spec, env)
        if invalid:  # a value the spec's type refuses: named here, not as the library error it would become
            error = "; ".join(invalid)  # names and rules only, never a value
    made = ChannelSetup(spec, env, post, card_post, secrets, Redactor(secrets), transport_for(spec.transport),
                        error)
    made.remember((spec.name, "send", "token"))
    return made


def clear() -> None:
    """Forgets every entry (tests that count what planning computes)."""
    with _lock:
        _entries.clear()
