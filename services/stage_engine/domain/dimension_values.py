"""A lead's dimension values (docs/stage-model.md "Dimensions"): what an event sets, and what a merge keeps.

A lead holds, per dimension, the value and when it was set (the event time of the observation that set it, as
UTC RFC 3339 text, which compares as time). An event that shows a different value replaces it when the
dimension's rule says so: "first" when the event happened before the value was set, "last" when at or after
it. Showing the same value again changes nothing. A merge keeps, per dimension, the value set earliest
("first") or latest ("last") of the two leads; a tie keeps the survivor's. Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from services.common.envelope import Event
from services.common.lead_events.events import DimensionsSet
from services.common.stage_model.dimensions import wins
from services.common.stage_model.model_types import StageModel

Held = tuple[tuple[str, str, str], ...]  # (dimension, value, set at), sorted by dimension


@lru_cache(maxsize=1)
def set_at_text(at: datetime) -> str:
    """The time as the lead holds it. Remembered for the last time asked: an event's time is asked for by each
    dimension it competes for and again when its DimensionsSet is applied (it runs for most page views); equal
    aware times are the same instant, so they share one text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def observed(held: Held, event: Event, model: StageModel, lead_id: str) -> DimensionsSet | None:
    """The DimensionsSet `event` causes for a lead holding `held`, or None. The hot path: most events show no
    value, or the value held; the time is formatted only when two different values compete."""
    changed: list[tuple[str, str]] | None = None
    for dimension in model.dimensions_by_event.get(event.type, ()):
        value = dimension.observe(event)
        if value is None:
            continue
        for name, held_value, set_at in held:
            if name == dimension.name:
                if held_value != value and wins(dimension.touch, set_at_text(event.occurred_at), set_at):
                    changed = changed or []
                    changed.append((name, value))
                break
        else:
            changed = changed or []
            changed.append((dimension.name, value))
    if changed is None:
        return None
    return DimensionsSet(
        lead_id=lead_id, cause_event_id=event.event_id, occurred_at=event.occurred_at, values=tuple(changed)
    )


def with_values(held: Held, values: tuple[tuple[str, str], ...], at: datetime) -> Held:
    """`held` after a DimensionsSet of `values` observed at `at`."""
    found = {name: (value, set_at) for name, value, set_at in held}
    text = set_at_text(at)
    for name, value in values:
        found[name] = (value, text)
    return tuple((name, *found[name]) for name in sorted(found))


def merged(survivor: Held, absorbed: Held, model: StageModel) -> Held:
    """The survivor's values after a merge: per dimension the one the rule keeps; a tie keeps the survivor's."""
    mine = {h[0]: h for h in survivor}
    theirs = {h[0]: h for h in absorbed}
    kept = []
    for name in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(name), theirs.get(name)
        if a is None or b is None:
            kept.append(a or b)
            continue
        dimension = model.dimension(name)
        touch = dimension.touch if dimension is not None else "first"
        later_wins = touch == "last" and b[2] > a[2]
        earlier_wins = touch == "first" and b[2] < a[2]
        kept.append(b if later_wins or earlier_wins else a)
    return tuple(h for h in kept if h is not None)
