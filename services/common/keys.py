"""The key store shared by every service: API keys with scopes, created once (printed, never stored in clear),
listed, revoked, and resolved per request through a cache that also remembers unknown keys."""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.api_keys import KEY_PREFIX, LEAD_ID_SECRET_PREFIX, SCOPES, ApiKey, KeyInfo, NewKey, hash_key
from services.common.key_tables import source_keys
from services.common.loop_health import ThrottledLog
from services.common.unreachable import database_unreachable

MAX_CACHED_KEYS = 10_000
MAX_UNKNOWN_KEYS = 10_000
# Keys are 256-bit random: an unknown key never becomes known, so remembering it for long is safe.
MIN_UNKNOWN_SECONDS = 300.0
log = logging.getLogger(__name__)
V = TypeVar("V")


class KeyStoreUnavailable(Exception):
    """PostgreSQL could not be asked whether a key is live, and the key was not confirmed recently enough."""


@dataclass(frozen=True)
class _Answer:
    key: ApiKey
    fresh_until: float  # monotonic: served without a query until then
    fallback_until: float  # monotonic: still served until then while PostgreSQL is out of reach


class KeyStore:
    """Resolves keys with a short cache so a request costs no query; a revocation takes effect within
    `cache_ttl_seconds`. Unknown keys are remembered too (bounded, oldest evicted), so a flood of wrong keys
    costs no query. While PostgreSQL is out of reach, a key confirmed live within the last `fallback_seconds` is
    still served (a database restart does not refuse known clients); any other key raises `KeyStoreUnavailable`."""

    def __init__(
        self,
        engine: AsyncEngine,
        cache_ttl_seconds: float = 5.0,
        fallback_seconds: float = 0.0,
        failure_log_interval_seconds: float = 60.0,
    ) -> None:
        self._engine = engine
        self._ttl = cache_ttl_seconds
        self._fallback = max(fallback_seconds, cache_ttl_seconds)
        self._unknown_ttl = max(cache_ttl_seconds, MIN_UNKNOWN_SECONDS)
        self._cache: OrderedDict[str, _Answer] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()  # digest -> monotonic time it is remembered until
        self._failures = ThrottledLog(log, failure_log_interval_seconds)
        self.lookups = 0  # queries made, so tests and metrics can see the caches work

    async def create(self, source: str, scopes: Sequence[str] = ("crm",), origins: Sequence[str] = ()) -> str:
        return (await self.create_key(source, scopes, origins)).key

    async def create_key(self, source: str, scopes: Sequence[str] = ("crm",), origins: Sequence[str] = ()) -> NewKey:
        """A new key (and, with the tracker scope, its lead-id verification secret), each shown only here."""
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            raise ValueError(f"unknown scope {unknown or '(none)'}: choose from {', '.join(SCOPES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        secret = LEAD_ID_SECRET_PREFIX + secrets.token_urlsafe(32) if "tracker" in scopes else None
        row = insert(source_keys).values(
            source=source,
            key_hash=hash_key(key),
            key_prefix=key[:12],
            scopes=sorted(set(scopes)),
            origins=list(origins),
            lead_id_secret=secret,
        )
        async with self._engine.begin() as conn:
            await conn.execute(row)
        return NewKey(key, secret)

    async def list(self) -> list[KeyInfo]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(source_keys).order_by(source_keys.c.id))
            return [
                KeyInfo(r.id, r.source, r.key_prefix, tuple(r.scopes), tuple(r.origins), r.created_at, r.revoked_at)
                for r in rows.fetchall()
            ]

    async def revoke(self, key_prefix_or_id: str) -> int:
        """Revokes the keys whose prefix (as listed) or id matches; returns how many."""
        match = source_keys.c.key_prefix == key_prefix_or_id
        if key_prefix_or_id.isdigit():
            match = match | (source_keys.c.id == int(key_prefix_or_id))
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(source_keys).where(match, source_keys.c.revoked_at.is_(None)).values(revoked_at=func.now())
            )
        self._cache.clear()
        return int(result.rowcount)

    async def authenticate(self, key: str) -> ApiKey | None:
        """The live key, or None for an unknown or revoked one; raises `KeyStoreUnavailable` when PostgreSQL is
        out of reach and the key was not confirmed live lately."""
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.fresh_until > now:
            return cached.key
        unknown_until = self._unknown.get(digest)
        if unknown_until is not None and unknown_until > now:
            return None
        try:
            self.lookups += 1
            async with self._engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(source_keys).where(source_keys.c.key_hash == digest, source_keys.c.revoked_at.is_(None))
                    )
                ).first()
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._failures.failure("API keys cannot be looked up: PostgreSQL is out of reach", exc)
            if cached is not None and cached.fallback_until > now:
                return cached.key
            raise KeyStoreUnavailable(
                f"PostgreSQL is out of reach ({type(exc).__name__}), so the API key cannot be checked"
            ) from exc
        self._failures.recovered()
        if row is None:
            self._cache.pop(digest, None)
            _remember(self._unknown, digest, now + self._unknown_ttl, MAX_UNKNOWN_KEYS)
            return None
        found = ApiKey(
            row.id, row.source, frozenset(row.scopes), tuple(row.origins), row.key_prefix, row.lead_id_secret
        )
        _remember(self._cache, digest, _Answer(found, now + self._ttl, now + self._fallback), MAX_CACHED_KEYS)
        return found


def _remember(cache: OrderedDict[str, V], digest: str, value: V, limit: int) -> None:
    """Stores `value` as the newest entry, evicting the oldest past `limit`."""
    cache[digest] = value
    cache.move_to_end(digest)
    while len(cache) > limit:
        cache.popitem(last=False)
