"""The compiled stage model's types. Built only by `model.load_model` (which validates everything)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from services.common.stage_model.conditions import Condition
from services.common.stage_model.dimensions import Dimension
from services.common.stage_model.property_match import PropertyTest


class ModelError(ValueError):
    """An invalid stage model: `line` (1-based, None when unknown) and `reason` in plain words."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source} line {line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class ModelIssue(ValueError):
    """A problem at a path inside the model data; the loader turns it into a `ModelError` with the line."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    division: str
    phase: str
    path_index: int | None  # position on the success path; None for a detour
    merge_rank: int  # success-path index this stage counts as when two leads merge

    @property
    def is_detour(self) -> bool:
        return self.path_index is None


@dataclass(frozen=True, slots=True, eq=False)
class Transition:
    id: str
    on: frozenset[str] | None  # None: any event
    from_stages: frozenset[str] | None  # None: any stage
    to: str
    where: tuple[PropertyTest, ...] = ()
    score_at_least: int | None = None
    score_gain_at_least: int | None = None
    when: Condition | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ScoringRule:
    id: str
    on: frozenset[str] | None
    points: int
    where: tuple[PropertyTest, ...] = ()
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class Sla:
    id: str
    stage: str
    within: timedelta
    satisfied_by: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, eq=False)
class StageModel:
    name: str
    version: str
    divisions: tuple[str, ...]
    stages: Mapping[str, Stage]
    success_path: tuple[str, ...]
    initial_stage: str
    initial_rule: str
    transitions: tuple[Transition, ...]
    scoring: tuple[ScoringRule, ...]
    slas: Mapping[str, Sla]  # by stage
    revenue_kinds: Mapping[str, str]  # event type -> kind
    attribution: Mapping[str, Mapping[str, int]]  # kind -> division -> weight
    currency: str = "JPY"
    dimensions: tuple[Dimension, ...] = ()  # in declaration order
    # The model's `personal:` list: keys it marks personal besides the built-in ones (no dimension is drawn
    # from them; the ingest seals them on identified events, docs/privacy.md).
    personal: tuple[str, ...] = ()
    # Precomputed lookups for the hot path: (stage, event type) -> candidate rules in declared order.
    _transitions: Mapping[tuple[str, str], tuple[Transition, ...]] = field(default_factory=dict, repr=False)
    _any_event_transitions: Mapping[str, tuple[Transition, ...]] = field(default_factory=dict, repr=False)
    _scoring: Mapping[str, tuple[ScoringRule, ...]] = field(default_factory=dict, repr=False)
    _any_event_scoring: tuple[ScoringRule, ...] = field(default=(), repr=False)
    # Event type -> the dimensions an event of that type may show a value for (the engine's hot path).
    dimensions_by_event: Mapping[str, tuple[Dimension, ...]] = field(default_factory=dict, repr=False)

    def dimensions_for(self, event_type: str) -> tuple[Dimension, ...]:
        return self.dimensions_by_event.get(event_type, ())

    def dimension(self, name: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.name == name), None)

    def transitions_for(self, stage: str, event_type: str) -> tuple[Transition, ...]:
        """Rules that may move a lead in `stage` on `event_type`; backward moves are already left out."""
        found = self._transitions.get((stage, event_type))
        return found if found is not None else self._any_event_transitions.get(stage, ())

    def scoring_for(self, event_type: str) -> tuple[ScoringRule, ...]:
        found = self._scoring.get(event_type)
        return found if found is not None else self._any_event_scoring

    def with_currency(self, currency: str) -> StageModel:
        return replace(self, currency=currency)
