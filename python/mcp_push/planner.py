"""Turns a channel spec, its env and a message into the exact requests that would go on the wire."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .cards import body_size, card_context, card_limit, fit_card, take_card
from .channel_setup import MAX_HEADS, ChannelSetup, channel_setup
from .config import ConfigError
from .hooks import HookInput, run_hook
from .overflow import fit
from .paths import resolve_path
from .redact import REGISTRY, Redactor, url_userinfo
from .request_heads import RequestHead, template_settings_only
from .specs import ChannelSpec, load_settings
from .templates import OMIT, render, render_tree
from .transports import Transport, transport_for
from .wire import append_query, encode_body, normalize_url, pct, to_json

# Where `{{ token }}` renders in a request whose credential is fetched at send time: a per-process nonce
# of letters, digits and underscores, which no wire encoding changes and no message text can foresee.
TOKEN_MARK = f"__TOKEN_{os.urandom(16).hex()}__"  # os.urandom as uuid4 draws it, without uuid's import


@dataclass(frozen=True)
class TokenSlots:
    """Where the planner left TOKEN_MARK in a request, so send time puts the token there as the wire
    encodes that place: URL characters before `url_split` are the template's (normalize_url), the rest
    the appended query (pct); `body` is the body's encoding (json, form, text, none) or `tree` (a body
    the transport encodes itself: SMTP's mapping)."""

    url_split: int
    body: str


@dataclass(frozen=True)
class PlannedRequest:
    """One request as it goes on the wire. `body` is text for HTTP; SMTP keeps its parts as a mapping.
    `token_slots`: set when a fetched token goes into it (with_token)."""

    channel: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    step: str = "send"
    proxy: str | None = None
    token_slots: TokenSlots | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        # URL, headers and body carry credentials; the raw form is for tests, through to_dict().
        return f"PlannedRequest({self.channel}, {self.step}, {self.method})"

    def to_dict(self) -> dict[str, Any]:
        """The request as a plan shows it: a fetched token as settings.yaml's token_placeholder."""
        shown = with_token(self, load_settings()["token_placeholder"]) if self.token_slots else self
        out = {
            "channel": shown.channel,
            "step": shown.step,
            "method": shown.method,
            "url": shown.url,
            "headers": dict(shown.headers),
            "body": shown.body,
        }
        if shown.proxy:
            out["proxy"] = shown.proxy
        return out


def _fill_tree(node: Any, text: str) -> Any:
    if isinstance(node, str):
        return node.replace(TOKEN_MARK, text)
    if isinstance(node, dict):
        return {key: _fill_tree(value, text) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_tree(value, text) for value in node]
    return node


# How each body encoding writes the token; a multipart body never holds the mark (the planner refuses it).
_BODY_FORMS = {"json": lambda token: to_json(token)[1:-1], "form": pct, "text": str, "tree": str, "multipart": str}


def with_token(request: PlannedRequest, token: str) -> PlannedRequest:
    """The planned request with `token` where the planner left its mark, encoded as each place is: the
    same bytes as rendering the request with the token in the first place."""
    slots = request.token_slots
    if slots is None:
        return request
    head, tail = request.url[: slots.url_split], request.url[slots.url_split:]
    body = request.body
    if body is not None:
        body = _fill_tree(body, _BODY_FORMS[slots.body](token))
    return replace(
        request,
        url=head.replace(TOKEN_MARK, normalize_url(token)) + tail.replace(TOKEN_MARK, pct(token)),
        headers={name: value.replace(TOKEN_MARK, token) for name, value in request.headers.items()},
        body=body,
        proxy=request.proxy.replace(TOKEN_MARK, token) if request.proxy else request.proxy,
        token_slots=None,
    )


@dataclass(frozen=True)
class ChannelPlan:
    """Everything needed to send one channel's message, or why it cannot be; never changed once made
    (deliver.send_plan reports what happened in an Outcome)."""

    spec: ChannelSpec
    transport: Transport = field(repr=False)
    redactor: Redactor = field(repr=False)
    env: Mapping[str, str] = field(repr=False)  # the channel's settings, secrets included
    requests: tuple[PlannedRequest, ...] = ()
    # The part (0-based, of `parts`) each of `requests` carries; truncated: content was cut to fit (overflow.Fit).
    request_parts: tuple[int, ...] = ()
    parts: int = 0
    truncated: bool = False
    token_request: PlannedRequest | None = None
    token_key: str | None = field(default=None, repr=False)  # the spec's token.cache_key, rendered
    edits: bool = False  # the requests edit an earlier message (spec `edit`)
    success: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the rules the requests' replies meet
    error: str | None = None
    error_status: str = "config_error"  # or internal_error: a bug in a hook or spec, not the user's config

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
    spec: ChannelSpec, request: dict[str, Any], context: dict[str, Any], step: str = "send",
    setup: ChannelSetup | None = None,
) -> list[PlannedRequest]:
    """Renders one request template; `for_each` yields one request per item of a context list. With
    `setup` (whose settings are the context's `env`), a head that reads only the settings is rendered
    once per setup (request_heads.py)."""
    transport = transport_for(spec.transport)
    items: list[Any] = [None]
    if "for_each" in request:
        items = list(resolve_path(context, request["for_each"]))
    head = _settings_head(request, context, setup) if setup is not None else None
    planned = []
    for item in items:
        ctx = context if item is None else {**context, "item": item}
        if head is None:
            method = render(request["method"], ctx).upper()
            base = normalize_url(render(request["url"], ctx))
            url = append_query(base, _render_map(request.get("query"), ctx))
            headers = _render_map(request.get("headers"), ctx)
        else:
            method, base, url, headers = head.method, head.base, head.url, dict(head.headers)
        body_tree = render_tree(request["body"], ctx) if "body" in request else None
        if body_tree is OMIT:
            body_tree = None
        encoding = "tree"
        if transport.encodes_body:
            encoding = render(request.get("encoding", "json" if body_tree is not None else "none"), ctx)
            body, content_type = encode_body(encoding, body_tree)
            if content_type and not _has_header(headers, "Content-Type"):
                headers["Content-Type"] = content_type
        else:
            body = body_tree
        if head is None:
            proxy = render(request["proxy"], ctx) if request.get("proxy") else ""
        else:
            proxy = head.proxy
        slots = _token_slots(len(base), encoding, body) if ctx.get("token") == TOKEN_MARK else None
        planned.append(PlannedRequest(spec.name, method, url, headers, body, step, proxy or None, slots))
    return planned


def _settings_head(request: dict[str, Any], context: dict[str, Any], setup: ChannelSetup) -> RequestHead | None:
    """The setup's head for this template, rendered now if it has none yet; None when the template's
    head reads more than the settings (or fails: rendered per message then, to fail as it always has)."""
    token = context.get("token")
    found = setup.heads.get(id(request))
    if found is not None and found[0] is request:
        head = found[1]
        return head if head is not None and head.token == token else None
    head = None
    if template_settings_only(request):
        try:
            base = normalize_url(render(request["url"], context))
            head = RequestHead(
                request, token, render(request["method"], context).upper(), base,
                append_query(base, _render_map(request.get("query"), context)),
                _render_map(request.get("headers"), context),
                render(request["proxy"], context) if request.get("proxy") else "",
            )
        except Exception:  # noqa: BLE001 - the per-message path renders it again and raises as it always has
            return None
    if len(setup.heads) < MAX_HEADS:
        setup.heads[id(request)] = (request, head)
        if head is not None:
            setup.remember([head.method, head.url, head.proxy, *head.headers.values()])
    return head


def _token_slots(url_split: int, encoding: str, body: Any) -> TokenSlots:
    if encoding == "multipart" and TOKEN_MARK in body:
        # Its boundary is derived from the content: a token put in later would not match it.
        raise ValueError("a fetched token cannot go into a multipart body")
    return TokenSlots(url_split, encoding)


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
        # A fetched credential is put in at send time where this mark renders (with_token).
        "token": TOKEN_MARK if spec.token else load_settings()["token_placeholder"],
        # The dialect title and content are written in (format=markdown: the spec's `markdown`), and the
        # message as plain text, for a vendor that wants both (Matrix's body and formatted_body).
        "markup": "text",
        "text": {"title": title, "content": content},
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
    priority: str | None = None,
    markup: str = "text",
) -> ChannelPlan:
    """The requests for one channel; a message over the spec's size limit becomes several parts
    (or one truncated part), each planned alike, in order. With `edit_ref` (and a spec `edit` block)
    the message edits the one that ref names instead, cut to one part. `priority` (low, normal, high)
    changes what the spec's `priority` block says for that level (priority.py); an edit keeps its own.
    With `markup="markdown"` each part's content is converted to the spec's `markdown` dialect
    (markdown.py) after the cut, so a split never falls inside a tag the conversion wrote."""
    editing = edit_ref is not None and spec.edit is not None
    level = None if editing else priority
    # What the settings alone decide (the templates under the level, their secrets, whether they can
    # work) is worked out once per settings (channel_setup.py); the env is this plan's own copy.
    setup = channel_setup(spec, env, level)
    env, post, card_post = dict(setup.env), setup.post, setup.card_post
    # Settings' secrets are long-lived: the process registry (the logging filter) holds them too.
    setup.register()
    redactor = setup.redactor()
    success = (spec.edit.get("success") if editing else None) or spec.success
    base = {"spec": spec, "transport": setup.transport, "redactor": redactor, "env": env, "edits": editing,
            "success": success}
    if editing:
        overflow = "truncate"
    if setup.error is not None:
        return ChannelPlan(**base, error=setup.error)
    truncated = False
    card, params = take_card(params)
    carded = card is not None and spec.event is not None
    try:
        requests: list[PlannedRequest] = []
        request_parts: list[int] = []
        first: dict[str, Any] = {}

        def render_part(part_title: str, part_content: str, card_part: Mapping[str, Any] | None = None
                        ) -> tuple[list[PlannedRequest], dict[str, Any], list[str], list[str]]:
            shown_title, shown_content = part_title, part_content
            converting = markup == "markdown" and card_part is None  # a card escapes its own text
            if converting:
                from . import markdown

                shown_title = markdown.render_title(part_title, spec.markdown)
                shown_content = markdown.render(part_content, spec.markdown)
            context, derived, per_message = build_context(spec, env, shown_title, shown_content, params, now)
            if converting:
                context["markup"] = spec.markdown
                context["text"] = {"title": part_title, "content": markdown.render(part_content, "text")}
            if editing:
                context["ref"] = edit_ref
            if card_part is None:
                template = spec.edit["request"] if editing else post
            else:
                context.update(card_context(spec, card_part))
                template = spec.event["edit_request"] if editing else card_post
            return render_request(spec, template, context, setup=setup), context, derived, per_message

        if carded:
            # The card's text for a hook (a signature, Matrix's transaction id): its title and message.
            def rendered_card(one: Mapping[str, Any]):
                return render_part(one["title"], one["message"], one)

            limit = card_limit(spec)
            unit = limit["unit"] if limit else "bytes"
            template = spec.event["edit_request"] if editing else card_post

            def card_size(one: Mapping[str, Any]) -> int:
                # The card's body before its encoding: form fields percent-encoded say nothing of its size.
                context = build_context(spec, env, one["title"], one["message"], params, now)[0]
                context.update(card_context(spec, one), **({"ref": edit_ref} if editing else {}))
                body = render_tree(template["body"], context) if "body" in template else None
                return body_size(None if body is OMIT else body, unit)

            cards, truncated = fit_card(card, limit, overflow, card_size)
            parts = [rendered_card(one) for one in cards]
        else:
            fitted = fit(title, content, spec.limits.get("message"), overflow)
            truncated = fitted.truncated
            parts = [render_part(part_title, part_content) for part_title, part_content in fitted.parts]
        for index, (rendered, context, derived, per_message) in enumerate(parts):
            first = first or context
            if derived or per_message:
                REGISTRY.add(derived)
                # A message's own secrets stay in its redactor: the registry must not grow with every message.
                redactor.add(derived + per_message)
            requests.extend(rendered)
            request_parts.extend([index] * len(rendered))
        # A login the templates compose into a URL (SMTP's user:password@, a proxy's) travels as Basic
        # auth or SMTP AUTH PLAIN too: those compositions are secrets made here.
        composed = [part for r in requests for url in (r.url, r.proxy or "") for part in url_userinfo(url)]
        if composed:
            REGISTRY.add(composed)
            redactor.add(composed)
        token_request, token_key = None, None
        if spec.token:
            shown = {**first, "token": load_settings()["token_placeholder"]}
            token_request = render_request(spec, spec.token["request"], shown, step="token", setup=setup)[0]
            token_key = render(spec.token["cache_key"], first)
    except ConfigError as exc:
        return ChannelPlan(**base, truncated=truncated, error=redactor.text(str(exc)))
    except Exception as exc:  # a broken hook or template fails this channel only
        error = redactor.text(f"{type(exc).__name__}: {exc}")
        return ChannelPlan(**base, truncated=truncated, error=error, error_status="internal_error")
    return ChannelPlan(
        **base, requests=tuple(requests), request_parts=tuple(request_parts), parts=len(parts),
        truncated=truncated, token_request=token_request, token_key=token_key,
    )
