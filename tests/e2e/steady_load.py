"""A bounded, steady load on the ingest: one request of `per_request` events every `interval` seconds, each sent on
time whatever the answers before it, and retried (the same event ids, as the tracker does) after a non-2xx answer
or no answer, until acknowledged. Every attempt is recorded, for the figures of an outage."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

Batch = list[dict[str, Any]]


@dataclass(frozen=True)
class Attempt:
    batch: int
    sent: float  # time.monotonic()
    answered: float
    status: int  # 0: no answer (connection refused or reset, timeout)
    error: str = ""  # with status 0: the client's exception, by name

    @property
    def acknowledged(self) -> bool:
        return 200 <= self.status < 300


async def post_steadily(
    client: httpx.AsyncClient,
    batches: list[Batch],
    interval: float,
    retry_after: float = 1.0,
    give_up_after: float = 120.0,
    on_start: Callable[[float], None] = lambda started: None,
) -> list[Attempt]:
    attempts: list[Attempt] = []
    started = time.monotonic()
    on_start(started)

    async def deliver(index: int, events: Batch) -> None:
        while True:
            sent = time.monotonic()
            try:
                status = (await client.post("/v1/events", json={"events": events}, timeout=30)).status_code
                error = ""
            except httpx.HTTPError as exc:
                status, error = 0, type(exc).__name__
            attempts.append(Attempt(index, sent, time.monotonic(), status, error))
            if 200 <= status < 300 or time.monotonic() - started > give_up_after:
                return
            await asyncio.sleep(retry_after)

    tasks = []
    for index, events in enumerate(batches):
        await asyncio.sleep(max(0.0, started + index * interval - time.monotonic()))
        tasks.append(asyncio.create_task(deliver(index, events)))
    await asyncio.gather(*tasks)
    return attempts


@dataclass(frozen=True)
class Outage:
    """The ingest's answers around a fault at `fault` (monotonic seconds)."""

    attempts: int
    refused: int  # non-2xx answers (503 while Kafka did not acknowledge in time) and requests not answered
    statuses: dict[int, int]
    first_refused: float | None  # seconds after the fault the first refused request was sent (None: none)
    last_refused: float | None  # seconds after the fault the last refused request was answered
    slowest_ack: float  # the longest wait for a 2xx, seconds
    refused_per_second: dict[int, int]  # refused answers by the second after the fault they came in
    unanswered: dict[str, int]  # requests without an answer, by the client's exception

    @classmethod
    def of(cls, attempts: list[Attempt], fault: float) -> Outage:
        refused = [a for a in attempts if not a.acknowledged]
        statuses: dict[int, int] = {}
        for attempt in attempts:
            statuses[attempt.status] = statuses.get(attempt.status, 0) + 1
        return cls(
            attempts=len(attempts),
            refused=len(refused),
            statuses=dict(sorted(statuses.items())),
            first_refused=min((a.sent - fault for a in refused), default=None),
            last_refused=max((a.answered - fault for a in refused), default=None),
            slowest_ack=max((a.answered - a.sent for a in attempts if a.acknowledged), default=0.0),
            refused_per_second=dict(sorted(Counter(int(a.answered - fault) for a in refused).items())),
            unanswered=dict(Counter(a.error for a in attempts if a.status == 0)),
        )

    @property
    def window(self) -> float:
        """Seconds from the first refused request's sending to the last refused answer (0: none refused)."""
        if self.first_refused is None or self.last_refused is None:
            return 0.0
        return self.last_refused - self.first_refused
