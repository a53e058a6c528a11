"""The garbage collector's settings for a service under load (each service picks its young-generation threshold,
measured by its benchmark: docs/benchmarks.md, docs/benchmarks-engine.md).

A request's or a batch's objects die young by reference counting, yet at Python's default threshold (700) they
trigger many young collections that free almost nothing, and each full collection walks every object start-up
built (FastAPI, SQLAlchemy, the compiled schemas, the model). So for the service's lifetime what start-up built
is frozen (left out of every collection) and the young generation is collected less often; both are undone on
leaving. Memory stays bounded: the collector still runs.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def tuned_gc(young_threshold: int) -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young_threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
