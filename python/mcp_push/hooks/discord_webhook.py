"""Discord's webhook URL cut in two, for editing a message it posted: the edit goes to
`<webhook>/messages/<id>` and keeps a `?thread_id=…` the URL carries after that path."""

from __future__ import annotations

from . import HookInput


def discord_webhook(data: HookInput) -> dict:
    """`base`: `DISCORD_WEBHOOK_URL` up to its query, without a trailing `/` (its token is masked as the URL's
    part); `query`: the `?…` part, or empty."""
    url = data.env.get("DISCORD_WEBHOOK_URL", "")
    cut = url.find("?")
    base, query = (url, "") if cut < 0 else (url[:cut], url[cut:])
    base = base.rstrip("/")
    return {"base": base, "query": query}
