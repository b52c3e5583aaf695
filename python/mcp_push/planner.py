"""Turns a channel spec, its env and a message into the exact requests that would go on the wire."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigError, invalid_config, missing_config
from .hooks import HookInput, run_hook
from .overflow import fit
from .paths import resolve_path
from .redact import REGISTRY, Redactor, env_secrets, proxy_secrets, url_userinfo
from .specs import ChannelSpec, load_settings
from .templates import OMIT, render, render_tree
from .wire import append_query, encode_body, normalize_url


@dataclass
class PlannedRequest:
    """One request as it goes on the wire. `body` is text for HTTP; SMTP keeps its parts as a mapping."""

    channel: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    step: str = "send"
    proxy: str | None = None

    def __repr__(self) -> str:
        # URL, headers and body carry credentials; the raw form is for tests, through to_dict().
        return f"PlannedRequest({self.channel}, {self.step}, {self.method})"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "channel": self.channel,
            "step": self.step,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body,
        }
        if self.proxy:
            out["proxy"] = self.proxy
        return out


@dataclass
class ChannelPlan:
    """Everything needed to deliver one channel's message, or why it cannot be."""

    spec: ChannelSpec
    context: dict[str, Any] = field(repr=False)  # holds the env, secrets included (the first part's)
    redactor: Redactor = field(repr=False)
    token_request: PlannedRequest | None = None
    requests: list[PlannedRequest] = field(default_factory=list)
    error: str | None = None
    error_status: str = "config_error"  # or internal_error: a bug in a hook or spec, not the user's config
    attempts: int = 0  # requests made so far, counted as they happen (a hung channel still reports them)
    # One context per part of a message split to fit the channel's limit, in order.
    part_contexts: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # An edit of an earlier message (spec `edit`): its request template and success rules.
    request_template: dict[str, Any] | None = field(default=None, repr=False)
    success: dict[str, Any] | None = field(default=None, repr=False)
    # Bodies of the vendor's successful replies, in order (the first post's names the message to edit).
    reply_texts: list[str] = field(default_factory=list, repr=False)
    # The part (index into part_contexts) each of `requests` carries; parts_sent counts the parts whose
    # requests have started, as they happen. truncated: content was cut to fit (overflow.Fit).
    request_parts: list[int] = field(default_factory=list, repr=False)
    parts_sent: int = 0
    truncated: bool = False

    def __repr__(self) -> str:
        return f"ChannelPlan({self.spec.name}, {len(self.requests)} requests, error={self.error!r})"


def _render_map(node: Any, context: dict[str, Any]) -> dict[str, str]:
    if not node:
        return {}
    if "$ref" in node and len(node) == 1:
        value = resolve_path(context, node["$ref"]) or {}
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for key, child in node.items():
        value = render_tree(child, context)
        if value is not OMIT:
            out[key] = value if isinstance(value, str) else str(value)
    return out


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    lowered = name.lower()
    return any(k.lower() == lowered for k in headers)


def render_request(
    spec: ChannelSpec, request: dict[str, Any], context: dict[str, Any], step: str = "send"
) -> list[PlannedRequest]:
    """Renders one request template; `for_each` yields one request per item of a context list."""
    items: list[Any] = [None]
    if "for_each" in request:
        items = list(resolve_path(context, request["for_each"]))
    planned = []
    for item in items:
        ctx = context if item is None else {**context, "item": item}
        method = render(request["method"], ctx).upper()
        url = normalize_url(render(request["url"], ctx))
        url = append_query(url, _render_map(request.get("query"), ctx))
        headers = _render_map(request.get("headers"), ctx)
        body_tree = render_tree(request["body"], ctx) if "body" in request else None
        if body_tree is OMIT:
            body_tree = None
        if spec.transport == "http":
            encoding = render(request.get("encoding", "json" if body_tree is not None else "none"), ctx)
            body, content_type = encode_body(encoding, body_tree)
            if content_type and not _has_header(headers, "Content-Type"):
                headers["Content-Type"] = content_type
        else:
            body = body_tree
        proxy = render(request["proxy"], ctx) if request.get("proxy") else ""
        planned.append(PlannedRequest(spec.name, method, url, headers, body, step, proxy or None))
    return planned


def build_context(
    spec: ChannelSpec,
    env: dict[str, str],
    title: str,
    content: str,
    params: Mapping[str, Any],
    now: float,
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The template context, and the secrets the hook derived, to be redacted like the env secrets:
    `secrets` (derived from the settings alone, the same for every message) and `message_secrets`
    (this message's own, such as a signature over its timestamp)."""
    hook_values: dict[str, Any] = {}
    derived: list[str] = []
    per_message: list[str] = []
    if spec.hook:
        hook_input = HookInput(env, title, content, now, dict(params), spec.data)
        hook_values = dict(run_hook(spec.hook, hook_input, spec.hook_params))
        derived = [str(s) for s in hook_values.pop("secrets", [])]
        per_message = [str(s) for s in hook_values.pop("message_secrets", [])]
    context = {
        "title": title,
        "content": content,
        "env": env,
        "params": dict(params),
        "hook": hook_values,
        "token": load_settings()["token_placeholder"],
    }
    return context, derived, per_message


def plan_channel(
    spec: ChannelSpec,
    env: dict[str, str],
    title: str,
    content: str,
    params: Mapping[str, Any],
    now: float,
    overflow: str = "split",
    edit_ref: Any = None,
) -> ChannelPlan:
    """The requests for one channel; a message over the spec's size limit becomes several parts
    (or one truncated part), each planned alike, in order. With `edit_ref` (and a spec `edit` block)
    the message edits the one that ref names instead, cut to one part."""
    # Settings' secrets are long-lived: the process registry (the logging filter) holds them too.
    # HTTPS_PROXY's credentials too: the HTTP client reads it, and an error may quote the proxy URL.
    secrets = env_secrets(spec.env, env) + proxy_secrets()
    REGISTRY.add(secrets)
    redactor = Redactor(secrets)
    plan = ChannelPlan(spec=spec, context={}, redactor=redactor)
    editing = edit_ref is not None and spec.edit is not None
    if editing:
        plan.request_template, plan.success = spec.edit["request"], spec.edit.get("success")
        overflow = "truncate"
    missing = missing_config(spec, env)
    if missing:
        plan.error = f"{spec.name} is missing {', '.join(missing)}"
        return plan
    invalid = invalid_config(spec, env)
    if invalid:  # a value the spec's type refuses: named here, not as the library error it would become
        plan.error = "; ".join(invalid)  # names and rules only, never a value
        return plan
    try:
        fitted = fit(title, content, spec.limits.get("message"), overflow)
        plan.truncated = fitted.truncated
        for index, (part_title, part_content) in enumerate(fitted.parts):
            context, derived, per_message = build_context(spec, env, part_title, part_content, params, now)
            if editing:
                context["ref"] = edit_ref
            REGISTRY.add(derived)
            # A message's own secrets stay in its redactor: the registry must not grow with every message.
            redactor.add(derived + per_message)
            plan.part_contexts.append(context)
            requests = render_request(spec, plan.request_template or spec.request, context)
            plan.requests.extend(requests)
            plan.request_parts.extend([index] * len(requests))
        # A login the templates compose into a URL (SMTP's user:password@, a proxy's) travels as Basic
        # auth or SMTP AUTH PLAIN too: those compositions are secrets made here.
        composed = [part for r in plan.requests for url in (r.url, r.proxy or "") for part in url_userinfo(url)]
        REGISTRY.add(composed)
        redactor.add(composed)
        plan.context = plan.part_contexts[0]
        if spec.token:
            plan.token_request = render_request(spec, spec.token["request"], plan.context, step="token")[0]
    except ConfigError as exc:
        plan.error = redactor.text(str(exc))
    except Exception as exc:  # a broken hook or template fails this channel only
        plan.error = redactor.text(f"{type(exc).__name__}: {exc}")
        plan.error_status = "internal_error"
    return plan
