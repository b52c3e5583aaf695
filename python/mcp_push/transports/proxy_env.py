"""Which proxy the environment names for a URL: HTTP(S)_PROXY, ALL_PROXY and NO_PROXY, read by the rules
of requests' trust_env (requests.utils.get_environ_proxies and select_proxy), which the HTTP transport
kept when it moved from requests to urllib3. The variables are read by the standard library's
urllib.request (getproxies, proxy_bypass), as requests reads them; requests' own additions are kept:
NO_PROXY entries with a port or a CIDR range, a leading dot ignored, lower case variables first.

The answer is computed once per environment and host (requests scanned all of os.environ two or three
times per request: 0.2 ms with 60 variables, 0.9 ms with 360, as a QingLong container has).
tests/test_http_pool.py checks the answers against requests' own functions.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from urllib.parse import urlsplit

from ..envlayers import environ_get

# Where urllib.request.getproxies reads the environment only (not macOS's system settings, not Windows'
# registry): there, with no *_proxy variable set, it has no proxy for any URL, which is known without
# importing urllib.request (a millisecond or two of a one-shot script's start).
_ENVIRONMENT_ONLY = os.name == "posix" and sys.platform != "darwin"

# What the choice depends on besides the URL's scheme and host: the variables read (lower case first),
# REQUEST_METHOD (CGI: HTTP_PROXY is then ignored), and the environment's size (a proxy variable in
# another spelling, Https_Proxy, changes it when it comes or goes).
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                    "no_proxy", "NO_PROXY", "REQUEST_METHOD")
_ROUTES: dict[tuple, dict[str, str]] = {}


def env_proxies(url: str) -> dict[str, str]:
    """The proxies the environment names for `url`, keyed as requests keys them ("http", "https", "all", ...)."""
    parts = urlsplit(url)
    key = (len(os.environ), *map(environ_get, _PROXY_VARIABLES), parts.scheme, parts.netloc)
    found = _ROUTES.get(key)
    if found is None:
        if len(_ROUTES) >= 256:
            _ROUTES.clear()
        found = _ROUTES[key] = {} if not _may_have_proxies() or _bypassed(url) else _getproxies()
    return dict(found)


def _may_have_proxies() -> bool:
    """False when getproxies() is surely {}: it reads only the environment here and no variable named
    *_proxy (any case) has a value."""
    if not _ENVIRONMENT_ONLY:
        return True
    return any(value and name[-6:].lower() == "_proxy" for name, value in os.environ.items())


def _getproxies() -> dict[str, str]:
    from urllib.request import getproxies

    return getproxies()


def select_proxy(url: str, proxies: dict[str, str]) -> str | None:
    """The proxy of `proxies` for `url`: scheme://host, then scheme, then all://host, then all."""
    parts = urlsplit(url)
    if parts.hostname is None:
        return proxies.get(parts.scheme, proxies.get("all"))
    for key in (f"{parts.scheme}://{parts.hostname}", parts.scheme, f"all://{parts.hostname}", "all"):
        if key in proxies:
            return proxies[key]
    return None


def _no_proxy() -> str | None:
    return os.environ.get("no_proxy") or os.environ.get("NO_PROXY")


def _bypassed(url: str) -> bool:
    """requests.utils.should_bypass_proxies: NO_PROXY names the host (an IP, a CIDR range, a name or a
    domain suffix, with or without the port), or urllib.request.proxy_bypass says so."""
    parts = urlsplit(url)
    hostname = parts.hostname
    if hostname is None:
        return True
    no_proxy = _no_proxy()
    if no_proxy:
        entries = [entry for entry in no_proxy.replace(" ", "").split(",") if entry]
        if _is_ipv4(hostname):
            for entry in entries:
                if _is_cidr(entry):
                    if _in_network(hostname, entry):
                        return True
                elif hostname == entry:
                    return True
        else:
            with_port = f"{hostname}:{parts.port}" if parts.port else hostname
            for entry in entries:
                entry = entry.lstrip(".")
                if entry in (hostname, with_port):
                    return True
                if hostname.endswith("." + entry) or with_port.endswith("." + entry):
                    return True
    from urllib.request import proxy_bypass

    try:
        return bool(proxy_bypass(hostname))
    except (TypeError, socket.gaierror):
        return False


def _is_ipv4(text: str) -> bool:
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return True


def _in_network(address: str, network: str) -> bool:
    """requests' address_in_network, on inet_aton's reading of both (which takes 127.1 for 127.0.0.1)."""
    base, _, bits = network.partition("/")
    mask = (0xFFFFFFFF << (32 - int(bits))) & 0xFFFFFFFF
    (ip,) = struct.unpack("!L", socket.inet_aton(address))
    (net,) = struct.unpack("!L", socket.inet_aton(base))
    return ip & mask == net & mask


def _is_cidr(text: str) -> bool:
    """requests' is_valid_cidr: an IPv4 address, '/', a mask of 1 to 32 bits."""
    if text.count("/") != 1:
        return False
    address, _, bits = text.partition("/")
    try:
        mask = int(bits)
    except ValueError:
        return False
    return 1 <= mask <= 32 and _is_ipv4(address)
