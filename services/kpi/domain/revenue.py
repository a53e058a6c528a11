"""Revenue by kind, shared revenue and attributed revenue (PRODUCT.md "revenue(P)", "attributed revenue")."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from services.common.stage_model.model_types import StageModel
from services.kpi.domain.money import exact_sum, money


def revenue_kinds(model: StageModel) -> list[str]:
    """The model's kinds in the order its `revenue:` map names them (THE MODEL: new, renewal, upsell, cross_sell)."""
    return list(dict.fromkeys([*model.revenue_kinds.values(), *model.attribution]))


def revenue_report(
    model: StageModel,
    currency: str,
    by_kind: Mapping[tuple[str, str], tuple[int, Decimal]],
    shares: Mapping[tuple[str, str], Decimal],
) -> dict[str, Any]:
    """Bookings in another currency than the reporting one are not summed; they are counted in `excluded`."""
    kinds = revenue_kinds(model)
    kinds += sorted(
        {kind for kind, _ in by_kind if kind not in kinds} | {kind for kind, _ in shares if kind not in kinds}
    )
    divisions = list(model.divisions)
    divisions += sorted({d for _, d in shares if d not in divisions})
    count = {kind: by_kind.get((kind, currency), (0, Decimal(0)))[0] for kind in kinds}
    amount = {kind: by_kind.get((kind, currency), (0, Decimal(0)))[1] for kind in kinds}
    attributed = {kind: {d: shares.get((kind, d), Decimal(0)) for d in divisions} for kind in kinds}
    return {
        "currency": currency,
        "by_kind": {kind: {"count": count[kind], "amount": money(amount[kind], currency)} for kind in kinds},
        "shared": {"count": sum(count.values()), "amount": money(exact_sum(amount.values()), currency)},
        "attributed": {
            kind: {d: money(value, currency) for d, value in per_division.items()}
            for kind, per_division in attributed.items()
        },
        "attributed_by_division": {
            d: money(exact_sum(attributed[kind][d] for kind in kinds), currency) for d in divisions
        },
        "excluded": [
            {"kind": kind, "currency": other, "count": n, "amount": money(value, other)}
            for (kind, other), (n, value) in sorted(by_kind.items())
            if other != currency
        ],
    }
