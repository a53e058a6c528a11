"""Where a webhook may go. A webhook sender is a server-side request forgery vector: whoever writes the
subscriptions (or controls a destination's DNS) could make stagetrack post into the private network, the
cloud's metadata service (169.254.169.254) or the host itself. So:

- https only, outside development; no user name or password in the URL (they would be logged);
- a destination in a loopback, private, link-local or otherwise non-public range is refused, unless the
  allow-list (`STAGETRACK_DISPATCH_ALLOWED_DESTINATIONS`) names its host or a network holding its address.
  A literal address (or `localhost`) is refused when the file is loaded; a host name is checked again on every
  send against each address it resolves to, and the connection goes to the address that was checked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """Comma-separated host names, addresses and networks ("receiver.internal,10.1.0.0/16,127.0.0.1")."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in filter(None, (part.strip() for part in text.split(","))):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def names(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def holds(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_problem(address: Address, host: str, allowed: AllowList) -> str | None:
    """Why `address` (of `host`) may not be posted to, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return None
    if allowed.names(host) or allowed.holds(address):
        return None
    if address.is_loopback:
        kind = "a loopback"
    elif address.is_link_local:
        kind = "a link-local"
    elif address.is_private:
        kind = "a private"
    else:
        kind = "a non-public"
    return (
        f"{host} is {kind} address ({address}); destinations in private, loopback and link-local ranges are "
        "refused unless STAGETRACK_DISPATCH_ALLOWED_DESTINATIONS names the host or a network holding it"
    )


def url_problem(url: str, *, https_only: bool, allowed: AllowList) -> str | None:
    """Why `url` may not be a destination (checked when the subscriptions are loaded), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("https", "http"):
        return f"the scheme must be https, not {parts.scheme or 'missing'!r}"
    if https_only and parts.scheme != "https":
        return "only https destinations are allowed outside development (STAGETRACK_ENVIRONMENT)"
    if parts.username is not None or parts.password is not None:
        return "a user name or password in the URL is refused (it would show in logs): use the signing secret"
    host = parts.hostname
    if not host:
        return "the URL names no host"
    address = literal_address(host)
    if address is None and (host == "localhost" or host.endswith(".localhost")):
        address = ipaddress.ip_address("127.0.0.1")
    return None if address is None else address_problem(address, host, allowed)
