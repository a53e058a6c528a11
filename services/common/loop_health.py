"""What a background loop (the engine's consumer, the KPI projector) tells readiness, Prometheus and the log.

Two ways a loop fails quietly, and one guard against each:
- **stalled**: work is waiting but the loop has not advanced for longer than `stall_after_seconds` (a lock held
  open, a batch retried forever). Progress is a committed batch, or a look that found nothing waiting.
- **braked**: the loop set aside (dead-lettered) `brake_run` events in a row. A bug that makes every event look
  bad must not quietly empty the stream into the dead-letter topic: the loop stops setting aside and waits,
  and says so, until an operator fixes the cause and restarts it.

Both show as `/readyz` 503 naming the loop (`readiness`), and as gauges:
    stagetrack_loop_stalled{loop="engine-consumer"} 0.0
    stagetrack_loop_braked{loop="engine-consumer"} 0.0
    stagetrack_loop_last_progress_timestamp_seconds{loop="engine-consumer"} 1.7651e+09
`loop` values are the services' own loop names (bounded), never user input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

Pending = Callable[[], float]  # how much work waits (records, positions); 0 when caught up


class BrakeEngaged(RuntimeError):
    """Raised by `LoopHealth.set_aside` when a run of set-asides reaches the brake."""


class LoopHealth:
    def __init__(
        self,
        loop: str,
        registry: CollectorRegistry,
        *,
        stall_after_seconds: float,
        brake_run: int,
        pending: Pending = lambda: 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self._stall_after = stall_after_seconds
        self._brake_run = brake_run
        self._pending = pending
        self._clock = clock
        self._last_progress = clock()
        self._run = 0  # consecutive set-asides
        self.braked_reason: str | None = None
        self._stalled = Gauge(
            "stagetrack_loop_stalled",
            "1 while work waits and the loop has not advanced for longer than the stall setting",
            ["loop"],
            registry=registry,
        ).labels(loop)
        self._stalled.set_function(lambda: float(self.stalled_for() is not None))
        self._braked = Gauge(
            "stagetrack_loop_braked",
            "1 while the loop stopped after a run of consecutive set-aside events (an operator must look)",
            ["loop"],
            registry=registry,
        ).labels(loop)
        self._braked.set_function(lambda: float(self.braked_reason is not None))
        self._progress_time = Gauge(
            "stagetrack_loop_last_progress_timestamp_seconds",
            "Wall-clock time the loop last committed work or found none waiting",
            ["loop"],
            registry=registry,
        ).labels(loop)
        self._progress_time.set_to_current_time()

    def set_pending(self, pending: Pending) -> None:
        """The loop's backlog, read at check time (the consumer exists only once the loop is built)."""
        self._pending = pending

    def progressed(self) -> None:
        """The loop committed work, or looked and found nothing waiting."""
        self._last_progress = self._clock()
        self._progress_time.set_to_current_time()

    def stored(self, count: int = 1) -> None:
        """Events were stored normally: the run of set-asides is broken."""
        if count:
            self._run = 0

    def set_aside(self, count: int = 1) -> None:
        """`count` events were set aside in a row; raises `BrakeEngaged` once the run reaches the brake."""
        self._run += count
        if self._run >= self._brake_run and self.braked_reason is None:
            self.braked_reason = (
                f"{self.loop} stopped after {self._run} consecutive set-aside events "
                f"(brake at {self._brake_run}): fix the cause, restart, then `stagetrack dead-letters redrive`"
            )
            logging.getLogger(__name__).error("%s", self.braked_reason)
        if self.braked_reason is not None:
            raise BrakeEngaged(self.braked_reason)

    def would_brake(self, count: int = 1) -> bool:
        """Whether setting aside `count` more events reaches the brake (check before writing them anywhere)."""
        return self.braked_reason is not None or self._run + count >= self._brake_run

    def stalled_for(self) -> float | None:
        """Seconds without progress while work waits, once past the setting; None otherwise."""
        quiet = self._clock() - self._last_progress
        if quiet <= self._stall_after:
            return None
        try:
            waiting = self._pending()
        except Exception:  # a backlog that cannot be read is not evidence of a stall
            return None
        return quiet if waiting > 0 else None

    async def readiness(self) -> None:
        """A readiness check (services.common.http): raises naming the loop when it is braked or stalled."""
        if self.braked_reason is not None:
            raise RuntimeError(self.braked_reason)
        quiet = self.stalled_for()
        if quiet is not None:
            raise RuntimeError(
                f"{self.loop} stalled: no progress for {quiet:.0f} s while {self._pending():.0f} wait "
                f"(stall setting {self._stall_after:g} s)"
            )


class ThrottledLog:
    """Logs a repeated identical failure once per interval with a count, not a traceback per retry.

    The first occurrence of a failure (by type and message) is logged with its traceback; repeats within
    `interval_seconds` are counted and summarised in one line when the interval ends or the failure changes.
    """

    def __init__(
        self, logger: logging.Logger, interval_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self._interval = interval_seconds
        self._clock = clock
        self._key: str | None = None
        self._since = 0.0
        self._repeats = 0

    def failure(self, message: str, exc: BaseException) -> None:
        key = f"{type(exc).__name__}: {exc}"
        now = self._clock()
        if key == self._key and now - self._since < self._interval:
            self._repeats += 1
            return
        self._flush()
        if key == self._key:  # the same failure, a new interval: one line, no traceback
            self._log.error("%s (still failing: %s)", message, key)
        else:
            self._log.error("%s", message, exc_info=exc)
        self._key, self._since, self._repeats = key, now, 0

    def recovered(self) -> None:
        self._flush()
        if self._key is not None:
            self._log.info("recovered from: %s", self._key)
        self._key = None

    def _flush(self) -> None:
        if self._repeats:
            self._log.error("the failure above repeated %d more time(s): %s", self._repeats, self._key)
        self._repeats = 0
