"""Feedback between divisions (PRODUCT.md "feedback(P)"): count, mean rating, met-expectations share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.kpi.domain.stats import ratio, ratio_value


@dataclass(frozen=True, slots=True)
class FeedbackSums:
    count: int
    rating_sum: int
    met: int  # met_expectations = true
    answered: int  # met_expectations given (true or false); feedback without it is left out of the share

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_rating": {
                "numerator": self.rating_sum,
                "denominator": self.count,
                "value": ratio_value(self.rating_sum, self.count),
            },
            "met_expectations": ratio(self.met, self.answered),
        }


def feedback_report(pairs: dict[tuple[str, str], FeedbackSums], campaigns: dict[str, FeedbackSums]) -> dict[str, Any]:
    return {
        "by_divisions": [
            {"from_division": source, "to_division": target, **sums.to_json()}
            for (source, target), sums in sorted(pairs.items())
        ],
        "by_campaign": [{"campaign": name, **sums.to_json()} for name, sums in sorted(campaigns.items())],
    }
