"""One attempt: post the delivery signed, then judge the answer (delivered, try again when, or give up) and count it.

The outcome is recorded by the deliverer with the others that finished meanwhile (one transaction per round),
so the database cost of a delivery does not grow with the rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from services.dispatch.adapters.delivery_store import Claimed, Outcome
from services.dispatch.adapters.http_sender import Answer, WebhookSender
from services.dispatch.adapters.metrics import DispatchMetrics, attempt_result
from services.dispatch.domain.endpoint_health import EndpointHealth
from services.dispatch.domain.retry_policy import RetryPolicy, retry_after, verdict
from services.dispatch.domain.signing import signature_headers
from services.dispatch.domain.subscriptions import Endpoint

log = logging.getLogger(__name__)


async def attempt(
    delivery: Claimed,
    endpoint: Endpoint,
    sender: WebhookSender,
    *,
    health: EndpointHealth,
    retry: RetryPolicy,
    metrics: DispatchMetrics,
    clock: Callable[[], datetime],
    jitter: Callable[[], float],
) -> Outcome:
    started = clock()
    headers = signature_headers(endpoint.secret, delivery.webhook_id, int(started.timestamp()), delivery.body)
    began = time.perf_counter()
    answer = await sender.post(endpoint, headers, delivery.body)
    duration = time.perf_counter() - began
    now = clock()
    label = metrics.label(endpoint.name)
    metrics.attempts.labels(label, attempt_result(answer.status, answer.error, answer.refused)).inc()
    judged = "give_up" if answer.refused else verdict(answer.status)
    next_at: datetime | None = None
    if judged == "retry":
        wait = retry_after(answer.retry_after, now)
        next_at = retry.next_attempt(delivery.attempts + 1, now, delivery.expires_at, jitter(), wait)
    state = "delivered" if judged == "delivered" else ("pending" if next_at is not None else "failed")
    if state == "delivered":
        health.succeeded()
        metrics.latency.labels(label).observe(max((now - delivery.recorded_at).total_seconds(), 0.0))
    elif health.failed(now):
        log.warning("endpoint %s paused until %s after %d failures in a row", endpoint.name, health.paused_until,
                    health.failures)  # fmt: skip
    if state != "pending":
        metrics.deliveries.labels(label, "delivered" if state == "delivered" else "dead_lettered").inc()
    error = None if state == "delivered" else _error(answer)
    return Outcome(delivery, started, duration, answer.status, error, state, next_at)


def _error(answer: Answer) -> str:
    if answer.status is None:
        return answer.error or "no answer"
    text = f"HTTP {answer.status}"
    return f"{text}: {answer.excerpt[:300]}" if answer.excerpt else text
