"""API keys per source: created once (printed, never stored in clear), listed, revoked, resolved per request."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.adapters.tables import source_keys

KEY_PREFIX = "stk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class SourceKey:
    id: int
    source: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class SourceKeys:
    """Resolves keys with a short cache so a request costs no query; a revocation takes effect within `cache_ttl`."""

    def __init__(self, engine: AsyncEngine, cache_ttl_seconds: float = 5.0) -> None:
        self._engine = engine
        self._ttl = cache_ttl_seconds
        self._cache: dict[str, tuple[float, str | None]] = {}

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
        """The source a live key belongs to, or None for an unknown or revoked key."""
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._engine.connect() as conn:
            source = await conn.scalar(
                select(source_keys.c.source).where(source_keys.c.key_hash == digest, source_keys.c.revoked_at.is_(None))
            )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._ttl, source)
        return source
