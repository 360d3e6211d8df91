"""Where webhooks may go: a host and a port, never every port of a host.

An entry of the ``webhook_hosts`` setting is ``host:port`` (``[v6]:port`` for an
IPv6 address), or a host alone, which allows only the default port of the URL's
scheme: 443 for https, 80 for http. So allowing a receiver on ``127.0.0.1:8443``
does not let a party probe the server's other loopback ports.

>>> hosts = destinations("127.0.0.1:8443, Hooks.Example.org, [::1]:9000")
>>> hosts
('127.0.0.1:8443', 'hooks.example.org', '[::1]:9000')
>>> [allows(hosts, url) for url in ("http://127.0.0.1:8443/h", "http://127.0.0.1:8444/h")]
[True, False]
>>> [allows(hosts, f"https://hooks.example.org{port}/h") for port in ("", ":443", ":8443")]
[True, True, False]
>>> allows(hosts, "http://[::1]:9000/h"), allows(hosts, "http://[::1]/h")
(True, False)
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Sequence

__all__ = ["DEFAULT_PORTS", "allows", "destinations", "parse_destination"]

DEFAULT_PORTS = {"http": 80, "https": 443}

_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,251}[a-z0-9])?$")


def _port(text: str, entry: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65_536:
        raise ValueError(f"webhook_hosts entry {entry!r}: the port is not 1 to 65535")
    return int(text)


def parse_destination(entry: str) -> tuple[str, int | None]:
    """``(host, port)`` of a ``webhook_hosts`` entry; the port is None for the default.

    The host is lower-cased, and an IPv6 address is given without its brackets,
    as :func:`urllib.parse.urlsplit` gives a URL's ``hostname``. An IPv6 address
    must be bracketed (``[::1]``, ``[::1]:8443``) so that its port is not mistaken.
    """
    text = entry.strip().lower()
    if any(c in text for c in "/@?#"):
        raise ValueError(f"webhook_hosts entry {entry!r}: a host and a port, not a URL")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        try:
            address = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(
                f"webhook_hosts entry {entry!r}: brackets hold an IPv6 address"
            ) from None
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"webhook_hosts entry {entry!r}: write [address] or [address]:port")
        return address, _port(rest[1:], entry) if rest else None
    if text.count(":") > 1:
        raise ValueError(
            f"webhook_hosts entry {entry!r}: write an IPv6 address in brackets, "
            "as [::1] or [::1]:8443"
        )
    host, colon, port = text.partition(":")
    if not _NAME.match(host):
        raise ValueError(f"webhook_hosts entry {entry!r}: not a host name or address")
    return host, _port(port, entry) if colon else None


def _text(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def destinations(value: str | Iterable[object]) -> tuple[str, ...]:
    """The setting's entries, checked and written alike; from a comma-separated string or a list."""
    items = value.split(",") if isinstance(value, str) else list(value)
    entries = (str(item).strip() for item in items)
    return tuple(_text(*parse_destination(entry)) for entry in entries if entry)


def allows(hosts: Sequence[str], url: str) -> bool:
    """Whether a webhook URL's host and port (its scheme's default if none) are allowed."""
    parts = urllib.parse.urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    try:
        port = parts.port if parts.port is not None else default
    except ValueError:
        return False
    if parts.hostname is None or port is None:
        return False
    target = _address(parts.hostname)
    for entry in hosts:
        host, allowed = parse_destination(entry)
        if host == target and port == (default if allowed is None else allowed):
            return True
    return False


def _address(hostname: str) -> str:
    """An IPv6 address in its one short form, as entries are; anything else as it is."""
    if ":" not in hostname:
        return hostname
    try:
        return str(ipaddress.IPv6Address(hostname))
    except ValueError:
        return hostname
