"""Benchmarks: each measures stagetrack beside its baseline in the same run and reports the ratio."""
