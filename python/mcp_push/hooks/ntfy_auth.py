"""ntfy authorization: an access token (Bearer) wins over username and password (Basic)."""

from __future__ import annotations

import base64

from . import HookInput


def ntfy_auth(data: HookInput) -> dict:
    """`authorization`: Bearer `NTFY_TOKEN`, else Basic from `NTFY_USERNAME` and `NTFY_PASSWORD` (masked), else
    empty."""
    token = data.env.get("NTFY_TOKEN", "")
    if token:
        return {"authorization": f"Bearer {token}"}
    user, password = data.env.get("NTFY_USERNAME", ""), data.env.get("NTFY_PASSWORD", "")
    if user and password:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"authorization": f"Basic {basic}", "secrets": [basic]}
    return {"authorization": ""}
