"""THE MODEL as PRODUCT.md and docs/stage-model.md describe it, written out again for the test.

Not imported from services.*: the test holds the service to the documented model, not to its own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

SUCCESS_PATH = ["visitor", "lead", "mql", "sal", "sql", "opportunity", "onboarding", "active"]
DETOURS = ["nurture", "churned"]
STAGES = SUCCESS_PATH + DETOURS
DIVISION = {
    "visitor": "marketing", "lead": "marketing", "mql": "marketing", "sal": "inside_sales", "sql": "inside_sales",
    "opportunity": "field_sales", "onboarding": "customer_success", "active": "customer_success",
    "nurture": "marketing", "churned": "customer_success",
}  # fmt: skip
PHASE = {
    "visitor": "early", "lead": "mid", "mql": "mid", "sal": "late", "sql": "late", "opportunity": "late",
    "onboarding": "customer", "active": "customer", "nurture": "detour", "churned": "detour",
}  # fmt: skip
MERGE_RANK = {**{s: i for i, s in enumerate(SUCCESS_PATH)}, "nurture": 2, "churned": 7}
DIVISIONS = ["marketing", "inside_sales", "field_sales", "customer_success"]
SLAS = {
    "mql": ("mql_accepted_24h", timedelta(hours=24)),
    "sql": ("sql_meeting_held_14d", timedelta(days=14)),
    "onboarding": ("onboarding_completed_30d", timedelta(days=30)),
}
REVENUE_KIND = {
    "opportunity_won": "new",
    "renewal_won": "renewal",
    "upsell_won": "upsell",
    "cross_sell_won": "cross_sell",
}
KINDS = ["new", "renewal", "upsell", "cross_sell"]
WEIGHTS = {
    "new": {"marketing": 30, "inside_sales": 30, "field_sales": 40},
    "renewal": {"customer_success": 100},
    "upsell": {"customer_success": 50, "field_sales": 50},
    "cross_sell": {"customer_success": 50, "field_sales": 50},
}
MINOR_UNIT = {"JPY": 0, "USD": 2, "KWD": 3}
WON_STAGE = "onboarding"
DIMENSIONS = ["source", "campaign", "segment", "owner", "account"]
UP_TO_OPPORTUNITY = SUCCESS_PATH[:6]


@dataclass(frozen=True)
class Rule:
    id: str
    on: frozenset[str] | None  # None: any event
    sources: frozenset[str]
    to: str
    high_intent: bool = False
    score_at_least: int | None = None
    gain_at_least: int | None = None


def _rule(id: str, on: str | list[str] | None, sources: list[str], to: str, **kw: Any) -> Rule:
    events = None if on is None else frozenset([on] if isinstance(on, str) else on)
    return Rule(id, events, frozenset(sources), to, **kw)


_TO_OPPORTUNITY = ["visitor", "lead", "mql", "sal", "sql", "opportunity"]
RULES = [  # the table "THE MODEL's choices", in the order written
    _rule("high_intent_form", "form_submitted", ["visitor", "lead"], "mql", high_intent=True),
    _rule("identified", ["form_submitted", "identified"], ["visitor"], "lead"),
    _rule("score_reached_mql", None, ["lead"], "mql", score_at_least=30),
    _rule("lead_accepted", "lead_accepted", ["visitor", "lead", "mql", "nurture"], "sal"),
    _rule("meeting_scheduled", "meeting_scheduled", ["visitor", "lead", "mql", "sal", "nurture"], "sql"),
    _rule(
        "opportunity_opened", ["meeting_held", "opportunity_created"], [*_TO_OPPORTUNITY[:5], "nurture"], "opportunity"
    ),
    _rule("opportunity_won", "opportunity_won", [*_TO_OPPORTUNITY, "nurture"], "onboarding"),
    _rule("win_back", "opportunity_won", ["churned"], "onboarding"),
    _rule("onboarding_completed", "onboarding_completed", ["onboarding"], "active"),
    _rule("lead_disqualified", "lead_disqualified", _TO_OPPORTUNITY, "nurture"),
    _rule("opportunity_lost", "opportunity_lost", _TO_OPPORTUNITY, "nurture"),
    _rule("recycled_high_intent_form", "form_submitted", ["nurture"], "mql", high_intent=True),
    _rule("recycled_by_score", None, ["nurture"], "mql", gain_at_least=30),
    _rule("churned", "churned", ["onboarding", "active"], "churned"),
]


def points(type: str, properties: dict[str, Any]) -> int:
    """Default scoring: page_viewed +1, or +11 under /pricing; content +5; email +2; webinar +10; form +10."""
    if type == "page_viewed":
        path = str(properties.get("path", ""))
        return 11 if path == "/pricing" or path.startswith("/pricing/") else 1
    return {"content_downloaded": 5, "email_clicked": 2, "webinar_attended": 10, "form_submitted": 10}.get(type, 0)


def path_index(stage: str) -> int | None:
    return SUCCESS_PATH.index(stage) if stage in SUCCESS_PATH else None


def outranks(challenger: str, holder: str) -> bool:
    """Merge: the stage further along the path wins (a detour ranks as its merge_rank_as stage); on equal
    rank a success-path stage beats a detour."""
    c, h = MERGE_RANK[challenger], MERGE_RANK[holder]
    return c > h or (c == h and holder in DETOURS and challenger not in DETOURS)


def chain(type: str, properties: dict[str, Any], stage: str, score: int, at_entry: int) -> list[Rule]:
    """The rules one event applies in turn: first match, again from the new stage, until nothing matches, a
    stage would repeat or a detour was entered."""
    steps: list[Rule] = []
    visited = {stage}
    while not (steps and stage in DETOURS):
        for rule in RULES:
            if stage not in rule.sources or (rule.on is not None and type not in rule.on):
                continue
            if rule.high_intent and properties.get("intent") != "high":
                continue
            if rule.score_at_least is not None and score < rule.score_at_least:
                continue
            if rule.gain_at_least is not None and score - at_entry < rule.gain_at_least:
                continue
            break
        else:
            return steps
        if rule.to in visited:
            return steps
        steps.append(rule)
        visited.add(rule.to)
        stage, at_entry = rule.to, score
    return steps
