"""The ingest's young-generation threshold (`services/common/garbage.tuned_gc`).

A batch of 100 events allocates thousands of short-lived containers: at Python's default threshold they
triggered several young collections per request, and with the full ones ~8 % of the ingest's CPU
(bench/bench_ingest.py, docs/benchmarks.md).
"""

YOUNG_THRESHOLD = 20_000
