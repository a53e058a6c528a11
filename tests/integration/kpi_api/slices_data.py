"""A small history for the slicing tests, run through the engine's own domain (DimensionsSet, merges) and the
real projector: leads from google, bing and ads and one with no source, a person whose two cookies came from
google and bing, two people of the account acme, owners, a segment, revenue of every kind, feedback."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.transaction import transaction
from services.kpi.app.projector import Projector
from tests.unit.kpi.support import T0, EngineLog

PEOPLE_IDS = ("anon-g", "anon-m1", "anon-m2", "anon-b", "anon-d", "c1", "c2", "c3", "c4", "c5", "sato", "suzuki",
              "acme")  # fmt: skip


def event(n: int, type: str, hours: float, *, anon: str | None = None, crm: str | None = None,
          account: str | None = None, **properties: Any) -> Event:  # fmt: skip
    at = T0 + timedelta(hours=hours)
    return Event(f"s{n}", type, at, "test", at, anonymous_id=anon, lead_id=crm, account_id=account,
                 properties=properties)  # fmt: skip


def envelopes() -> list[Event]:
    e = [
        # a lead from google (spring campaign, a mid-market company) that Sato works and wins, account acme
        event(1, "page_viewed", 0, anon="anon-g", path="/", utm_source="google", campaign="spring"),
        event(2, "form_submitted", 1, anon="anon-g", form_id="f", email="g@x.jp"),
        event(3, "identified", 2, anon="anon-g", crm="c1", traits={"employees": 250}),
        event(4, "lead_accepted", 30, crm="c1", owner="sato", account="acme"),
        event(5, "meeting_scheduled", 40, crm="c1", owner="sato"),
        event(6, "opportunity_won", 100, crm="c1", opportunity_id="o1", amount="100000", account="acme"),
        # one person, two cookies: google first (03:00), bing later (04:00); merged at 06:00 -> google
        event(7, "page_viewed", 3, anon="anon-m1", path="/", utm_source="google"),
        event(8, "page_viewed", 4, anon="anon-m2", path="/pricing", utm_source="bing"),
        event(9, "form_submitted", 5, anon="anon-m2", crm="c2", form_id="f", email="m@x.jp", intent="high"),
        event(10, "identified", 6, anon="anon-m1", crm="c2"),
        # bing, high intent, accepted by Suzuki: a second person of acme (its buying group)
        event(11, "page_viewed", 7, anon="anon-b", path="/", utm_source="bing"),
        event(12, "form_submitted", 8, anon="anon-b", form_id="f", email="b@x.jp", intent="high"),
        event(13, "lead_accepted", 9, anon="anon-b", crm="c3", owner="suzuki", account="acme"),
        # a direct visitor (no value anywhere), and a CRM import with feedback
        event(14, "page_viewed", 10, anon="anon-d", path="/"),
        event(15, "lead_accepted", 11, crm="c4", owner="suzuki"),
        event(
            16,
            "feedback_submitted",
            12,
            crm="c4",
            from_division="inside_sales",
            to_division="marketing",
            about="lead",
            rating=4,
            met_expectations=True,
            campaign="spring",
        ),
        event(17, "lead_disqualified", 200, crm="c4", reason="no budget"),
        event(18, "renewal_won", 500, crm="c1", amount="5000", account="acme"),
        event(19, "churned", 600, crm="c1", reason="price"),
    ]
    e.append(event(20, "opportunity_won", -30 * 24, crm="c5", opportunity_id="o5", amount="7000", utm_source="ads"))
    e.append(event(21, "upsell_won", 24, crm="c5", amount="9000"))
    return e


async def store_and_project(engine: AsyncEngine, model: StageModel) -> EngineLog:
    """The history's lead events in the store, positions in order, then projected (batches of 4)."""
    log = EngineLog(model)
    for envelope in envelopes():
        log.send([envelope])
    async with transaction(engine) as conn:
        for r in log.records:
            await conn.execute(
                "INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data) "
                "VALUES (nextval('lead_event_position_seq'), $1, $2, $3, $4, $5::timestamptz, $6::text::jsonb)",
                r.lead_id, r.version, r.event["type"], r.event["cause_event_id"],
                datetime.fromisoformat(r.event["occurred_at"]), orjson.dumps(r.event).decode(),
            )  # fmt: skip
    await Projector(engine, model, CollectorRegistry(), batch=4).catch_up()
    return log
