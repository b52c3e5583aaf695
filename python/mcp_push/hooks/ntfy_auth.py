"""ntfy authorization: an access token (Bearer) wins over username and password (Basic); and the
message's action buttons: its own (`params.actions`, notify_ask's answer buttons), else `NTFY_ACTIONS`."""

from __future__ import annotations

import base64

from . import HookInput


def ntfy_auth(data: HookInput) -> dict:
    """`authorization`: Bearer `NTFY_TOKEN`, else Basic from `NTFY_USERNAME` and `NTFY_PASSWORD` (masked), else
    empty. `actions`: the message's `actions` param when it is a non-empty string, else `NTFY_ACTIONS`."""
    actions = data.params.get("actions")
    out: dict = {"actions": actions if isinstance(actions, str) and actions else data.env.get("NTFY_ACTIONS", "")}
    token = data.env.get("NTFY_TOKEN", "")
    if token:
        return {**out, "authorization": f"Bearer {token}"}
    user, password = data.env.get("NTFY_USERNAME", ""), data.env.get("NTFY_PASSWORD", "")
    if user and password:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {**out, "authorization": f"Basic {basic}", "secrets": [basic]}
    return {**out, "authorization": ""}
