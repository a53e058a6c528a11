"""Sending the queued deliveries: post each signed, record the attempts and what comes next.

At-least-once: an attempt is recorded after the receiver answered, so a dispatcher killed in between sends the
delivery again once its lease expires, with the same webhook-id (receivers dedupe on it). New moments are handed
over by the intake: it reserves room here (`reserve`), leases the deliveries it queued in its own transaction and,
once that committed, hands them over (`hand_over`), which sends them at once. Each round records the attempts
that finished since the last (one transaction), then claims what its budgets allow when something may have come
due that was not handed over: the intake or the SLA watch wake it when they queue more than they handed over;
otherwise it looks every `poll_seconds` (retries, expired leases, resends).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.common.loop_health import ThrottledLog
from services.dispatch.adapters import delivery_store
from services.dispatch.adapters.delivery_store import Claimed, Outcome
from services.dispatch.adapters.http_sender import WebhookSender
from services.dispatch.adapters.metrics import DispatchMetrics
from services.dispatch.app.attempts import attempt
from services.dispatch.domain.endpoint_health import EndpointHealth, PausePolicy
from services.dispatch.domain.retry_policy import RetryPolicy
from services.dispatch.domain.subscriptions import Subscriptions

log = logging.getLogger(__name__)
ROUND_GAP = 0.05  # seconds between rounds at the busiest: at most ~20 rounds (one connection each) a second; new
# moments do not wait for a round (the intake hands them over), retries, resends and records do


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Deliverer:
    def __init__(
        self,
        engine: AsyncEngine,
        subscriptions: Subscriptions,
        sender: WebhookSender,
        metrics: DispatchMetrics,
        *,
        retry: RetryPolicy,
        pause: PausePolicy,
        max_in_flight: int,
        per_endpoint: int,
        poll_seconds: float,
        lease: timedelta,
        clock: Callable[[], datetime] = _utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._engine = engine
        self._subscriptions = subscriptions
        self._sender = sender
        self._metrics = metrics
        self._retry = retry
        self._pause = pause
        self._max_in_flight = max_in_flight
        self._per_endpoint = per_endpoint
        self._poll = poll_seconds
        self._lease = lease
        self._clock = clock
        self._jitter = jitter
        self._health = {name: EndpointHealth(pause) for name in subscriptions.endpoints}
        self._in_flight: dict[asyncio.Task[Outcome], str] = {}
        self._reserved: Counter[str] = Counter()  # room the intake holds while its transaction runs
        self._finished: list[Outcome] = []  # attempts answered, to record in the next round
        self._backlog = True  # the last claim may have left due deliveries behind
        self._woken = asyncio.Event()  # something may have come due that nobody handed over
        self._answered = asyncio.Event()  # an attempt finished: something to record
        self._stopped = False
        self._failures = ThrottledLog(log)

    def wake(self) -> None:
        self._woken.set()

    def reserve(self, wanted: Mapping[str, int]) -> dict[str, int]:
        """Room for `wanted` deliveries per endpoint that the intake leases in its own transaction, as far as the
        budgets allow: held until `hand_over`, so the rounds' claims meanwhile leave it free. None while due
        deliveries wait for a claim (the last one was cut by a budget): those go first, oldest due first."""
        if self._backlog:
            return {}
        budgets = self._budgets(self._paused(self._clock()))
        room = self._free_room()
        reserved: dict[str, int] = {}
        for name, n in wanted.items():
            take = min(n, budgets.get(name, 0), room)
            if take > 0:
                reserved[name] = take
                room -= take
        self._reserved.update(reserved)
        return reserved

    def _free_room(self) -> int:
        """Sends that may start: the cap, less those in flight and the room reserved for the intake's leases."""
        return self._max_in_flight - len(self._in_flight) - sum(self._reserved.values())

    def hand_over(self, reserved: Mapping[str, int], leased: Sequence[Claimed]) -> None:
        """Frees the room `reserve` held and sends the deliveries leased in it (after their lease committed; none
        when the transaction failed)."""
        self._reserved.subtract(reserved)
        self._reserved = +self._reserved  # drops the zeros
        if self._stopped:
            return  # shutting down: the leases expire and the deliveries are sent again (same webhook-id)
        for delivery in sorted(leased, key=lambda c: c.id):
            self._start(delivery)

    async def run(self) -> None:
        try:
            await self._until_done(self._fail_unconfigured)
            next_poll = 0.0
            while True:
                loop = asyncio.get_running_loop()
                polling = loop.time() >= next_poll
                if polling:
                    next_poll = loop.time() + self._poll
                await self._until_done(functools.partial(self._round, polling))
                waiters = [asyncio.ensure_future(self._woken.wait()), asyncio.ensure_future(self._answered.wait())]
                try:  # sleeps until something to record, something queued, or the next poll (retries come due)
                    timeout = max(next_poll - loop.time(), 0.0)
                    await asyncio.wait(waiters, timeout=timeout, return_when="FIRST_COMPLETED")
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                await asyncio.sleep(ROUND_GAP)  # what finishes or is queued meanwhile shares the round's transaction
        finally:
            self._stopped = True
            tasks = list(self._in_flight)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._sender.close()
            if self._finished:  # best effort: what is not recorded is sent again after its lease
                await asyncio.shield(self._round(False, claim=False))

    async def _until_done(self, step: Callable[[], Awaitable[None]]) -> None:
        """Runs a database step, retrying (logged once per interval) while PostgreSQL is away."""
        delay = 0.5
        while True:
            try:
                await step()
                self._failures.recovered()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures.failure("the deliverer could not reach PostgreSQL; retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _fail_unconfigured(self) -> None:
        async with self._engine.connect() as sa_conn:
            conn = await raw_connection(sa_conn)
            failed = await delivery_store.fail_unconfigured(conn, list(self._subscriptions.endpoints))
        if failed:
            log.warning("%d pending deliveries were for endpoints not in the subscriptions file: dead-lettered", failed)

    def _paused(self, now: datetime) -> list[str]:
        return [name for name, health in self._health.items() if health.paused(now)]

    def _budgets(self, paused: list[str]) -> dict[str, int]:
        """How many more attempts each endpoint that is not paused may have in flight (reserved room counts)."""
        budgets: dict[str, int] = {}
        busy = Counter(self._in_flight.values()) + self._reserved
        for name, health in self._health.items():
            if name not in paused:
                probing = health.failures >= self._pause.pause_after_failures  # after a pause: one at a time
                budgets[name] = (1 if probing else self._per_endpoint) - busy[name]
        return budgets

    async def _round(self, polling: bool, *, claim: bool = True) -> None:
        """One connection: records the attempts answered since the last round (one transaction), then claims when
        something may have come due that nobody handed over: deliveries were queued beyond the intake's room, a
        finished one let its lead's next through, the last claim was cut by its budget, or the poll (retries,
        expired leases, resends)."""
        now = self._clock()
        paused = self._paused(now)
        for name in self._health:
            self._metrics.paused.labels(name).set(float(name in paused))
        woken = self._woken.is_set()
        self._woken.clear()
        self._answered.clear()
        outcomes = list(self._finished)
        try:
            async with self._engine.connect() as sa_conn:
                conn = await raw_connection(sa_conn)
                promoted = await delivery_store.record_attempts(conn, outcomes)
                del self._finished[: len(outcomes)]
                if polling and paused:
                    for endpoint in await delivery_store.fail_expired(conn, paused):
                        self._metrics.deliveries.labels(self._metrics.label(endpoint), "dead_lettered").inc()
                if claim and (woken or promoted or polling or self._backlog):
                    await self._claim_and_send(conn, paused)
        except BaseException:
            if woken:
                self._woken.set()  # the round is tried again: what woke it still counts
            raise

    async def _claim_and_send(self, conn: asyncpg.Connection, paused: list[str]) -> None:
        budgets = self._budgets(paused)
        room = min(self._free_room(), sum(max(n, 0) for n in budgets.values()))
        if room <= 0:
            self._backlog = True  # nothing could be claimed: look again once something finishes
            return
        claimed = await delivery_store.claim(conn, budgets, room, self._lease)
        self._backlog = len(claimed) >= room  # the budget cut the claim: more may be due
        for delivery in claimed:
            self._start(delivery)

    def _start(self, delivery: Claimed) -> None:
        task = asyncio.create_task(self._send(delivery), name=f"deliver-{delivery.id}")
        self._in_flight[task] = delivery.endpoint
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Outcome]) -> None:
        self._in_flight.pop(task, None)
        self._answered.set()  # a round records it, and claims into the room it freed when a claim was cut
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            log.error("a delivery failed unexpectedly; it is sent again when its lease expires", exc_info=exc)
            return
        self._finished.append(task.result())

    async def _send(self, delivery: Claimed) -> Outcome:
        return await attempt(
            delivery,
            self._subscriptions.endpoints[delivery.endpoint],
            self._sender,
            health=self._health[delivery.endpoint],
            retry=self._retry,
            metrics=self._metrics,
            clock=self._clock,
            jitter=self._jitter,
        )
