"""Money as exact decimal strings in the reporting currency (docs/kpi.md "Definitions")."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from services.common.lead_events.money import minor_unit

# Decimal arithmetic on sums of amounts: wide enough that no sum the projections can hold is rounded
# (the default context keeps 28 digits; one amount may have 20, and a sum of many more).
EXACT_DIGITS = 200


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext() as context:
        context.prec = EXACT_DIGITS
        return sum(values, Decimal(0))


def money(amount: Decimal | int | None, currency: str) -> str:
    """At least the currency's minor unit of places ("1200" JPY, "12.50" USD); finer digits are kept, never
    rounded away (an amount booked as 0.5 yen is "0.5")."""
    with localcontext() as context:
        context.prec = EXACT_DIGITS
        value = Decimal(amount or 0)
        places = minor_unit(currency)
        exponent = value.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(places, -exponent)
        return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def estimate(value: Fraction | float, currency: str, places: int | None = None) -> str:
    """An expected (model-estimated) amount, rounded half-even to the currency's minor unit (or `places`)."""
    exact = Fraction(value)
    quantum = Decimal(1).scaleb(-(minor_unit(currency) if places is None else places))
    with localcontext() as context:
        context.prec = 80
        decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
        return f"{decimal.quantize(quantum, rounding=ROUND_HALF_EVEN):f}"
