"""Periods, days in the reporting zone, exact ratios, medians and p90, money strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from services.kpi.domain.money import estimate, exact_sum, money
from services.kpi.domain.periods import (
    EARLIEST,
    LATEST,
    Period,
    PeriodError,
    PeriodErrors,
    day_ends,
    earlier,
    horizon,
    local_text,
    parse_instant,
    parse_period,
    supported_range,
)
from services.kpi.domain.stats import Spread, ranks, ratio

TOKYO, NEW_YORK, UTC_ZONE = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York"), ZoneInfo("UTC")


def test_a_date_is_midnight_in_the_reporting_zone() -> None:
    assert parse_instant("2025-03-01", "from", TOKYO) == datetime(2025, 2, 28, 15, tzinfo=UTC)
    assert parse_instant("2025-03-01T09:00:00+09:00", "from", UTC_ZONE) == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_instant("2025-03-01t00:00:00.5z", "from", UTC_ZONE) == datetime(2025, 3, 1, 0, 0, 0, 500000, UTC)
    assert parse_instant("2025-03-01T09:00:00 09:00", "from", UTC_ZONE) == datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "is required"),
        ("", "is required"),
        ("2025-3-1", "neither a timestamp nor a date"),
        ("2025-03-01T00:00:00", "no UTC offset"),
        ("2025-13-01", "not a calendar date"),
        ("2025-03-01T24:00:00Z", "out of range"),
    ],
)
def test_refusals_name_the_parameter(value: str | None, words: str) -> None:
    with pytest.raises(PeriodErrors) as caught:
        parse_period("2025-01-01", value, UTC_ZONE)
    (error,) = caught.value.errors
    assert error.field == "to" and words in error.reason


def test_both_parameters_are_reported_at_once() -> None:
    with pytest.raises(PeriodErrors) as caught:
        parse_period("x", None, UTC_ZONE)
    assert [e.field for e in caught.value.errors] == ["from", "to"]


def test_day_ends_follow_the_zone_and_clip_to_the_period() -> None:
    period = parse_period("2025-03-08T12:00:00-05:00", "2025-03-11T06:00:00-04:00", NEW_YORK)
    ends = day_ends(period, NEW_YORK)
    assert [d for d, _ in ends] == [date(2025, 3, 8), date(2025, 3, 9), date(2025, 3, 10), date(2025, 3, 11)]
    # 2025-03-09 is 23 hours long in New York (DST starts): its end is 04:00Z, the day before's 05:00Z.
    assert [at for _, at in ends] == [
        datetime(2025, 3, 9, 5, tzinfo=UTC),
        datetime(2025, 3, 10, 4, tzinfo=UTC),
        datetime(2025, 3, 11, 4, tzinfo=UTC),
        datetime(2025, 3, 11, 10, tzinfo=UTC),  # the last one is `to`
    ]


def test_shifted_and_trailing_periods() -> None:
    p = Period(datetime(2025, 3, 8, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC))
    assert p.shifted(1) == Period(datetime(2025, 3, 15, tzinfo=UTC), datetime(2025, 3, 22, tzinfo=UTC))
    assert p.trailing(3) == Period(datetime(2025, 2, 15, tzinfo=UTC), datetime(2025, 3, 8, tzinfo=UTC))
    assert p.length == timedelta(days=7)


def test_ratios_are_exact_with_a_rounded_value() -> None:
    assert ratio(2, 7) == {"numerator": 2, "denominator": 7, "value": 0.285714}
    assert ratio(3, 2)["value"] == 1.5
    assert ratio(0, 0) == {"numerator": 0, "denominator": 0, "value": None}


def test_median_is_the_mean_of_the_two_middle_values_and_p90_the_nearest_rank() -> None:
    assert ranks(1) == (1, 1, 1) and ranks(2) == (1, 2, 2) and ranks(10) == (5, 6, 9) and ranks(11) == (6, 6, 10)
    assert ranks(70)[2] == 63  # 0.9 * 70 is 63.00000000000001 in floating point; the rank is 63
    odd = Spread.of([5, 1, 3])
    assert (odd.median_us, odd.p90_us) == (3, 5)
    even = Spread.of([1_000_001, 1_000_002])
    assert even.median_us == Fraction(2_000_003, 2)
    assert even.to_json() == {"count": 2, "median_seconds": 1.0000015, "p90_seconds": 1.000002}
    assert Spread.of(list(range(1, 71))).p90_us == 63
    assert Spread.of([]).to_json() == {"count": 0, "median_seconds": None, "p90_seconds": None}


def test_money_keeps_the_minor_unit_and_finer_digits() -> None:
    assert money(Decimal("1000.0000"), "JPY") == "1000"
    assert money(Decimal("0.5000"), "JPY") == "0.5"
    assert money(Decimal("12.5000"), "USD") == "12.50"
    assert money(Decimal("-300.0000"), "JPY") == "-300"
    assert money(None, "KWD") == "0.000"
    assert estimate(Fraction(5, 2), "JPY") == "2" and estimate(Fraction(7, 2), "JPY") == "4"  # half-even
    assert estimate(Fraction(1, 3), "USD", places=6) == "0.333333"


SANTIAGO = ZoneInfo("America/Santiago")


def test_the_supported_range_is_the_years_1_to_9999_in_utc_and_in_the_zone() -> None:
    assert supported_range(UTC_ZONE) == (EARLIEST, LATEST)
    assert supported_range(TOKYO) == (EARLIEST, datetime(9999, 12, 30, 15, tzinfo=UTC))  # ahead of UTC
    first, last = supported_range(SANTIAGO)  # behind UTC (its local mean time in the year 1: -4:42:46)
    assert first.astimezone(SANTIAGO).replace(tzinfo=None) == datetime(1, 1, 1) and last == LATEST
    assert parse_instant("0001-01-01", "from", UTC_ZONE) == EARLIEST
    assert parse_instant("9999-12-31", "to", UTC_ZONE) == LATEST
    outside = [
        ("0001-01-01", TOKYO), ("9999-12-31T00:00:00.000001Z", UTC_ZONE), ("0001-01-01T00:00:00Z", SANTIAGO),
        ("0001-01-01T00:00:00+00:01", UTC_ZONE), ("9999-12-31T23:59:59-23:59", UTC_ZONE),
    ]  # fmt: skip
    for value, zone in outside:
        with pytest.raises(PeriodError, match="outside the supported range"):
            parse_instant(value, "from", zone)


def test_derived_periods_before_the_year_1_begin_at_it_and_a_horizon_past_9999_is_refused() -> None:
    period = parse_period("1000-01-01", "2025-01-01", UTC_ZONE)
    assert period.previous() == Period(EARLIEST, period.start)
    assert period.trailing(12) == Period(EARLIEST, period.start)
    assert earlier(datetime(2025, 1, 1, tzinfo=UTC), timedelta(days=1)) == datetime(2024, 12, 31, tzinfo=UTC)
    assert earlier(EARLIEST, timedelta(microseconds=1)) == EARLIEST
    assert horizon(parse_period("2025-01-01", "2025-02-01", UTC_ZONE), UTC_ZONE).end == datetime(2025, 3, 4, tzinfo=UTC)
    with pytest.raises(PeriodErrors) as caught:
        horizon(parse_period("2025-01-01", "9999-01-01", UTC_ZONE), UTC_ZONE)
    assert caught.value.errors[0].field == "to" and "forecast horizon" in caught.value.errors[0].reason


def test_an_instant_outside_the_zones_years_is_shown_in_utc() -> None:
    assert local_text(EARLIEST, SANTIAGO) == "0001-01-01T00:00:00+00:00"
    assert local_text(EARLIEST, TOKYO) == "0001-01-01T09:18:59+09:18:59"


def test_money_sums_keep_every_digit() -> None:
    """Sums of many amounts outgrow the default 28 digits of Python's decimal context; none is rounded."""
    largest = Decimal("9999999999999999.9999")
    assert money(exact_sum([largest * 10**12, largest]), "JPY") == "10000000000009999999899999999.9999"
    assert money(Decimal("123456789012345678901234567890.1234"), "JPY") == "123456789012345678901234567890.1234"
