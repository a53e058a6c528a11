"""When to try a delivery again, and when to stop.

Retried: a timeout, a connection error, 408, 429 and 5xx. Anything else that is not 2xx (a redirect, which is
never followed, or another 4xx) will not get better by itself: the delivery is dead-lettered at once with the
answer, and `stagetrack dispatch resend` sends it again once the receiver is fixed.

The n-th retry waits `first_delay * 2^(n-1)` capped at `max_delay`, times a random factor in [0.5, 1) (jitter:
a receiver back from an outage is not met by every delivery at the same instant), and never less than the
receiver's Retry-After. Retries stop at the horizon counted from when the moment was queued (or re-sent): the
last attempt is made at the horizon, and if it fails the delivery is dead-lettered with its last error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

Verdict = Literal["delivered", "retry", "give_up"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(hours=24)

    def next_attempt(
        self, attempts: int, now: datetime, expires_at: datetime, jitter: float, retry_after: timedelta | None
    ) -> datetime | None:
        """When to try again after `attempts` failed tries (jitter in [0, 1)); None: the horizon has passed."""
        if now >= expires_at:
            return None
        doubled = self.first_delay * (1 << min(max(attempts - 1, 0), 40))
        backoff = min(self.max_delay, doubled) * (0.5 + jitter / 2)
        wait = max(backoff, retry_after) if retry_after is not None else backoff
        return min(now + wait, expires_at)


def verdict(status: int | None) -> Verdict:
    """`status` None: no answer (timeout, connection error)."""
    if status is not None and 200 <= status <= 299:
        return "delivered"
    if status is None or status in (408, 429) or status >= 500:
        return "retry"
    return "give_up"


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header's wait: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return timedelta(seconds=min(int(text), 7 * 86400))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))
