"""API keys per source: created once (printed, never stored in clear), listed, revoked, resolved per request."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.loop_health import ThrottledLog
from services.ingest.adapters.tables import source_keys
from services.ingest.adapters.unreachable import database_unreachable

KEY_PREFIX = "stk_"
MAX_CACHED_KEYS = 10_000
log = logging.getLogger(__name__)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class SourceKey:
    id: int
    source: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyStoreUnavailable(Exception):
    """PostgreSQL could not be asked whether a key is live, and the key was not confirmed recently enough."""


@dataclass(frozen=True)
class _Answer:
    source: str | None  # None: unknown or revoked
    fresh_until: float  # monotonic: served without a query until then
    fallback_until: float  # monotonic: a live key is still served until then while PostgreSQL is out of reach


class SourceKeys:
    """Resolves keys with a short cache so a request costs no query; a revocation takes effect within
    `cache_ttl_seconds`. While PostgreSQL is out of reach, a key confirmed live within the last
    `fallback_seconds` is still served (so a database restart does not refuse known clients); any other key
    raises `KeyStoreUnavailable`. Either way a revoked key stops working within `fallback_seconds`."""

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
        self._cache: dict[str, _Answer] = {}
        self._failures = ThrottledLog(log, failure_log_interval_seconds)

    async def create(self, source: str) -> str:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self._engine.begin() as conn:
            await conn.execute(insert(source_keys).values(source=source, key_hash=hash_key(key), key_prefix=key[:12]))
        return key

    async def list(self) -> list[SourceKey]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(source_keys).order_by(source_keys.c.id))
            return [SourceKey(r.id, r.source, r.key_prefix, r.created_at, r.revoked_at) for r in rows.fetchall()]

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

    async def source_of(self, key: str) -> str | None:
        """The source a live key belongs to, or None for an unknown or revoked key; raises
        `KeyStoreUnavailable` when PostgreSQL is out of reach and the key was not confirmed live lately."""
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.fresh_until > now:
            return cached.source
        try:
            async with self._engine.connect() as conn:
                source = await conn.scalar(
                    select(source_keys.c.source).where(
                        source_keys.c.key_hash == digest, source_keys.c.revoked_at.is_(None)
                    )
                )
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._failures.failure("API keys cannot be looked up: PostgreSQL is out of reach", exc)
            if cached is not None and cached.source is not None and cached.fallback_until > now:
                return cached.source
            raise KeyStoreUnavailable(
                f"PostgreSQL is out of reach ({type(exc).__name__}), so the API key cannot be checked"
            ) from exc
        self._failures.recovered()
        if len(self._cache) >= MAX_CACHED_KEYS:
            self._cache.clear()
        self._cache[digest] = _Answer(source, now + self._ttl, now + self._fallback)
        return source
