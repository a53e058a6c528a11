"""Garbage-collector settings for the ingest under load (measured by bench/bench_ingest.py, docs/benchmarks.md).

A batch of 100 events allocates thousands of short-lived containers; nearly all die by reference counting,
yet with Python's default threshold (700) they trigger several young-generation passes per request, and each
full pass walks every object start-up built (FastAPI, SQLAlchemy, the compiled schemas). Together that was
~8 % of the ingest's CPU. So for the app's lifetime: what start-up built is frozen (left out of every pass)
and the young generation is collected every YOUNG_THRESHOLD allocations; both are undone at shutdown.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 20_000


@contextlib.contextmanager
def tuned_gc() -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
