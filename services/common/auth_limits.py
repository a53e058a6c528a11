"""Failed authentications counted per client address and per presented API key; too many and the client waits.

The rule (settings in services/common/settings.py, docs/security.md "Limits"): `limit` failures within
`window_seconds` (counted from the first of them) block the address, or the key, for `block_seconds`. While
blocked, its requests are refused before they reach the service; those refusals do not extend the block.
A key is counted by a digest of the whole key and named by its first characters in logs: counting by
prefix would let anyone who read a web page's public tracker key lock that key out with made-up keys
sharing its prefix. Each table holds at most `capacity` entries, the least recently failing forgotten first.
Pure: the clock is injected, nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PREFIX_LENGTH = 12  # what `stagetrack keys list` shows of a key; enough to tell keys apart, useless to an attacker


@dataclass(slots=True)
class _Record:
    window_start: float
    failures: int
    blocked_until: float


class FailureTable:
    """Failures per name (an address, a key digest) within a window; a name reaching the limit is blocked."""

    def __init__(self, *, limit: int, window_seconds: float, block_seconds: float, capacity: int) -> None:
        self._limit = limit
        self._window = window_seconds
        self._block = block_seconds
        self._capacity = capacity
        self._records: OrderedDict[bytes | str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def blocked_for(self, name: bytes | str, now: float) -> float | None:
        """Seconds the name stays blocked, or None."""
        record = self._records.get(name)
        if record is None:
            return None
        if record.blocked_until > now:
            return record.blocked_until - now
        if now - record.window_start >= self._window:
            del self._records[name]  # neither blocked nor counting any more
        return None

    def failed(self, name: bytes | str, now: float) -> bool:
        """Counts a failure; True when it blocks the name."""
        record = self._records.get(name)
        if record is not None and record.blocked_until > now:
            return False  # answered while the block began: the block is not extended
        if record is None or now - record.window_start >= self._window:
            record = _Record(now, 0, 0.0)
            self._records[name] = record
        self._records.move_to_end(name)
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)
        record.failures += 1
        if record.failures < self._limit:
            return False
        record.blocked_until = now + self._block
        record.window_start, record.failures = now, 0
        return True


@dataclass(frozen=True)
class Block:
    by: str  # "address" or "key": bounded, a metric label
    retry_after_seconds: float


class AuthLimiter:
    """One table per client address, one per presented key."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        block_seconds: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        def table() -> FailureTable:
            return FailureTable(
                limit=limit, window_seconds=window_seconds, block_seconds=block_seconds, capacity=capacity
            )

        self.addresses = table()
        self.keys = table()
        self._clock = clock

    @property
    def idle(self) -> bool:
        """No failure is tracked: a request needs no check (the common case, kept cheap)."""
        return not self.addresses and not self.keys

    def block(self, address: str, key_digest: bytes | None) -> Block | None:
        now = self._clock()
        wait = self.addresses.blocked_for(address, now)
        if wait is not None:
            return Block("address", wait)
        if key_digest is not None and (wait := self.keys.blocked_for(key_digest, now)) is not None:
            return Block("key", wait)
        return None

    def failed(self, address: str, key_digest: bytes | None) -> list[str]:
        """Counts a failed authentication; returns what it newly blocked ("address", "key")."""
        now = self._clock()
        blocked = ["address"] if self.addresses.failed(address, now) else []
        if key_digest is not None and self.keys.failed(key_digest, now):
            blocked.append("key")
        return blocked


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The API key of `Authorization: Bearer KEY` or the user name of `Basic` (as Segment's SDKs send it)."""
    for name, value in headers:
        if name != b"authorization":
            continue
        scheme, _, credential = value.decode("latin-1").strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer":
            return credential or None
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(credential, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user or None
        return None
    return None


def key_digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


def key_prefix(key: str) -> str:
    """How logs name a key: its first characters (at most half of it), never the whole key."""
    return key[: min(PREFIX_LENGTH, len(key) // 2)] + "…"
