"""Sending the queued deliveries: claim the due heads, post each signed, record the attempt and what comes next.

At-least-once: an attempt is recorded after the receiver answered, so a dispatcher killed in between sends the
delivery again once its lease expires, with the same webhook-id (receivers dedupe on it). The intake and the
SLA watch wake the deliverer when they queue; otherwise it looks every `poll_seconds` (retries come due).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.common.loop_health import ThrottledLog
from services.dispatch.adapters import delivery_store
from services.dispatch.adapters.delivery_store import Claimed
from services.dispatch.adapters.http_sender import Answer, WebhookSender
from services.dispatch.adapters.metrics import DispatchMetrics, attempt_result
from services.dispatch.domain.endpoint_health import EndpointHealth, PausePolicy
from services.dispatch.domain.retry_policy import RetryPolicy, retry_after, verdict
from services.dispatch.domain.signing import signature_headers
from services.dispatch.domain.subscriptions import Subscriptions

log = logging.getLogger(__name__)


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
        self._in_flight: dict[asyncio.Task[None], str] = {}
        self._woken = asyncio.Event()
        self._failures = ThrottledLog(log)

    def wake(self) -> None:
        self._woken.set()

    async def run(self) -> None:
        try:
            await self._until_done(self._fail_unconfigured)
            while True:
                self._woken.clear()
                await self._until_done(self._claim_and_send)
                waiter = asyncio.ensure_future(self._woken.wait())
                try:
                    await asyncio.wait([waiter, *self._in_flight], timeout=self._poll, return_when="FIRST_COMPLETED")
                finally:
                    waiter.cancel()
        finally:
            tasks = list(self._in_flight)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._sender.close()

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

    async def _claim_and_send(self) -> None:
        now = self._clock()
        budgets: dict[str, int] = {}
        paused: list[str] = []
        for name, health in self._health.items():
            self._metrics.paused.labels(name).set(float(health.paused(now)))
            if health.paused(now):
                paused.append(name)
                continue
            busy = sum(1 for endpoint in self._in_flight.values() if endpoint == name)
            probing = health.failures >= self._pause.pause_after_failures  # after a pause: one at a time
            budgets[name] = (1 if probing else self._per_endpoint) - busy
        async with self._engine.connect() as sa_conn:
            conn = await raw_connection(sa_conn)
            if paused:
                for endpoint in await delivery_store.fail_expired(conn, paused):
                    self._metrics.deliveries.labels(self._metrics.label(endpoint), "dead_lettered").inc()
            claimed = await delivery_store.claim(conn, budgets, self._max_in_flight - len(self._in_flight), self._lease)
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery), name=f"deliver-{delivery.id}")
            self._in_flight[task] = delivery.endpoint
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a delivery failed unexpectedly; it is retried when its lease expires", exc_info=exc)

    async def _deliver(self, delivery: Claimed) -> None:
        endpoint = self._subscriptions.endpoints[delivery.endpoint]
        started = self._clock()
        headers = signature_headers(endpoint.secret, delivery.webhook_id, int(started.timestamp()), delivery.body)
        began = time.perf_counter()
        answer = await self._sender.post(endpoint, headers, delivery.body)
        duration = time.perf_counter() - began
        now = self._clock()
        label = self._metrics.label(endpoint.name)
        self._metrics.attempts.labels(label, attempt_result(answer.status, answer.error, answer.refused)).inc()
        outcome = "give_up" if answer.refused else verdict(answer.status)
        next_at: datetime | None = None
        if outcome == "retry":
            wait = retry_after(answer.retry_after, now)
            next_at = self._retry.next_attempt(delivery.attempts + 1, now, delivery.expires_at, self._jitter(), wait)
        state = "delivered" if outcome == "delivered" else ("pending" if next_at is not None else "failed")
        health = self._health[endpoint.name]
        if state == "delivered":
            health.succeeded()
            self._metrics.latency.labels(label).observe(max((now - delivery.recorded_at).total_seconds(), 0.0))
        elif health.failed(now):
            log.warning(
                "endpoint %s paused for %s after %d failures in a row",
                endpoint.name,
                self._pause.pause_for,
                health.failures,
            )
        if state != "pending":
            self._metrics.deliveries.labels(label, "delivered" if state == "delivered" else "dead_lettered").inc()
        error = None if state == "delivered" else _error(answer)

        async def record() -> None:
            async with self._engine.connect() as sa_conn:
                conn = await raw_connection(sa_conn)
                await delivery_store.record_attempt(
                    conn,
                    delivery,
                    started_at=started,
                    duration_seconds=duration,
                    status=answer.status,
                    error=error,
                    state=state,
                    next_attempt_at=next_at,
                )

        await self._until_done(record)


def _error(answer: Answer) -> str:
    if answer.status is None:
        return answer.error or "no answer"
    text = f"HTTP {answer.status}"
    return f"{text}: {answer.excerpt[:300]}" if answer.excerpt else text
