"""Which web origins may use a key from a browser (docs/security.md, "Browsers: CORS by key").

A browser names the page's origin in the `Origin` header of every cross-site request (and of every POST). A
key lists the origins allowed to use it (`stagetrack keys create --origin URL`); a request from any other
origin is refused, whatever the key, so a secret key pasted into a page is of no use there. The ingest's own
pages (its /docs) are the one exception: a request from the origin the request is addressed to.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_SHOWN = 200  # characters of a refused origin repeated in the reason


def serialized_origin(value: str) -> str | None:
    """`scheme://host[:port]` as a browser serializes it (lower case, no default port, no path), or None for
    anything but an http(s) URL with a host (`null`, `file://`, garbage)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a port out of range or not a number, a broken IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


@lru_cache(maxsize=1024)
def allowed_origins(listed: tuple[str, ...]) -> frozenset[str]:
    """A key's origins as the `Origin` header writes them (a listed `https://www.example.jp/` matches too)."""
    return frozenset(origin for value in listed if (origin := serialized_origin(value)) is not None)


def origin_refusal(listed: tuple[str, ...], origin: str, host: str | None) -> str | None:
    """Why a browser at `origin` may not use a key that lists `listed`, or None when it may. `host` is the
    request's Host header: a page served by the ingest itself (same host) may always call it."""
    serialized = serialized_origin(origin)
    if serialized is not None and serialized in allowed_origins(listed):
        return None
    if serialized is not None and host and serialized.partition("://")[2] == host.strip().lower():
        return None
    shown = origin if len(origin) <= _MAX_SHOWN else origin[:_MAX_SHOWN] + "…"
    if not listed:
        return (
            f"a browser at {shown} may not use this key: the key lists no web origins "
            "(a tracker key names them with `stagetrack keys create --origin URL`); nothing was stored"
        )
    return f"the origin {shown} is not among the web origins this key allows; nothing was stored"
