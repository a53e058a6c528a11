"""The webhook client's resolver: aiohttp's own resolver, then every address of the answer checked against the
destination rules (`destinations.address_problem`). aiohttp connects only to addresses its resolver returned,
so each new connection goes to an address that was checked: a DNS answer that changes between a check and a
connect (DNS rebinding) cannot steer a post into the private network. aiohttp keeps a resolver's answers for a
few seconds (its DNS cache); only checked answers get there, a refusal is raised again on every connection.

A literal address in a URL never reaches a resolver (aiohttp connects to it as it is): the sender checks it.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from services.dispatch.domain.destinations import AllowList, address_problem, literal_address


class DestinationRefused(OSError):
    """A destination the rules refuse: retrying cannot help. An OSError, as aiohttp expects of a resolver."""


class CheckedResolver(AbstractResolver):
    def __init__(self, allowed: AllowList) -> None:
        self._allowed = allowed
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The host's addresses; DestinationRefused, naming the refusal, when any of them is refused (not only
        filtered out: a host that is partly private is a misconfiguration or an attack, said once, loudly)."""
        results = await self._resolver.resolve(host, port, family)
        if not results:
            raise OSError(f"{host} resolved to no address")
        for result in results:
            problem = refusal(result["host"], host, self._allowed)
            if problem is not None:
                raise DestinationRefused(problem)
        return results

    async def close(self) -> None:
        await self._resolver.close()


def refusal(address_text: str, host: str, allowed: AllowList) -> str | None:
    """Why the address `address_text` (of `host`) may not be posted to, or None."""
    address = literal_address(address_text)
    if address is None:
        return f"destination refused: {host} resolved to {address_text!r}, which is not an address that can be checked"
    problem = address_problem(address, host, allowed)
    return None if problem is None else f"destination refused: {problem}"
