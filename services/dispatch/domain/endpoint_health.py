"""An endpoint failing for long is paused, not hammered.

Every lead's head delivery retries on its own schedule, so an endpoint that is down would see a steady stream
of attempts from many leads. Once an endpoint has failed `pause_after_failures` times in a row over at least
`pause_after`, no attempt goes to it for `pause_for`; then one round of attempts probes it. A success anywhere
resumes it; a failed probe pauses it again. Deliveries keep their own retry schedule and horizon meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PausePolicy:
    pause_after_failures: int = 10
    pause_after: timedelta = timedelta(minutes=5)
    pause_for: timedelta = timedelta(minutes=5)


class EndpointHealth:
    def __init__(self, policy: PausePolicy) -> None:
        self._policy = policy
        self.failures = 0
        self.failing_since: datetime | None = None
        self.paused_until: datetime | None = None

    def succeeded(self) -> None:
        self.failures, self.failing_since, self.paused_until = 0, None, None

    def failed(self, now: datetime) -> bool:
        """Counts a failed attempt; True when it pauses the endpoint."""
        self.failures += 1
        self.failing_since = self.failing_since or now
        policy = self._policy
        if self.failures >= policy.pause_after_failures and now - self.failing_since >= policy.pause_after:
            if not self.paused(now):
                self.paused_until = now + policy.pause_for
                return True
        return False

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until
