"""Exact ratios and order statistics, as the API reports them (docs/kpi.md "Definitions").

- A ratio is given as its integer (or exact decimal) numerator and denominator and `value`, the float nearest
  to numerator/denominator rounded to 6 decimals with Python's `round`; `value` is null when the
  denominator is 0.
- Durations are whole microseconds (PostgreSQL's resolution). For n durations sorted ascending (1-based):
  median = mean of the values at ranks floor((n+1)/2) and floor(n/2)+1 (the middle one when n is odd, the
  mean of the two middle ones when n is even); p90 = nearest rank, the value at rank ceil(9n/10). Both are
  reported in seconds as the float nearest to the exact value (a median may end in half a microsecond).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

MICROS = 1_000_000


def ratio_value(numerator: int | Decimal | Fraction, denominator: int | Decimal | Fraction) -> float | None:
    if denominator == 0:
        return None
    return round(float(Fraction(numerator) / Fraction(denominator)), 6)


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {"numerator": numerator, "denominator": denominator, "value": ratio_value(numerator, denominator)}


def rounded(value: Fraction | float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def ranks(n: int) -> tuple[int, int, int]:
    """1-based ranks (lower middle, upper middle, p90) among n sorted values; n >= 1."""
    return (n + 1) // 2, n // 2 + 1, (9 * n + 9) // 10


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and p90 of n durations, exactly (microseconds; the median as a Fraction)."""

    count: int
    median_us: Fraction | None
    p90_us: int | None

    @classmethod
    def from_ranked(cls, count: int, at_rank: Mapping[int, int]) -> Spread:
        """From the values at the ranks `ranks(count)` (what the SQL returns)."""
        if count == 0:
            return cls(0, None, None)
        low, high, p90 = ranks(count)
        return cls(count, Fraction(at_rank[low] + at_rank[high], 2), at_rank[p90])

    @classmethod
    def of(cls, durations_us: Sequence[int]) -> Spread:
        """The reference computation over all values (tests, small inputs)."""
        ordered = sorted(durations_us)
        return cls.from_ranked(len(ordered), {r: ordered[r - 1] for r in set(ranks(len(ordered)))} if ordered else {})

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "median_seconds": None if self.median_us is None else float(self.median_us / MICROS),
            "p90_seconds": None if self.p90_us is None else float(Fraction(self.p90_us, MICROS)),
        }
