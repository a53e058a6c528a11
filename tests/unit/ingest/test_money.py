"""Amounts: exact decimal strings in the reporting currency; other currencies only through a rate table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.common.limits import MAX_AMOUNT
from services.ingest.domain.money import MoneyPolicy, canonical, minor_unit
from services.ingest.domain.schemas import Validators
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import accepted_properties, errors_of, event


def won(amount: Any, currency: str | None = None, event_type: str = "opportunity_won") -> dict[str, Any]:
    props: dict[str, Any] = {"opportunity_id": "opp-1", "amount": amount}
    if currency is not None:
        props["currency"] = currency
    return event(event_type, properties=props)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (1200000, "1200000"),
        ("1200000", "1200000"),
        (1200000.0, "1200000"),
        ("1200000.00", "1200000"),
        (0, "0"),
        (-0.0, "0"),
        (9999999999999998.0, "9999999999999998"),
        (9999999999999999, "9999999999999999"),
        ("09999999999999999.000", "9999999999999999"),
        ("007", "7"),
    ],
)
def test_amounts_become_canonical_strings_in_the_reporting_currency(
    validator: EventValidator, amount: Any, expected: str
) -> None:
    props = accepted_properties(validator, won(amount))
    assert (props["amount"], props["currency"]) == (expected, "JPY")
    assert "original_amount" not in props


def test_the_reporting_currency_may_be_named_in_lower_case(validator: EventValidator) -> None:
    assert accepted_properties(validator, won("500", "jpy"))["currency"] == "JPY"


@pytest.mark.parametrize("event_type", ["renewal_won", "upsell_won", "cross_sell_won", "opportunity_created"])
def test_every_revenue_type_is_normalized(validator: EventValidator, event_type: str) -> None:
    props = accepted_properties(validator, event(event_type, properties={"opportunity_id": "o", "amount": 99}))
    assert (props["amount"], props["currency"]) == ("99", "JPY")


def test_another_currency_is_refused_without_a_rate_table(validator: EventValidator) -> None:
    assert errors_of(validator, won("10.50", "USD")) == [
        ("properties.currency", "currency USD is not the reporting currency JPY and no rate table is configured")
    ]


def test_a_currency_missing_from_the_rate_table_is_refused(validator_with_rates: EventValidator) -> None:
    assert errors_of(validator_with_rates, won("10", "GBP")) == [
        ("properties.currency", "currency GBP is not the reporting currency JPY and the rate table has no rate for GBP")
    ]


@pytest.mark.parametrize(
    ("amount", "currency", "expected", "original"),
    [
        ("10.55", "USD", "1597", "10.55"),  # 1596.9535 -> 1597
        (10.5, "usd", "1589", "10.50"),  # 1589.385 -> 1589
        ("1", "EUR", "164", "1.00"),  # 163.5 -> half-even -> 164
        ("3", "EUR", "490", "3.00"),  # 490.5 -> half-even -> 490
        ("0.001", "KWD", "0", "0.001"),  # 0.49 -> 0
    ],
)
def test_a_rate_converts_rounding_half_even_and_keeps_the_original(
    validator_with_rates: EventValidator, amount: Any, currency: str, expected: str, original: str
) -> None:
    props = accepted_properties(validator_with_rates, won(amount, currency))
    assert props == {
        "opportunity_id": "opp-1",
        "amount": expected,
        "currency": "JPY",
        "original_amount": original,
        "original_currency": currency.upper(),
    }


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("100.5", None, "has more decimal places than JPY allows (0)"),
        (100.5, "JPY", "has more decimal places than JPY allows (0)"),
        ("10.555", "USD", "has more decimal places than USD allows (2)"),
        ("0.0001", "KWD", "has more decimal places than KWD allows (3)"),
    ],
)
def test_more_decimals_than_the_currency_has_are_refused(
    validator_with_rates: EventValidator, amount: Any, currency: str | None, reason: str
) -> None:
    assert errors_of(validator_with_rates, won(amount, currency)) == [("properties.amount", reason)]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (float("inf"), "must be a finite number"),
        (float("nan"), "must be a finite number"),
        (-5, "must be at least 0"),
        ("1" * 31, "is larger than the largest amount stored (9999999999999999.9999)"),
        (1e300, "is larger than the largest amount stored (9999999999999999.9999)"),
    ],
)
def test_non_finite_negative_and_absurd_amounts_are_refused(
    validator: EventValidator, amount: Any, reason: str
) -> None:
    assert errors_of(validator, won(amount)) == [("properties.amount", reason)]


def test_a_currency_without_an_amount_is_checked_and_normalized(validator_with_rates: EventValidator) -> None:
    item = event("opportunity_created", properties={"opportunity_id": "o", "currency": "usd"})
    assert accepted_properties(validator_with_rates, item) == {
        "opportunity_id": "o",
        "currency": "JPY",
        "original_currency": "USD",
    }
    no_rate = event("opportunity_created", properties={"opportunity_id": "o", "currency": "CHF"})
    assert errors_of(validator_with_rates, no_rate)[0][0] == "properties.currency"


def test_no_amount_no_currency_stays_as_sent(validator: EventValidator) -> None:
    item = event("opportunity_created", properties={"opportunity_id": "o"})
    assert accepted_properties(validator, item) == {"opportunity_id": "o"}


def test_other_types_amounts_are_left_alone(validator: EventValidator) -> None:
    item = event("tracked", properties={"name": "Quote Viewed", "amount": 10.5, "currency": "USD"})
    assert accepted_properties(validator, item)["amount"] == 10.5


def test_a_usd_deployment(validators: Validators) -> None:
    usd = EventValidator(validators, reporting_currency="USD", rates={"JPY": Decimal("0.0066")})
    assert accepted_properties(usd, won(99.5))["amount"] == "99.50"
    props = accepted_properties(usd, won(12000, "JPY"))
    assert (props["amount"], props["original_amount"], props["original_currency"]) == ("79.20", "12000", "JPY")


@pytest.mark.parametrize(
    ("reporting", "rates", "message"),
    [
        ("yen", None, "reporting currency 'yen' is not an ISO 4217 code"),
        ("JPY", {"USD": Decimal(0)}, "the rate of USD must be a positive Decimal"),
        ("JPY", {"USD": 151.3}, "the rate of USD must be a positive Decimal"),
        ("JPY", {"USD": Decimal("NaN")}, "the rate of USD must be a positive Decimal"),
        ("JPY", {"dollar": Decimal(1)}, "'dollar' is not an ISO 4217 code"),
    ],
)
def test_a_bad_configuration_fails_at_start_up(reporting: str, rates: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MoneyPolicy(reporting, rates)


def test_minor_units_follow_iso_4217() -> None:
    assert [minor_unit(c) for c in ("JPY", "KRW", "USD", "EUR", "GBP", "KWD", "CLF")] == [0, 0, 2, 2, 2, 3, 4]
    assert canonical(Decimal("5"), "USD") == "5.00" and canonical(Decimal("2.5"), "JPY") == "2"


TOO_LARGE = f"is larger than the largest amount stored ({MAX_AMOUNT})"


@pytest.mark.parametrize(
    ("reporting", "largest", "next_up"),
    [
        ("JPY", "9999999999999999", "10000000000000000"),
        ("USD", "9999999999999999.99", "10000000000000000.00"),
        ("KWD", "9999999999999999.999", "10000000000000000.000"),
        ("CLF", "9999999999999999.9999", "10000000000000000.0000"),
    ],
)
def test_the_largest_amount_is_kept_exactly_and_the_next_one_up_refused(
    validators: Validators, reporting: str, largest: str, next_up: str
) -> None:
    deployment = EventValidator(validators, reporting_currency=reporting)
    assert accepted_properties(deployment, won(largest))["amount"] == largest
    assert errors_of(deployment, won(next_up)) == [("properties.amount", TOO_LARGE)]


def test_an_amount_that_conversion_takes_past_the_limit_is_refused(validators: Validators) -> None:
    rates = {"USD": Decimal("150"), "XAU": Decimal("1e30")}
    deployment = EventValidator(validators, rates=rates)
    largest_usd = "66666666666666.66"  # x 150 = 9999999999999999 yen, exactly the largest
    assert accepted_properties(deployment, won(largest_usd, "USD"))["amount"] == str(int(MAX_AMOUNT))
    assert errors_of(deployment, won("66666666666666.67", "USD")) == [
        ("properties.amount", f"{TOO_LARGE} once converted to JPY")
    ]
    assert errors_of(deployment, won("9999999999999999.99", "XAU"))[0][0] == "properties.amount"  # 1e46: no crash


def test_the_original_amount_is_bounded_too(validators: Validators) -> None:
    deployment = EventValidator(validators, rates={"VND": Decimal("0.006")})
    assert errors_of(deployment, won("10000000000000000", "VND")) == [("properties.amount", TOO_LARGE)]
    kept = accepted_properties(deployment, won("9999999999999999", "VND"))
    assert (kept["amount"], kept["original_amount"]) == ("60000000000000", "9999999999999999")
