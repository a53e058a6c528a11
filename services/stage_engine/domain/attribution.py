"""Attributed revenue: one amount split over the divisions that worked the lead, summing to it exactly.

Rules (PRODUCT.md "attributed revenue"):
- Only divisions that owned a stage this lead has been in take part, with the model's weights for the
  revenue kind; the weights of absent divisions are dropped, so their share goes pro rata to the rest.
- If no division with a weight for this kind ever owned a stage of the lead (a CRM import straight
  into a customer stage), the model's weights are used as written: the money is still attributed, never lost.
- Shares are rounded to the currency's minor unit (ISO 4217: JPY 0 decimals, USD 2, KWD 3; unknown
  currencies 2) by the largest-remainder method: every division gets the floor of its exact share, and
  the units left over go one each to the largest remainders; equal remainders go to the division
  earlier in the model's division order. An amount finer than the minor unit (an odd "0.5" yen) is
  split at its own precision, so the shares still sum to it exactly. Negative amounts (refunds) are
  split like their absolute value and negated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from decimal import Decimal

from services.common.lead_events.money import minor_unit


def split_amount(
    amount: Decimal,
    currency: str,
    weights: Mapping[str, int],
    owned: Set[str],
    division_order: Sequence[str],
) -> tuple[tuple[str, Decimal], ...]:
    """(division, share) in division order; the shares sum exactly to `amount`."""
    if not amount.is_finite():
        raise ValueError(f"amount {amount} is not a finite number")
    weighted = [d for d in division_order if weights.get(d, 0) > 0]
    taking_part = [d for d in weighted if d in owned] or weighted
    if not taking_part:
        raise ValueError("no division has a positive weight")
    negative, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    places = max(minor_unit(currency), -exponent)
    units = int("".join(map(str, digits)) or "0") * 10 ** (exponent + places)  # exact, no context rounding
    sign = -1 if negative else 1
    total = sum(weights[d] for d in taking_part)
    floors = [units * weights[d] // total for d in taking_part]
    remainders = [units * weights[d] % total for d in taking_part]
    left = units - sum(floors)
    for i in sorted(range(len(taking_part)), key=lambda i: (-remainders[i], i))[:left]:
        floors[i] += 1
    return tuple(
        (division, Decimal(f"{sign * share}e-{places}")) for division, share in zip(taking_part, floors, strict=True)
    )
