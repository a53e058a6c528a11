"""The garbage collector's settings for the engine's processes (the consumer's and the outbox publisher's)."""

from __future__ import annotations

import gc

# Container objects allocated (net of those freed) before a young collection. A batch's objects die young by
# reference counting, so a young collection finds almost nothing to free, yet it walked everything the batches
# in flight hold: at 10,000 they ran every few batches and cost ~15 % of the consumer's CPU on the engine
# benchmark. Memory stays bounded: at most this many objects wait for a collection.
YOUNG_THRESHOLD = 100_000


def settle_garbage_collector() -> None:
    """Everything built at start-up (modules, clients, the model) lives as long as the process: `gc.freeze` moves
    it out of the collector's way, so collections walk only what was created since. The collector still runs."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
