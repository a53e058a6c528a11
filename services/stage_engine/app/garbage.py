"""The engine's young-generation threshold, for the consumer's and the outbox publisher's processes
(`services/common/garbage.tuned_gc`).

Container objects allocated (net of those freed) before a young collection. A batch's objects die young by
reference counting, so a young collection finds almost nothing to free, yet it walked everything the batches in
flight hold: at 10,000 they ran every few batches and cost ~15 % of the consumer's CPU on the engine benchmark.
At most this many objects wait for a collection.
"""

YOUNG_THRESHOLD = 100_000
