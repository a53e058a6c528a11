"""A seeded workload of envelopes through THE MODEL, and a fingerprint of the store to compare runs.

Every record of one person is keyed by that person's first id, so each person's events share a partition:
the fault-free reference run is then well defined whatever order the partitions are interleaved in.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event

START = datetime(2026, 9, 1, tzinfo=UTC)
JOURNEY = ["lead_accepted", "meeting_scheduled", "meeting_held", "opportunity_won", "onboarding_completed"]


def person_events(rng: random.Random, n: int, run: str) -> Iterator[tuple[bytes, Event]]:
    anon, crm = f"{run}-a{n}", f"{run}-L{n}"
    at = START + timedelta(minutes=rng.randrange(60 * 24 * 30))
    seq = 0

    def make(type: str, *, anonymous: bool = False, **props: Any) -> tuple[bytes, Event]:
        nonlocal at, seq
        at += timedelta(minutes=rng.randrange(1, 600))
        seq += 1
        return anon.encode(), Event(
            event_id=f"{run}-{n}-{seq}",
            type=type,
            occurred_at=at,
            source="test",
            received_at=at,
            anonymous_id=anon if anonymous or rng.random() < 0.3 else None,
            lead_id=None if anonymous else crm,
            properties=props,
        )

    for _ in range(rng.randrange(0, 4)):
        path = rng.choice(["/", "/blog", "/pricing"])
        yield make("page_viewed", anonymous=True, path=path, url=f"https://example.test{path}?utm_source=s{n % 3}")
    if rng.random() < 0.2:  # a second cookie of the same person, merged later
        second = f"{run}-b{n}"
        yield (
            anon.encode(),
            Event(
                event_id=f"{run}-{n}-b",
                type="page_viewed",
                occurred_at=at,
                source="test",
                received_at=at,
                anonymous_id=second,
                properties={"path": "/docs"},
            ),
        )
        yield (
            anon.encode(),
            Event(
                event_id=f"{run}-{n}-link",
                type="identified",
                occurred_at=at,
                source="test",
                received_at=at,
                anonymous_id=second,
                lead_id=crm,
                properties={},
            ),
        )
    if rng.random() < 0.15:
        return
    intent = "high" if rng.random() < 0.2 else "normal"
    yield make("form_submitted", anonymous=True, form_id="demo", email=f"{n}@{run}.test", intent=intent)
    for step in JOURNEY[: rng.randrange(0, len(JOURNEY) + 1)]:
        props: dict[str, Any] = {"opportunity_id": f"o{n}", "amount": "1000000"} if step == "opportunity_won" else {}
        yield make(step, **props)
        if rng.random() < 0.05:
            yield make("opportunity_lost", opportunity_id=f"o{n}", reason="budget")
            break


def workload(run: str, persons: int, seed: int = 7) -> list[tuple[bytes, Event]]:
    rng = random.Random(seed)
    events = [e for n in range(persons) for e in person_events(rng, n, run)]
    duplicates = rng.sample(events, k=len(events) // 50)  # redelivered events: stored once
    return events + duplicates


async def fingerprint(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """Every domain event without its store position or write time, then every activity counter: equal lists =
    equal stores."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT lead_id, version, type, cause_event_id, cause_type, data::text FROM lead_events "
                "ORDER BY lead_id, version"
            )
        )
        activity = await conn.execute(
            text(
                "SELECT lead_id, kind, phase, key, campaign, views, first_seen, last_seen FROM lead_activity "
                "ORDER BY lead_id, kind, phase, key, campaign"
            )
        )
        return [tuple(r) for r in rows] + [tuple(r) for r in activity]


async def processed(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM processed_events")) or 0)


async def all_processed(engine: AsyncEngine, count: int) -> bool:
    return await processed(engine) == count
