"""Money's minor units and decimal text, shared by the ingest, the engine and the KPI."""

from __future__ import annotations

from decimal import Decimal

from services.common.lead_events.money import decimal_text, minor_unit


def test_minor_units_follow_iso_4217_and_default_to_two() -> None:
    assert (minor_unit("JPY"), minor_unit("usd"), minor_unit("KWD"), minor_unit("CLF"), minor_unit("XYZ")) == (
        0,
        2,
        3,
        4,
        2,
    )


def test_decimal_text_never_uses_exponent_notation() -> None:
    assert decimal_text(Decimal("1.2E+4")) == "12000"
    assert decimal_text(Decimal("-1E-2")) == "-0.01"
