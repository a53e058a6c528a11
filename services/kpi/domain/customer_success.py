"""Customer success KPIs (PRODUCT.md; the NRR/GRR definitions are in docs/kpi.md "Definitions").

- customer stages: the model's stages of phase `customer` (THE MODEL: onboarding, active);
  churn stages: detours whose merge rank is a customer stage (THE MODEL: churned, ranked as active).
- churn rate(P) = transitions into a churn stage in P / balance of the customer stages at `from`.
- renewal rate(P) = renewal bookings in P / (renewal bookings in P + churn transitions in P).
- NRR(P) = revenue in P from the customers that booked revenue > 0 in the previous period of equal length,
  divided by their revenue in that previous period. GRR(P) = the same with each customer's revenue in P
  capped at its previous-period revenue (expansion left out, contraction and churn counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.common.stage_model.model_types import StageModel
from services.kpi.domain.money import money
from services.kpi.domain.stats import ratio, ratio_value

RENEWAL = "renewal"


@dataclass(frozen=True, slots=True)
class RetentionSums:
    cohort: int  # customers with revenue > 0 in the previous period
    retained: int  # of them, customers with revenue > 0 in P
    starting: Decimal  # their revenue in the previous period
    current: Decimal  # their revenue in P (all kinds)
    gross: Decimal  # sum over them of min(revenue in P, revenue in the previous period)


def customer_stages(model: StageModel) -> list[str]:
    return [name for name, stage in model.stages.items() if stage.phase == "customer"]


def churn_stages(model: StageModel) -> list[str]:
    customers = {model.stages[name].path_index for name in customer_stages(model)}
    return [name for name, stage in model.stages.items() if stage.is_detour and stage.merge_rank in customers]


def _money_ratio(numerator: Decimal, denominator: Decimal, currency: str) -> dict[str, Any]:
    return {
        "numerator": money(numerator, currency),
        "denominator": money(denominator, currency),
        "value": ratio_value(numerator, denominator),
    }


def customer_success_report(
    model: StageModel,
    *,
    customers_at_start: int,
    churned: int,
    renewals: int,
    sums: RetentionSums,
    currency: str,
) -> dict[str, Any]:
    return {
        "customer_stages": customer_stages(model),
        "churn_stages": churn_stages(model),
        "counts": {"customers_at_start": customers_at_start, "churned": churned, "renewals_won": renewals},
        "churn_rate": ratio(churned, customers_at_start),
        "renewal_rate": ratio(renewals, renewals + churned),
        **retention_report(sums, currency),
    }


def retention_report(sums: RetentionSums, currency: str) -> dict[str, Any]:
    """The retention sums with NRR and GRR (also the accounts' own, /v1/kpi/accounts)."""
    return {
        "retention": {
            "currency": currency,
            "cohort_customers": sums.cohort,
            "retained_customers": sums.retained,
            "starting_revenue": money(sums.starting, currency),
            "current_revenue": money(sums.current, currency),
            "gross_retained_revenue": money(sums.gross, currency),
        },
        "nrr": _money_ratio(sums.current, sums.starting, currency),
        "grr": _money_ratio(sums.gross, sums.starting, currency),
    }
