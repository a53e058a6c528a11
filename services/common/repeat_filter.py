"""A logging filter for client libraries that log the same failure on every turn of a tight retry loop.

aiokafka, for one, logs "Unable connect to node ..." on each metadata retry while a broker is down: thousands of
identical ERROR lines a second. `RepeatedLogFilter` lets the first record of each message (by logger, level and
format string, whatever its arguments) through per interval, counts the rest, and says how many it held back on
the first record of the next interval, or in `flush()` (at shutdown). `throttle_loggers` installs it. Such a
line reads:

    ERROR aiokafka Unable connect to node with id 1: [Errno 111] Connection refused [and 4,210 more like it
    in the last 60 s, not logged]
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_Key = tuple[str, int, str]


@dataclass
class _Window:
    started: float
    held_back: int = 0
    last: logging.LogRecord | None = None  # the latest record held back, to summarise at flush


class RepeatedLogFilter(logging.Filter):
    def __init__(self, interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self._clock = clock
        self._windows: dict[_Key, _Window] = {}  # one per format string: bounded by the library's own messages
        self._lock = threading.Lock()  # records may come from several threads

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.started < self.interval_seconds:
                window.held_back += 1
                window.last = record
                return False
            self._windows[key] = _Window(now)
        if window is not None and window.held_back:
            _summarise(record, window.held_back, now - window.started)
        return True

    def flush(self) -> None:
        """Logs the count of what is held back in the current windows (call at shutdown)."""
        with self._lock:
            pending = [w for w in self._windows.values() if w.held_back and w.last is not None]
            self._windows.clear()
        now = self._clock()
        for window in pending:
            assert window.last is not None
            record = window.last
            _summarise(record, window.held_back - 1, now - window.started)
            record.created = time.time()  # a summary of now, not of when the last repeat happened
            record.msecs = record.created % 1 * 1000
            logging.getLogger(record.name).handle(record)


def _summarise(record: logging.LogRecord, held_back: int, seconds: float) -> None:
    """Makes `record` one line that carries the count (no traceback: the first one had it)."""
    message = record.getMessage()
    if held_back:
        message += f" [and {held_back:,} more like it in the last {seconds:.0f} s, not logged]"
    record.msg, record.args = message, None
    record.exc_info, record.exc_text, record.stack_info = None, None, None


def throttle_loggers(names: Iterable[str], interval_seconds: float) -> RepeatedLogFilter:
    """Gives each logger named, and every logger under it ("aiokafka" → "aiokafka.conn", ...), one shared
    `RepeatedLogFilter` (once per process: a second call finds it and only sets the interval). A logger's
    filters see only the records of that logger, not its children's, hence one per logger."""
    prefixes = tuple(names)
    for name in prefixes:
        logging.getLogger(name)
    loggers = [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and any(name == p or name.startswith(f"{p}.") for p in prefixes)
    ]
    installed = next((f for lg in loggers for f in lg.filters if isinstance(f, RepeatedLogFilter)), None)
    quiet = installed or RepeatedLogFilter(interval_seconds)
    quiet.interval_seconds = interval_seconds
    for logger in loggers:
        if quiet not in logger.filters:
            logger.addFilter(quiet)
    return quiet
