"""Number formats of docs/kpi.md "Definitions", written out for the test: ratios, order statistics, money."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.integration.kpi_api.generated.the_model import MINOR_UNIT

MICRO = timedelta(microseconds=1)


def value(numerator: int | Decimal | Fraction, denominator: int | Decimal | Fraction) -> float | None:
    return None if denominator == 0 else round(float(Fraction(numerator) / Fraction(denominator)), 6)


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {"numerator": numerator, "denominator": denominator, "value": value(numerator, denominator)}


def rounded(x: Fraction) -> float:
    return round(float(x), 6)


def spread(durations: Sequence[timedelta]) -> dict[str, Any]:
    """count; median = mean of ranks floor((n+1)/2) and floor(n/2)+1; p90 = rank ceil(9n/10); in seconds."""
    us = sorted(d // MICRO for d in durations)
    n = len(us)
    if n == 0:
        return {"count": 0, "median_seconds": None, "p90_seconds": None}
    median = Fraction(us[(n + 1) // 2 - 1] + us[n // 2], 2 * 10**6)
    p90 = us[-(-9 * n // 10) - 1]
    return {"count": n, "median_seconds": float(median), "p90_seconds": float(Fraction(p90, 10**6))}


def p90_us(durations: Sequence[timedelta]) -> int | None:
    us = sorted(d // MICRO for d in durations)
    return us[-(-9 * len(us) // 10) - 1] if us else None


def money(amount: Decimal, currency: str) -> str:
    """At least the minor unit's places, finer digits kept."""
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    places = max(MINOR_UNIT[currency], -exponent)
    return f"{amount.quantize(Decimal(1).scaleb(-places)):f}"


def estimate(x: Fraction, currency: str, places: int | None = None) -> str:
    """A model estimate: half-even to the minor unit (or to `places`)."""
    places = MINOR_UNIT[currency] if places is None else places
    scale = 10**places
    scaled = x * scale
    floor = scaled.numerator // scaled.denominator
    rest = scaled - floor
    units = floor + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2) else 0)
    return f"{Decimal(units).scaleb(-places):f}"
