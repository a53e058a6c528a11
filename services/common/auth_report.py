"""Failed and throttled authentications, logged once per interval with counts instead of a line per request.

    WARNING services.common.auth_report authentication: 37 failed, 950 refused 429 in the last 60 s;
    newly blocked: address 203.0.113.7, key stk_AbCdEfGh…

The first failure after a quiet interval is logged at once; later ones are summed until the interval ends
(the sum is logged with the next failure or refusal after it). Keys are named by their first characters only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
NAMED_AT_MOST = 5


class AuthReport:
    def __init__(self, interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_seconds
        self._clock = clock
        self._since = -float("inf")
        self._failed = 0
        self._throttled = 0
        self._blocked: list[str] = []
        self._more_blocked = 0

    def failed(self, address: str, key_prefix: str | None, blocked: list[str]) -> None:
        self._failed += 1
        for by in blocked:
            if len(self._blocked) < NAMED_AT_MOST:
                self._blocked.append(f"address {address}" if by == "address" else f"key {key_prefix}")
            else:
                self._more_blocked += 1
        self._maybe_log()

    def throttled(self) -> None:
        self._throttled += 1
        self._maybe_log()

    def _maybe_log(self) -> None:
        now = self._clock()
        if now - self._since < self._interval:
            return
        period = "" if self._since == -float("inf") else f" in the last {now - self._since:.0f} s"
        line = f"authentication: {self._failed} failed, {self._throttled} refused 429{period}"
        if self._blocked:
            more = f" and {self._more_blocked} more" if self._more_blocked else ""
            line += f"; newly blocked: {', '.join(self._blocked)}{more}"
        log.warning("%s", line)
        self._since = now
        self._failed = self._throttled = self._more_blocked = 0
        self._blocked = []
