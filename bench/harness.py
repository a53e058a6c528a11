"""What the benchmarks share: settings aimed at the local stack (a scratch schema and topics), the report."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

from services.common.settings import ServiceSettings


@dataclass(frozen=True)
class Result:
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def stack_settings(prefix: str) -> ServiceSettings:
    suffix = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return ServiceSettings(
        database_schema=suffix,
        events_topic=f"{suffix}.events",
        lead_events_topic=f"{suffix}.lead-events",
        dead_letter_topic=f"{suffix}.dead-letter",
    )


async def wait_ready(url: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready within {within} s")
            await _pause()


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.1)


def report(results: list[Result], subject: str, baselines: list[str]) -> None:
    width = max(len(r.name) for r in results)
    mine = next(r for r in results if r.name == subject)
    for r in results:
        print(f"  {r.name:<{width}}  {r.events:>9,} events  {r.seconds:8.2f} s  {r.rate:>10,.0f} events/s")
    for name in baselines:
        base = next(r for r in results if r.name == name)
        print(f"  ratio {subject} / {name}: {mine.rate / base.rate:.2f}")
