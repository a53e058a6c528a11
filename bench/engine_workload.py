"""Workloads for the engine benchmark: envelopes of people walking through THE MODEL, and a fast producer.

`journeys` is the realistic mix: anonymous page views, forms that identify (with a name and a phone; some high
intent, some from a second device, which merges two leads), CRM identify calls with traits, marketing touches,
the sales path (accepted, meeting, opportunity, won or lost), onboarding, renewals and upsells, feedback.
`sealed_at_the_door` turns them into what the ingest publishes: the email's keyed hash, the personal fields
sealed. `one_view_each` is the memory workload: one page view for each of N distinct anonymous visitors.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.ingest_workload import FixedKey
from services.common.envelope import Event, encode
from services.common.kafka import durable_producer
from services.common.kafka_security import PLAINTEXT, KafkaSecurity
from services.common.personal.sealing import new_data_key
from services.ingest.app.sealer import Sealer, personal_marks

START = datetime(2026, 9, 1, tzinfo=UTC)
TOUCHES: tuple[tuple[str, dict[str, str]], ...] = (
    ("email_clicked", {"campaign": "q4-newsletter"}),
    ("content_downloaded", {"content_id": "pipeline-guide", "campaign": "q4"}),
    ("webinar_attended", {"webinar_id": "w-2026-10", "campaign": "q4"}),
)
PATHS = ("/", "/blog/pipeline-velocity", "/blog/the-model", "/docs/start", "/customers", "/pricing", "/pricing/team")


class Journey:
    """One person's events, in the order they happen; time advances a little with each."""

    def __init__(self, run: str, person: int, rng: random.Random) -> None:
        self.rng = rng
        self.run = run
        self.person = person
        self.at = START + timedelta(minutes=rng.uniform(0, 60 * 24 * 30))
        self.events: list[Event] = []

    def add(self, type: str, *, anonymous_id: str | None = None, lead_id: str | None = None, **props: Any) -> None:
        self.at += timedelta(minutes=self.rng.uniform(5, 60 * 24 * 3))
        self.events.append(
            Event(
                event_id=f"{self.run}-{self.person}-{len(self.events)}",
                type=type,
                occurred_at=self.at,
                source="bench",
                received_at=self.at + timedelta(seconds=1),
                anonymous_id=anonymous_id,
                lead_id=lead_id,
                properties=props,
            )
        )

    def views(self, anonymous_id: str, low: int, high: int) -> None:
        for _ in range(self.rng.randint(low, high)):
            self.add("page_viewed", anonymous_id=anonymous_id, path=self.rng.choice(PATHS), campaign="q4")


def journey(run: str, person: int, rng: random.Random) -> list[Event]:
    j = Journey(run, person, rng)
    anon, crm, email = f"{run}-a{person}", f"{run}-L{person}", f"person{person}@{run}.example"
    name, phone = f"Hanako Yamada {person}", f"090-{person // 10000 % 10000:04d}-{person % 10000:04d}"
    j.views(anon, 2, 10)
    if rng.random() < 0.45:
        return j.events  # stays anonymous: a visitor
    intent = "high" if rng.random() < 0.2 else "normal"
    j.add("form_submitted", anonymous_id=anon, form_id="demo", email=email, intent=intent, name=name, phone=phone)
    if rng.random() < 0.08:  # a second device fills the form too: its visitor lead merges into this one
        second = f"{anon}-phone"
        j.views(second, 1, 3)
        j.add("form_submitted", anonymous_id=second, form_id="newsletter", email=email)
    if rng.random() < 0.8:
        traits = {"name": name, "phone": phone, "company": f"Example {person % 300} KK", "title": "Head of Sales"}
        j.add("identified", anonymous_id=anon, lead_id=crm, email=email, traits=traits)
    for _ in range(rng.randint(0, 4)):
        touch = rng.choice(TOUCHES)
        j.add(touch[0], lead_id=crm, **touch[1])
    if rng.random() < 0.5:
        _sales(j, crm, email)
    return j.events


def _sales(j: Journey, crm: str, email: str) -> None:
    rng = j.rng
    j.add("lead_accepted", lead_id=crm, owner="is-1")
    if rng.random() < 0.3:
        j.add("lead_disqualified", lead_id=crm, reason="no-budget")
        _recycle(j, crm, email)
        return
    j.add("meeting_scheduled", lead_id=crm, owner="is-1")
    j.add("call_logged", lead_id=crm, outcome="connected")
    if rng.random() < 0.25:
        rating = rng.randint(1, 5)
        j.add(
            "feedback_submitted",
            lead_id=crm,
            from_division="field_sales",
            to_division="inside_sales",
            about="meeting",
            rating=rating,
            met_expectations=rating >= 3,
        )
    j.add("meeting_held", lead_id=crm)
    j.add("opportunity_created", lead_id=crm, opportunity_id=f"{crm}-o1")
    if rng.random() < 0.4:
        j.add("opportunity_lost", lead_id=crm, opportunity_id=f"{crm}-o1", reason="budget")
        _recycle(j, crm, email)
        return
    amount = str(rng.randrange(100_000, 5_000_000, 10_000))
    j.add("opportunity_won", lead_id=crm, opportunity_id=f"{crm}-o1", amount=amount, currency="JPY")
    if rng.random() < 0.8:
        j.add("onboarding_completed", lead_id=crm)
        j.add("health_reported", lead_id=crm, score=rng.randint(1, 10))
        if rng.random() < 0.05:
            j.add("churned", lead_id=crm)
        if rng.random() < 0.3:
            j.add("renewal_won", lead_id=crm, amount=amount, currency="JPY")
        if rng.random() < 0.15:
            j.add("upsell_won", lead_id=crm, amount="300000", currency="JPY")


def _recycle(j: Journey, crm: str, email: str) -> None:
    """Lost or disqualified -> nurture; half come back with a high-intent form -> mql again."""
    j.views(f"{j.run}-a{j.person}", 0, 3)
    if j.rng.random() < 0.5:
        j.add("form_submitted", lead_id=crm, form_id="pricing", email=email, intent="high")


def journeys(run: str, people: int, seed: int = 7) -> list[Event]:
    """Every person's journey, interleaved in time order as the ingest would have received them."""
    rng = random.Random(seed)
    events = [e for person in range(people) for e in journey(run, person, rng)]
    events.sort(key=lambda e: e.occurred_at)
    return events


async def sealed_at_the_door(events: list[Event], hash_key: bytes) -> list[Event]:
    """The envelopes as the ingest publishes them: each email replaced by its keyed hash, the personal fields
    sealed by the ingest's own code (one data key for everyone: the engine never opens them)."""
    sealer = Sealer(FixedKey(new_data_key()), hash_key, personal_marks([], None))  # type: ignore[arg-type]
    return await sealer.seal(events)


def one_view_each(run: str, leads: int) -> Iterator[Event]:
    at = START
    for i in range(leads):
        yield Event(
            event_id=f"{run}-v{i}",
            type="page_viewed",
            occurred_at=at,
            source="bench",
            received_at=at,
            anonymous_id=f"{run}-a{i}",
            properties={"path": "/pricing", "campaign": "q4"},
        )


async def produce(
    bootstrap: str, topic: str, events: Iterator[Event] | list[Event], security: KafkaSecurity = PLAINTEXT
) -> dict[int, int]:
    """Sends the envelopes keyed like the ingest does (acks=all, idempotent), batched for speed; returns the
    end offset of each partition written."""
    producer = durable_producer(
        bootstrap, security=security, linger_ms=20, max_batch_size=512 * 1024, client_id="bench-engine"
    )
    await producer.start()
    ends: dict[int, int] = {}
    try:
        pending = []
        for event in events:
            pending.append(await producer.send(topic, encode(event), key=event.partition_key.encode()))
            if len(pending) >= 20_000:
                await _settle(pending, ends)
        await _settle(pending, ends)
    finally:
        await producer.stop()
    return ends


async def _settle(pending: list[Any], ends: dict[int, int]) -> None:
    """Waits for the records sent so far (a stuck broker fails the benchmark instead of hanging it)."""
    for meta in await asyncio.wait_for(asyncio.gather(*pending), timeout=120):
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    pending.clear()
