"""Subscriptions, compiled: which moments go to which endpoints (docs/dispatch.md "Subscriptions").

A moment goes to an endpoint once, however many subscriptions route it there. `score_crossed` is the one
moment a subscription shapes: it matches a score change that brings the score from below the subscription's
`score_at_least` to it or above, and each threshold crossed is a moment of its own (its key ends in the
threshold), so two thresholds crossed by one event are two messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from services.dispatch.domain.moments import Moment, MomentKind
from services.dispatch.domain.signing import Secret

Format = Literal["standard-webhooks", "slack"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # from the file; the `endpoint` label of the metrics (bounded by the file)
    url: str
    format: Format
    secret: Secret | None  # required for standard-webhooks; optional for slack (its URL is its secret)


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    moments: frozenset[MomentKind]
    endpoints: tuple[str, ...]
    stages: frozenset[str] | None = None  # None: any
    divisions: frozenset[str] | None = None
    sources: frozenset[str] | None = None  # the lead's value of the model's `source` dimension
    score_at_least: int | None = None  # required when `moments` holds score_crossed

    def matches(self, moment: Moment) -> bool:
        if moment.kind not in self.moments:
            return False
        if self.stages is not None and moment.stage not in self.stages:
            return False
        if self.divisions is not None and moment.division not in self.divisions:
            return False
        if self.sources is not None and moment.source not in self.sources:
            return False
        if moment.kind == "score_crossed":
            threshold = self.score_at_least
            before, after = moment.details.get("previous_score"), moment.details.get("score")
            if threshold is None or not isinstance(before, int) or not isinstance(after, int):
                return False
            return before < threshold <= after
        return True

    def shaped(self, moment: Moment) -> Moment:
        """The moment as this subscription sends it: a crossing names its threshold."""
        if moment.kind != "score_crossed":
            return moment
        return replace(
            moment,
            key=f"{moment.key}:{self.score_at_least}",
            details={**moment.details, "threshold": self.score_at_least},
        )


@dataclass(frozen=True, slots=True)
class Addressed:
    moment: Moment
    endpoint: str


@dataclass(frozen=True, slots=True)
class Subscriptions:
    endpoints: Mapping[str, Endpoint]
    subscriptions: tuple[Subscription, ...]

    def route(self, moment: Moment) -> list[Addressed]:
        """Each (moment, endpoint) the subscriptions send, once per moment key and endpoint."""
        out: dict[tuple[str, str], Addressed] = {}
        for subscription in self.subscriptions:
            if not subscription.matches(moment):
                continue
            shaped = subscription.shaped(moment)
            for endpoint in subscription.endpoints:
                out.setdefault((shaped.key, endpoint), Addressed(shaped, endpoint))
        return list(out.values())

    @property
    def wanted(self) -> frozenset[MomentKind]:
        return frozenset(kind for s in self.subscriptions for kind in s.moments)


NO_SUBSCRIPTIONS = Subscriptions(endpoints={}, subscriptions=())
