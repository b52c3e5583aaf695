"""SMTP transport: implicit TLS (smtps://) or STARTTLS whenever the server offers it (smtp://).

The message is plain text with an HTML alternative. Login happens only after TLS when TLS is available.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from ..planner import PlannedRequest
from ..wire import seconds_text
from . import Reply, TransportError


def build_message(body: dict) -> EmailMessage:
    msg = EmailMessage()
    sender = body["from"]
    msg["From"] = Address(display_name=sender.get("name") or "", addr_spec=sender["address"])
    msg["To"] = ", ".join(body["to"])
    msg["Subject"] = body["subject"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender["address"].rpartition("@")[2] or None)
    msg.set_content(body["text"], charset="utf-8")
    msg.add_alternative(body["html"], subtype="html", charset="utf-8")
    return msg


def login(client: smtplib.SMTP, user: str, password: str, encrypted: bool, plaintext_allowed: bool) -> None:
    """smtplib encodes AUTH as ASCII; non-ASCII credentials go as UTF-8 AUTH PLAIN (RFC 4616) instead."""
    if not encrypted and not plaintext_allowed:
        # A server (or someone in between stripping STARTTLS) offered no TLS: keep the password.
        raise TransportError(
            "config_error",
            "the SMTP server offers no TLS; refusing to send the password unencrypted "
            "(use SMTP_SSL=true, or SMTP_ALLOW_PLAINTEXT=true for a trusted relay)",
        )
    if not client.has_extn("auth"):
        raise TransportError(
            "config_error", "the SMTP server offers no AUTH on this connection; check SMTP_SERVER and SMTP_SSL"
        )
    if (user + password).isascii():
        client.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def send_smtp(request: PlannedRequest, timeout: float) -> Reply:
    url = urlsplit(request.url)
    user, password = unquote(url.username or ""), unquote(url.password or "")
    host, port = url.hostname or "", url.port or (465 if url.scheme == "smtps" else 25)
    message = build_message(request.body)
    context = ssl.create_default_context()
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            encrypted = url.scheme == "smtps"
            if not encrypted and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if user:
                login(client, user, password, encrypted, plaintext_allowed=url.query == "auth=plaintext")
            refused = client.send_message(
                message, from_addr=request.body["from"]["address"], to_addrs=request.body["to"]
            )
    except (
        smtplib.SMTPAuthenticationError,
        smtplib.SMTPRecipientsRefused,
        smtplib.SMTPSenderRefused,
        smtplib.SMTPDataError,
        smtplib.SMTPConnectError,  # a 421 greeting: the server is there and says "later"
    ) as exc:
        refused = getattr(exc, "recipients", None)
        # Every recipient refused: the first one's code tells a temporary 4xx (greylisting) from a 5xx.
        first = next(iter(refused.values()), None) if isinstance(refused, dict) else None
        code = first[0] if first else getattr(exc, "smtp_code", 550)
        detail = getattr(exc, "smtp_error", b"")
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(exc)
        return Reply(code if isinstance(code, int) else 550, detail)
    except TimeoutError as exc:
        raise TransportError("timeout", f"SMTP server gave no reply within {seconds_text(timeout)} s") from exc
    except smtplib.SMTPServerDisconnected as exc:
        # smtplib turns a reply read that timed out into "Connection unexpectedly closed: timed out",
        # keeping the TimeoutError only as the context: that is still a timeout, not a network error.
        if isinstance(exc.__context__, TimeoutError):
            raise TransportError("timeout", f"SMTP server gave no reply within {seconds_text(timeout)} s") from exc
        raise TransportError("network_error", f"SMTP connection failed: {exc or 'no reason given'}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        unreached = isinstance(exc, (ConnectionRefusedError, ConnectionResetError))
        raise TransportError("network_error", f"SMTP connection failed: {exc or 'no reason given'}", unreached) from exc
    if refused:
        return Reply(550, "refused recipients: " + ", ".join(sorted(refused)))
    return Reply(250, "")
