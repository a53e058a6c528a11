"""The lead view's activity, campaigns and score history, shaped from the stored rows. Pure; bounded in size:
at most TOP_KEYS paths, screens and campaigns each and SCORE_CHANGES_SHOWN score changes, the rest summed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.stage_engine.adapters.lead_activity_queries import ActivityRow, ScoreChange
from services.stage_engine.domain.activity import (
    BEFORE,
    NO_CAMPAIGN,
    NOT_ITEMISED,
    PAGE,
    SCREEN,
    SINCE,
    campaign_from_key,
)

TOP_KEYS = 20
SCORE_CHANGES_SHOWN = 50


@dataclass
class Summed:
    """The rows of one path, screen or campaign added up."""

    name: str
    views: int
    first_seen: datetime
    last_seen: datetime
    views_before: int = 0  # those counted before identification


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def summed(rows: Iterable[ActivityRow], by: str) -> dict[str, Summed]:
    """Rows added up by their `key` (path or screen) or their `campaign`."""
    out: dict[str, Summed] = {}
    for r in rows:
        name = getattr(r, by)
        held = out.get(name)
        if held is None:
            held = out[name] = Summed(name, 0, r.first_seen, r.last_seen)
        held.views += r.views
        held.first_seen, held.last_seen = min(held.first_seen, r.first_seen), max(held.last_seen, r.last_seen)
        held.views_before += r.views if r.phase == BEFORE else 0
    return out


def _span(rows: Sequence[ActivityRow]) -> tuple[str | None, str | None]:
    if not rows:
        return None, None
    return _time(min(r.first_seen for r in rows)), _time(max(r.last_seen for r in rows))


def counted(rows: Sequence[ActivityRow], label: str, plural: str) -> dict[str, Any]:
    """Views by key (`label`: path or name), the TOP_KEYS most viewed first (then the latest seen, then by key)."""
    keys = summed(rows, "key")
    not_itemised = keys.pop(NOT_ITEMISED, None)
    ranked = sorted(keys.values(), key=lambda k: (-k.views, -k.last_seen.timestamp(), k.name))
    first_seen, last_seen = _span(rows)
    beyond = ranked[TOP_KEYS:]
    return {
        "views": sum(r.views for r in rows),
        plural: len(ranked),
        "first_seen": first_seen,
        "last_seen": last_seen,
        "top": [
            {label: k.name, "views": k.views, "first_seen": _time(k.first_seen), "last_seen": _time(k.last_seen)}
            for k in ranked[:TOP_KEYS]
        ],
        "beyond_top": {plural: len(beyond), "views": sum(k.views for k in beyond)},
        "not_itemised_views": 0 if not_itemised is None else not_itemised.views,
    }


def phase_view(rows: Sequence[ActivityRow], phase: str) -> dict[str, Any]:
    pages = [r for r in rows if r.phase == phase and r.kind == PAGE]
    screens = [r for r in rows if r.phase == phase and r.kind == SCREEN]
    first_seen, last_seen = _span(pages + screens)
    return {
        "first_seen": first_seen,
        "last_seen": last_seen,
        "page_views": counted(pages, "path", "paths"),
        "screen_views": counted(screens, "name", "screens"),
    }


def activity_view(rows: Sequence[ActivityRow], identification: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "identified_at": identification["at"] if identification else None,
        "identified_by": identification["by"] if identification else None,
        "before_identification": phase_view(rows, BEFORE),
        "since_identification": phase_view(rows, SINCE),
    }


def _campaign(key: str) -> dict[str, str | None]:
    campaign, source, medium = campaign_from_key(key)
    return {"campaign": campaign, "source": source, "medium": medium}


def campaigns_view(rows: Iterable[ActivityRow]) -> dict[str, Any]:
    """The campaigns the views came with, in the order they first brought the person (both phases, pages and
    screens together). Views past the stored rows' cap are not itemised and so have no campaign."""
    by_campaign = summed((r for r in rows if r.campaign != NO_CAMPAIGN), "campaign")
    named = sorted(by_campaign.values(), key=lambda c: (c.first_seen, c.name))
    first = named[0] if named else None
    last = max(named, key=lambda c: (c.last_seen, c.name), default=None)
    beyond = named[TOP_KEYS:]
    return {
        "views": sum(c.views for c in named),
        "first_touch": None if first is None else {**_campaign(first.name), "at": _time(first.first_seen)},
        "last_touch": None if last is None else {**_campaign(last.name), "at": _time(last.last_seen)},
        "campaigns": [
            {
                **_campaign(c.name),
                "views": c.views,
                "views_before_identification": c.views_before,
                "first_seen": _time(c.first_seen),
                "last_seen": _time(c.last_seen),
            }
            for c in named[:TOP_KEYS]
        ],
        "beyond_top": {"campaigns": len(beyond), "views": sum(c.views for c in beyond)},
    }


def score_history(score: int, shown: Sequence[ScoreChange], count: int, points: int) -> dict[str, Any]:
    """The score with the changes behind it: `shown` (the latest, oldest first) of `count`, worth `points` in all
    (every change of every merged stream: a merge adds the scores up, so `points` is the score)."""
    return {
        "score": score,
        "changes": count,
        "shown": [
            {
                "rule": c.rule,
                "points": c.points,
                "event": {"event_id": c.cause_event_id, "type": c.cause_type, "occurred_at": c.occurred_at},
                "lead_id": c.lead_id,
                "position": c.position,
            }
            for c in shown
        ],
        "before_shown": {"changes": count - len(shown), "points": points - sum(c.points for c in shown)},
    }
