"""A database URL as it may be shown: the password (and a password= parameter) masked."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_PARAM = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def masked(url: str) -> str:
    """postgresql://user:***@host/db for postgresql://user:secret@host/db; never raises."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
        return _PARAM.sub(rf"\g<1>{MASK}", urlunsplit(parts._replace(netloc=netloc)))
    except ValueError:
        return f"<{MASK}>"


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error) with the URL and its password masked wherever they appear."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    text = text.replace(url, masked(url))
    if password:
        text = text.replace(password, MASK)
    return " ".join(_PARAM.sub(rf"\g<1>{MASK}", text).split())  # one line: drivers' errors span several
