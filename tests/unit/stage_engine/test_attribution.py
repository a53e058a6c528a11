"""Attributed revenue: weights, absent divisions, largest-remainder rounding, exact sums."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.lead_events.events import RevenueBooked
from services.common.lead_events.money import decimal_text, minor_unit
from services.stage_engine.domain.attribution import split_amount

from .support import FORM, WON, Driver, walk

ORDER = ("marketing", "inside_sales", "field_sales", "customer_success")
NEW = {"marketing": 30, "inside_sales": 30, "field_sales": 40}


def shares(
    amount: str, currency: str = "JPY", weights: dict[str, int] | None = None, owned: set[str] | None = None
) -> dict[str, str]:
    weights = NEW if weights is None else weights
    owned = set(ORDER) if owned is None else owned
    return {d: decimal_text(s) for d, s in split_amount(Decimal(amount), currency, weights, owned, ORDER)}


def test_default_weights_split_a_round_amount() -> None:
    assert shares("1000") == {"marketing": "300", "inside_sales": "300", "field_sales": "400"}


def test_an_absent_division_share_goes_pro_rata_to_the_others() -> None:
    assert shares("700", owned={"marketing", "field_sales"}) == {"marketing": "300", "field_sales": "400"}


def test_largest_remainder_and_tie_break_by_division_order() -> None:
    assert shares("1") == {"marketing": "0", "inside_sales": "0", "field_sales": "1"}
    assert shares("2") == {"marketing": "1", "inside_sales": "0", "field_sales": "1"}  # .6/.6/.8 -> 0/0/0 + 2
    assert shares("0.01", "USD", {"customer_success": 50, "field_sales": 50}) == {
        "field_sales": "0.01",
        "customer_success": "0.00",
    }


def test_minor_units() -> None:
    assert (minor_unit("JPY"), minor_unit("usd"), minor_unit("KWD"), minor_unit("XYZ")) == (0, 2, 3, 2)
    assert shares("10", "KWD", {"marketing": 1, "field_sales": 2}) == {"marketing": "3.333", "field_sales": "6.667"}


def test_finer_than_the_minor_unit_is_split_at_its_own_precision() -> None:
    assert shares("0.5") == {"marketing": "0.2", "inside_sales": "0.1", "field_sales": "0.2"}


def test_nobody_weighted_worked_the_lead_then_the_weights_apply_as_written() -> None:
    assert shares("100", owned={"customer_success"}) == {"marketing": "30", "inside_sales": "30", "field_sales": "40"}


def test_revenue_events_book_each_kind() -> None:
    d = Driver()
    walk(d, FORM, "lead_accepted", "meeting_held", WON)
    booked = [e for e in d.history if isinstance(e, RevenueBooked)]
    assert [(b.kind, b.amount, dict(b.shares)) for b in booked] == [
        ("new", "1000000", {"marketing": "300000", "inside_sales": "300000", "field_sales": "400000"})
    ]
    for kind, event_type in [("renewal", "renewal_won"), ("upsell", "upsell_won"), ("cross_sell", "cross_sell_won")]:
        (b,) = d.send(event_type, {"amount": "1001"})
        assert isinstance(b, RevenueBooked) and b.kind == kind
    shares_by_kind = {e.kind: dict(e.shares) for e in d.history if isinstance(e, RevenueBooked)}
    assert shares_by_kind["renewal"] == {"customer_success": "1001"}
    assert shares_by_kind["upsell"] == {"field_sales": "501", "customer_success": "500"}


def test_a_skipped_division_gets_nothing() -> None:
    d = Driver()
    walk(d, FORM, ("opportunity_created", {"opportunity_id": "o"}), WON)  # inside sales never owned a stage
    (booked,) = [e for e in d.history if isinstance(e, RevenueBooked)]
    assert dict(booked.shares) == {"marketing": "428571", "field_sales": "571429"}


def exponent(value: Decimal) -> int:
    found = value.as_tuple().exponent
    assert isinstance(found, int)
    return found


amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e15"), allow_nan=False, places=None).filter(
    lambda d: d.is_finite() and exponent(d) >= -6
)
weights = st.dictionaries(st.sampled_from(ORDER), st.integers(0, 1000), min_size=1).filter(
    lambda w: sum(w.values()) > 0
)


@given(amounts, st.sampled_from(["JPY", "USD", "KWD"]), weights, st.sets(st.sampled_from(ORDER)))
def test_shares_always_sum_exactly_to_the_amount(
    amount: Decimal, currency: str, w: dict[str, int], owned: set[str]
) -> None:
    result = split_amount(amount, currency, w, owned, ORDER)
    with localcontext() as ctx:
        ctx.prec = 100
        assert sum((share for _, share in result), Decimal(0)) == amount
    places = max(minor_unit(currency), -exponent(amount))
    assert all(-exponent(share) == places for _, share in result)
    assert [d for d, _ in result] == [d for d in ORDER if d in {d for d, _ in result}]  # division order
    total = sum(w[d] for d, _ in result)
    for division, share in result:  # each share within one unit of its exact value
        exact = amount * w[division] / total
        assert abs(share - exact) < Decimal(1).scaleb(-places)


def test_non_finite_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        split_amount(Decimal("NaN"), "JPY", NEW, set(ORDER), ORDER)
