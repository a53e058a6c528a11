"""Money as every service writes it: ISO 4217 minor units and plain decimal text."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 minor units that are not 2 (every other code has 2).
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (ISO 4217: JPY 0, USD 2, KWD 3); 2 when not listed."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def decimal_text(value: Decimal) -> str:
    """A plain decimal string, never exponent notation ("12000", "99.50", "-0.01")."""
    return format(value, "f")
