"""SMTP server and recipients: SMTP_SERVER (host:port) + SMTP_SSL, or a well-known SMTP_SERVICE."""

from __future__ import annotations

import re

from ..config import ConfigError, is_true, strip_space
from . import HookInput


def service_key(name: str) -> str:
    """Service names match loosely, as nodemailer's well-known list does: "QQ Mail" == "qqmail"."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _server(data: HookInput) -> tuple[str, int, bool]:
    server = strip_space(data.env.get("SMTP_SERVER", ""))
    if server:
        ssl = is_true(data.env.get("SMTP_SSL", ""))
        host, _, port = server.rpartition(":") if ":" in server else (server, "", "")
        if port and not (port.isascii() and port.isdigit()):
            raise ConfigError("SMTP_SERVER must be host or host:port")
        return host, int(port) if port else (465 if ssl else 25), ssl
    name = data.env.get("SMTP_SERVICE", "")
    services = {service_key(k): v for k, v in data.data.get("services", {}).items()}
    known = services.get(service_key(name))
    if known is None:
        raise ConfigError(
            f"SMTP_SERVICE '{name}' is not a known provider; set SMTP_SERVER=host:port instead"
        )
    return known["host"], int(known["port"]), bool(known["ssl"])


def recipients(data: HookInput) -> list[str]:
    listed = ";".join(filter(None, [data.env.get("SMTP_EMAIL_TO", ""), data.env.get("SMTP_TO", "")]))
    found = [strip_space(part) for part in re.split(r"[;；,]", listed) if strip_space(part)]
    return found or [data.env["SMTP_EMAIL"]]


def smtp_server(data: HookInput) -> dict:
    """`scheme` (smtps/smtp), `host`, `port`, `recipients`, `plaintext_auth`, from `SMTP_SERVER` or a known
    `SMTP_SERVICE`."""
    host, port, ssl = _server(data)
    return {
        "scheme": "smtps" if ssl else "smtp",
        "host": host,
        "port": port,
        "recipients": recipients(data),
        # Only an explicit opt-in lets a password travel unencrypted (stripped STARTTLS, plain relays).
        "plaintext_auth": not ssl and is_true(data.env.get("SMTP_ALLOW_PLAINTEXT", "")),
    }
