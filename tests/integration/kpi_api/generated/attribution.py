"""Attributed shares as PRODUCT.md defines them: the kind's weights over the divisions that owned a stage of
the lead (the others' weights dropped, so their share goes pro rata; none owned: the weights as written),
largest-remainder rounding to the currency's minor unit (finer amounts at their own precision), leftover units
to the largest remainders, ties to the division earlier in the model's list; refunds split like their absolute
value."""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Decimal
from fractions import Fraction

from tests.integration.kpi_api.generated.the_model import DIVISIONS, MINOR_UNIT


def split(amount: Decimal, currency: str, weights: Mapping[str, int], owned: Set[str]) -> dict[str, Decimal]:
    weighted = [d for d in DIVISIONS if weights.get(d, 0) > 0]
    taking = [d for d in weighted if d in owned] or weighted
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    places = max(MINOR_UNIT[currency], -exponent)
    units = int(abs(amount).scaleb(places))
    total = sum(weights[d] for d in taking)
    exact = {d: Fraction(units * weights[d], total) for d in taking}
    share = {d: int(exact[d]) for d in taking}  # floor: units and weights are not negative
    leftover = units - sum(share.values())
    by_remainder = sorted(taking, key=lambda d: (-(exact[d] - share[d]), DIVISIONS.index(d)))
    for d in by_remainder[:leftover]:
        share[d] += 1
    sign = -1 if amount < 0 else 1
    return {d: Decimal(sign * share[d]).scaleb(-places) for d in taking}
