"""Properties over random histories made by the engine's own domain (merges, detours, wins, churn, feedback):
the projection does not depend on where batches are cut, and it agrees with the leads' final state."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.lead_events.events import StageChanged
from services.common.stage_model.model import default_model
from services.kpi.domain.projection_batch import Changes

from .support import EngineLog, MemoryTables, envelope

MODEL = default_model()
PERSONS = 4
PROPERTIES: dict[str, dict[str, Any]] = {
    "page_viewed": {"path": "/pricing"},
    "form_submitted": {"form_id": "f", "email": "e@x.io"},
    "identified": {},
    "lead_accepted": {},
    "meeting_scheduled": {},
    "meeting_held": {},
    "opportunity_won": {"opportunity_id": "o", "amount": "1200001"},
    "opportunity_lost": {"opportunity_id": "o", "reason": "budget"},
    "lead_disqualified": {"reason": "fit"},
    "onboarding_completed": {},
    "renewal_won": {"amount": "99"},
    "churned": {"reason": "price"},
    "feedback_submitted": {"from_division": "field_sales", "to_division": "marketing", "about": "lead", "rating": 2},
}


@st.composite
def histories(draw: st.DrawFn) -> EngineLog:
    """Envelopes of a few people with cookies and CRM ids that get linked (merges), sent in engine batches."""
    log = EngineLog(MODEL)
    count = draw(st.integers(1, 40))
    events = []
    for n in range(count):
        kind = draw(st.sampled_from(sorted(PROPERTIES)))
        anon = draw(st.none() | st.integers(0, PERSONS).map(lambda i: f"c{i}"))
        crm = draw(st.integers(0, PERSONS).map(lambda i: f"L{i}")) if anon is None or kind != "page_viewed" else None
        if anon is not None and crm is not None and draw(st.booleans()):
            crm = None
        properties = dict(PROPERTIES[kind])
        if kind == "form_submitted" and draw(st.booleans()):
            properties["intent"] = "high"
        events.append(
            envelope(f"e{n}", kind, n * draw(st.sampled_from([0.5, 3, 30])), anon=anon, crm=crm, **properties)
        )
    while events:
        size = draw(st.integers(1, 5))
        log.send(events[:size])
        events = events[size:]
    return log


@settings(max_examples=150, deadline=None)
@given(log=histories(), data=st.data())
def test_batches_cut_anywhere_give_the_same_tables(log: EngineLog, data: st.DataObject) -> None:
    whole = MemoryTables().project(log.records, MODEL)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(log.records)), max_size=6)))
    pieces = MemoryTables()
    for start, end in zip([0, *cuts], [*cuts, len(log.records)], strict=True):
        pieces.project(log.records[start:end], MODEL)
    assert pieces == whole
    assert whole.anomalies == []


@settings(max_examples=150, deadline=None)
@given(log=histories())
def test_the_projection_agrees_with_the_leads_final_state(log: EngineLog) -> None:
    tables = MemoryTables().project(log.records, MODEL)
    opened = tables.open_stays()
    for lead in log.leads.values():
        if lead.merged_into is not None:  # absorbed: out of every balance, pointing at its survivor
            assert lead.lead_id not in opened and tables.leads[lead.lead_id][1] == lead.merged_into
            survivor_reach = tables.leads[lead.merged_into][0]
            own = tables.leads[lead.lead_id][0]
            assert own is None or (survivor_reach is not None and survivor_reach >= own)
            continue
        stay = opened[lead.lead_id]  # the balance: exactly one open stay, in the lead's stage
        assert (stay["stage"], stay["since"], stay["sla_due_at"]) == (
            lead.stage,
            lead.stage_entered_at,
            lead.sla_due_at,
        )
        assert stay["division"] == MODEL.stages[lead.stage].division
        index = MODEL.stages[lead.stage].path_index
        assert index is None or tables.leads[lead.lead_id][0] >= index
    changes = [r.position for r in log.records if r.event["type"] == "StageChanged"]
    assert sorted(tables.transitions) == changes  # every transition, once; merges add none
    transitions_by_lead: dict[str, int] = {}
    for lead_id, *_ in tables.transitions.values():
        transitions_by_lead[lead_id] = transitions_by_lead.get(lead_id, 0) + 1
    for lead_id in {key[0] for key in tables.stays}:  # each lead's stays follow one another without a gap
        rows = [row for key, row in sorted(tables.stays.items()) if key[0] == lead_id]
        for before, after in pairwise(rows):
            assert before["exited_at"] == after["entered_at"] and before["to_stage"] == after["stage"]
        for r in rows:  # balance bounds in order; the engine's own times for durations, never negative
            assert r["since"] <= r["entered_at"] and (r["exited_at"] is None or r["entered_at"] <= r["exited_at"])
            assert (r["left_at"] is None) == (r["exited_at"] is None)
            assert r["left_at"] is None or r["exit_kind"] != "transition" or r["since"] <= r["left_at"]
        assert sum(r["entry_kind"] == "transition" for r in rows) == transitions_by_lead.get(lead_id, 0)
    for position, revenue in tables.revenue.items():
        assert sum(a for (p, _), a in tables.shares.items() if p == position) == revenue[3]
    assert sum(r[3] for r in tables.revenue.values()) == sum(
        Decimal(r.event["amount"]) for r in log.records if r.event["type"] == "RevenueBooked"
    )


def test_records_out_of_order_are_refused() -> None:
    log = EngineLog(MODEL)
    log.send([envelope("e1", "page_viewed", 0, anon="c1", path="/")])
    changes = Changes().add_records(log.records, MODEL)
    try:
        changes.add_records(log.records[:1], MODEL)
    except ValueError as exc:
        assert "out of order" in str(exc)
    else:
        raise AssertionError("a record at or below the last position was accepted")
    assert StageChanged.__name__ in {r.event["type"] for r in log.records}
