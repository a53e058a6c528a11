"""The projection of concrete histories: a journey, merges both ways, SLAs met, refusals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from services.common.lead_events.event_codec import to_dict
from services.common.lead_events.events import LeadCreated, SlaMet, StageChanged
from services.common.stage_model.model import default_model
from services.kpi.domain.projection import (
    CloseStay,
    LeadEventRecord,
    OpenStay,
    ProjectionError,
    ReachStage,
    RecordTransition,
    project,
)

from .support import T0, EngineLog, MemoryTables, envelope

MODEL = default_model()
H = timedelta(hours=1)


def balance(tables: MemoryTables, stage: str, hours: float) -> int:
    t = T0 + timedelta(hours=hours)
    return sum(
        1
        for row in tables.stays.values()
        if row["stage"] == stage and row["entered_at"] <= t and (row["exited_at"] is None or t < row["exited_at"])
    )


def test_a_journey_with_a_skip_gives_one_stay_per_stage_transitions_revenue_and_feedback() -> None:
    log = EngineLog(MODEL)
    log.send([envelope("e1", "page_viewed", 0, anon="c1", path="/")])
    log.send([envelope("e2", "form_submitted", 1, anon="c1", crm="L1", form_id="f", email="a@x.io")])
    log.send([envelope("e3", "lead_accepted", 2, crm="L1")])
    log.send([envelope("e4", "meeting_scheduled", 3, crm="L1")])
    log.send([envelope("e5", "opportunity_won", 4, crm="L1", opportunity_id="o1", amount="1000000")])
    log.send(
        [
            envelope(
                "e6", "feedback_submitted", 5, crm="L1", from_division="field_sales", to_division="inside_sales",
                about="meeting", rating=4, met_expectations=True, campaign="spring",
            )
        ]
    )  # fmt: skip
    tables = MemoryTables().project(log.records, MODEL)
    lead = log.lead_of(("crm", "L1")).lead_id

    path = [(t[1], t[2]) for _, t in sorted(tables.transitions.items())]
    assert path == [(None, "visitor"), ("visitor", "lead"), ("lead", "sal"), ("sal", "sql"), ("sql", "onboarding")]
    stays = [tables.stays[k] for k in sorted(tables.stays)]
    assert [s["stage"] for s in stays] == ["visitor", "lead", "sal", "sql", "onboarding"]
    for before, after in pairwise(stays):
        assert before["exited_at"] == after["entered_at"] and before["to_stage"] == after["stage"]
        assert before["exit_kind"] == "transition" and after["entry_kind"] == "transition"
    assert stays[-1]["exited_at"] is None and stays[-1]["division"] == "customer_success"
    assert [s["since"] for s in stays] == [s["entered_at"] for s in stays]
    assert stays[2]["sla_due_at"] is None and stays[3]["sla_due_at"] == T0 + 3 * H + timedelta(days=14)
    assert tables.leads[lead] == [MODEL.stages["onboarding"].path_index, None]

    [(revenue_position, revenue)] = tables.revenue.items()
    assert revenue[2:5] == ("new", Decimal("1000000"), "JPY")
    shares = {d: a for (p, d), a in tables.shares.items() if p == revenue_position}
    # field sales never owned a stage of this lead (the win skipped opportunity): its weight goes to the others
    assert shares == {"marketing": Decimal("500000"), "inside_sales": Decimal("500000")}
    [feedback] = tables.feedback.values()
    assert feedback == (lead, "field_sales", "inside_sales", 4, T0 + 5 * H)
    assert tables.anomalies == []


def test_a_merge_into_a_lead_further_behind_moves_the_survivor_without_a_transition() -> None:
    log = EngineLog(MODEL)
    log.send([envelope("a1", "page_viewed", 0, anon="c1", path="/")])  # A: created first, survives
    log.send([envelope("b1", "form_submitted", 1, crm="L2", form_id="f", email="b@x.io", intent="high")])  # B: mql
    log.send([envelope("m1", "identified", 2, anon="c1", crm="L2")])
    survivor = log.lead_of(("anonymous", "c1"))
    assert survivor.lead_id == log.lead_of(("crm", "L2")).lead_id and survivor.created_at == T0
    tables = MemoryTables().project(log.records, MODEL)

    assert len(tables.transitions) == 2  # A -> visitor, B -> mql; the merge is not a transition
    opened = tables.open_stays()
    assert list(opened) == [survivor.lead_id]
    assert opened[survivor.lead_id] | {"seq": 0} == {
        "lead_id": survivor.lead_id, "seq": 0, "stage": "mql", "division": "marketing", "entered_at": T0 + 2 * H,
        "since": T0 + 1 * H, "entry_kind": "merge", "sla_due_at": T0 + 1 * H + timedelta(hours=24),
        "sla_met_at": None, "exited_at": None, "exit_kind": None, "to_stage": None, "left_at": None,
    }  # fmt: skip
    closed = {row["lead_id"]: row for row in tables.stays.values() if row["exited_at"] is not None}
    assert {lead: (r["stage"], r["exit_kind"], r["to_stage"]) for lead, r in closed.items()} == {
        survivor.lead_id: ("visitor", "merge", "mql"),
        next(iter(set(closed) - {survivor.lead_id})): ("mql", "absorbed", "mql"),
    }
    # the person counts once in mql throughout; two leads became one
    assert [balance(tables, "mql", h) for h in (0.5, 1.5, 2, 2.5)] == [0, 1, 1, 1]
    assert [balance(tables, "visitor", h) for h in (0.5, 1.5, 2.5)] == [1, 1, 0]
    absorbed_id = next(lead for lead, row in tables.leads.items() if row[1] is not None)
    assert tables.leads[absorbed_id] == [2, survivor.lead_id]
    assert tables.leads[survivor.lead_id][0] == 2  # inherited: the person reached mql


def test_a_merge_into_a_lead_further_ahead_only_removes_the_absorbed_lead() -> None:
    log = EngineLog(MODEL)
    log.send([envelope("a1", "lead_accepted", 0, crm="L1")])  # A: sal, created first
    log.send([envelope("b1", "page_viewed", 1, anon="c2", path="/pricing")])  # B: visitor
    log.send([envelope("m1", "page_viewed", 2, anon="c2", crm="L1", path="/")])
    tables = MemoryTables().project(log.records, MODEL)
    survivor = log.lead_of(("crm", "L1"))
    opened = tables.open_stays()
    assert {lead: row["stage"] for lead, row in opened.items()} == {survivor.lead_id: "sal"}
    assert opened[survivor.lead_id]["entry_kind"] == "transition" and opened[survivor.lead_id]["seq"] == 3
    assert [balance(tables, "visitor", h) for h in (1.5, 2.5)] == [1, 0]
    assert sorted(r["exit_kind"] for r in tables.stays.values() if r["exited_at"]) == ["absorbed"]


@pytest.mark.parametrize("cut", range(0, 16))
def test_a_late_event_after_a_merge_keeps_the_balance_in_order_and_the_engines_durations(cut: int) -> None:
    log = EngineLog(MODEL)
    log.send([envelope("a1", "page_viewed", 0, anon="c1", path="/")])  # A: visitor, created first
    log.send([envelope("b1", "form_submitted", 6, crm="L2", form_id="f", email="b@x.io")])  # B: lead since 6 h
    log.send([envelope("m1", "page_viewed", 60, anon="c1", crm="L2", path="/")])  # merge at 60 h: A in lead
    log.send([envelope("x1", "lead_accepted", 12, crm="L2")])  # arrives late: lead -> sal at 12 h (engine time)
    records = log.records
    tables = MemoryTables().project(records[:cut], MODEL).project(records[cut:], MODEL)
    survivor = log.lead_of(("crm", "L2")).lead_id
    lead_stay, sal_stay = sorted(
        (r for r in tables.stays.values() if r["lead_id"] == survivor), key=lambda r: r["seq"]
    )[1:]
    assert (lead_stay["since"], lead_stay["entered_at"], lead_stay["exited_at"], lead_stay["left_at"]) == (
        T0 + 6 * H, T0 + 60 * H, T0 + 60 * H, T0 + 12 * H,
    )  # fmt: skip
    assert (sal_stay["since"], sal_stay["entered_at"], sal_stay["exited_at"]) == (T0 + 12 * H, T0 + 60 * H, None)
    assert [t[2:5] for t in tables.transitions.values()][-1] == ("sal", "lead_accepted", T0 + 12 * H)
    # before the merge two leads (A a visitor, B a lead); after it one, in sal
    assert [balance(tables, s, 30) for s in ("visitor", "lead", "sal")] == [1, 1, 0]
    assert [balance(tables, s, 61) for s in ("visitor", "lead", "sal")] == [0, 0, 1]
    assert tables.anomalies == []


def _records(*events: object) -> list[LeadEventRecord]:
    return [LeadEventRecord(i + 10, "x", i + 1, to_dict(e)) for i, e in enumerate(events)]  # type: ignore[arg-type]


def _stage(from_stage: str | None, to_stage: str, hours: float, due: float | None = None) -> StageChanged:
    at = T0 + hours * H
    return StageChanged(
        lead_id="x", cause_event_id=f"c{hours}", occurred_at=at, from_stage=from_stage, to_stage=to_stage,
        to_division=MODEL.stages[to_stage].division, rule="r", via=(), model_version="v", event_occurred_at=at,
        from_entered_at=None, sla_due_at=None if due is None else T0 + due * H,
    )  # fmt: skip


@pytest.mark.parametrize("cut", range(5))
def test_an_sla_met_while_staying_is_kept_on_that_stay_wherever_the_batch_is_cut(cut: int) -> None:
    records = _records(
        LeadCreated(lead_id="x", cause_event_id="c0", occurred_at=T0, model_version="v"),
        _stage(None, "mql", 0, due=24),
        SlaMet(lead_id="x", cause_event_id="c1", occurred_at=T0 + 2 * H, stage="mql", rule="s", on_time=True),
        SlaMet(lead_id="x", cause_event_id="c2", occurred_at=T0 + 3 * H, stage="mql", rule="s", on_time=True),
        _stage("mql", "sal", 30),
    )
    tables = MemoryTables().project(records[:cut], MODEL).project(records[cut:], MODEL)
    mql = tables.stays[("x", 2)]
    assert (mql["sla_due_at"], mql["sla_met_at"], mql["exited_at"]) == (T0 + 24 * H, T0 + 2 * H, T0 + 30 * H)
    assert tables.stays[("x", 5)]["sla_met_at"] is None and tables.anomalies == []


def test_the_operations_of_one_stage_change() -> None:
    [record] = _records(_stage("lead", "sql", 5))
    assert project(record, MODEL) == (
        CloseStay("x", T0 + 5 * H, "transition", "sql"),
        OpenStay("x", 1, "sql", "inside_sales", T0 + 5 * H, T0 + 5 * H, "transition", None),
        RecordTransition(10, "x", "lead", "sql", "r", T0 + 5 * H),
        ReachStage("x", 4),
    )
    [detour] = _records(_stage("sql", "nurture", 6))
    assert project(detour, MODEL)[-1] == ReachStage("x", None)  # a detour is not on the success path


def test_records_it_cannot_read_are_refused_naming_the_position() -> None:
    with pytest.raises(ProjectionError, match="position 7: unknown domain event type 'Nope'"):
        project(LeadEventRecord(7, "x", 1, {"type": "Nope"}), MODEL)
    [record] = _records(_stage(None, "mql", 0))
    with pytest.raises(ProjectionError, match="position 10: event of x in stream y"):
        project(LeadEventRecord(10, "y", 1, record.event), MODEL)
    revenue = {"type": "RevenueBooked", "lead_id": "x", "cause_event_id": "e", "occurred_at": T0.isoformat(),
               "kind": "new", "amount": "twelve", "currency": "JPY", "shares": [], "model_version": "v"}  # fmt: skip
    with pytest.raises(ProjectionError, match="position 11: InvalidOperation"):
        project(LeadEventRecord(11, "x", 3, revenue), MODEL)
