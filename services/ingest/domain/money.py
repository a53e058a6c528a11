"""Amounts: exact decimals in the deployment's reporting currency (PRODUCT.md: default JPY).

`MoneyPolicy.normalize` runs on the types whose schema declares an `amount` (opportunity_created,
opportunity_won, renewal_won, upsell_won, cross_sell_won) after the schema passed:

- `amount` (a JSON number or a decimal string) becomes a canonical decimal string with exactly the reporting
  currency's minor-unit digits: JPY "12000", USD "99.50". Never a float.
- `currency` defaults to the reporting currency; lower case is accepted.
- An amount with more (non-zero) decimals than its currency's minor unit is refused (JPY "100.5");
  so are negative and non-finite amounts.
- Another currency is refused unless the rate table has it. With a rate the amount is converted
  (`rates[X]` = units of the reporting currency per unit of X), rounded half-even to the reporting currency's
  minor unit, and the original is kept as `original_amount` (canonical string) and `original_currency`.
- Afterwards `properties["amount"]` is a string and `properties["currency"]` is the reporting currency.
  An event without an amount keeps no amount; a currency it names is checked and normalized the same way.
- Every amount kept (the amount in the reporting currency, and `original_amount`) is at most
  `services.common.limits.MAX_AMOUNT`, the largest the KPI projections store (numeric(20,4)); a larger one,
  also one that only grows past it by conversion, refuses the event naming `properties.amount`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from services.common.lead_events.money import minor_unit
from services.common.limits import MAX_AMOUNT
from services.ingest.domain.problems import Problem

_CODE = re.compile(r"[A-Z]{3}")
_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN)
_ROUNDABLE = MAX_AMOUNT + 1
_TOO_LARGE = f"is larger than the largest amount stored ({MAX_AMOUNT})"


def canonical(amount: Decimal, currency: str) -> str:
    """`amount` with exactly the currency's minor-unit digits, as a plain string: "12000", "99.50"."""
    return _plain(_rounded(amount, currency))


def _rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), context=_CONTEXT)


def _plain(value: Decimal) -> str:
    return format(value.copy_abs() if value.is_zero() else value, "f")  # never "-0"


class MoneyPolicy:
    def __init__(self, reporting_currency: str = "JPY", rates: Mapping[str, Decimal] | None = None) -> None:
        if not _CODE.fullmatch(reporting_currency):
            raise ValueError(f"reporting currency {reporting_currency!r} is not an ISO 4217 code such as JPY")
        self.reporting_currency = reporting_currency
        self.rates: dict[str, Decimal] = {}
        for code, rate in (rates or {}).items():
            if not _CODE.fullmatch(code.upper()):
                raise ValueError(f"rate table: {code!r} is not an ISO 4217 code")
            if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
                raise ValueError(f"rate table: the rate of {code} must be a positive Decimal, not {rate!r}")
            self.rates[code.upper()] = rate
        self.rates.pop(reporting_currency, None)

    def normalize(self, properties: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """The normalized copy of `properties`, or the problems that refuse the event."""
        props = dict(properties)
        currency, problems = self._currency(props.get("currency"))
        if problems:
            return props, problems
        if "amount" not in props:
            if currency is not None:
                self._stamp_currency(props, currency)
            return props, []
        source = currency or self.reporting_currency
        amount, amount_problem = _parse_amount(props["amount"], source)
        if amount is None:
            return props, [Problem("properties.amount", amount_problem or "is not a valid amount")]
        if source == self.reporting_currency:
            props["amount"] = canonical(amount, source)
        else:
            converted = _CONTEXT.multiply(amount, self.rates[source])
            if converted <= _ROUNDABLE:  # quantize() only what may fit (a huge rate would exceed its precision)
                converted = _rounded(converted, self.reporting_currency)
            if converted > MAX_AMOUNT:
                reason = f"{_TOO_LARGE} once converted to {self.reporting_currency}"
                return props, [Problem("properties.amount", reason)]
            props["amount"] = _plain(converted)
            props["original_amount"] = canonical(amount, source)
        self._stamp_currency(props, source)
        return props, []

    def _currency(self, raw: object) -> tuple[str | None, list[Problem]]:
        """The upper-case code (None when absent), or the problem with it."""
        if raw is None:
            return None, []
        code = raw.upper() if isinstance(raw, str) else ""
        if not _CODE.fullmatch(code):
            return None, [Problem("properties.currency", "must be a three-letter ISO 4217 currency code such as JPY")]
        if code != self.reporting_currency and code not in self.rates:
            reason = f"currency {code} is not the reporting currency {self.reporting_currency} and " + (
                "no rate table is configured" if not self.rates else f"the rate table has no rate for {code}"
            )
            return None, [Problem("properties.currency", reason)]
        return code, []

    def _stamp_currency(self, props: dict[str, Any], currency: str) -> None:
        props["currency"] = self.reporting_currency
        if currency != self.reporting_currency:
            props["original_currency"] = currency


def _parse_amount(raw: object, currency: str) -> tuple[Decimal | None, str | None]:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None, 'must be a non-negative decimal: a JSON number or a string like "1200.50"'
    try:
        amount = Decimal(repr(raw) if isinstance(raw, float) else raw)
    except InvalidOperation:
        return None, 'must be a non-negative decimal: a JSON number or a string like "1200.50"'
    if not amount.is_finite():
        return None, "must be a finite number"
    if amount < 0:
        return None, "must not be negative"
    if amount > MAX_AMOUNT:  # also keeps quantize() away from numbers beyond its precision (1e300)
        return None, _TOO_LARGE
    places = minor_unit(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places), context=_CONTEXT):
        return None, f"has more decimal places than {currency} allows ({places})"
    return amount, None
