"""The dispatcher's fold of lead events: moments, the lead's facts, and the SLA deadline of its current stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.lead_events.events import (
    DimensionsSet,
    DomainEvent,
    FeedbackRecorded,
    IdentityLinked,
    LeadsMerged,
    RevenueBooked,
    ScoreChanged,
    SlaMet,
    StageChanged,
)
from services.common.stage_model.model import default_model
from services.dispatch.domain.breaches import breach, firing_cutoff
from services.dispatch.domain.follow import LeadRecord, follow
from services.dispatch.domain.lead_facts import Deadline, LeadFacts
from services.dispatch.domain.model_rules import ModelRules

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = ModelRules.of(default_model())
_positions = iter(range(1, 10_000))


def record(event: DomainEvent, *, position: int | None = None, recorded_at: datetime = T0) -> LeadRecord:
    position = next(_positions) if position is None else position
    return LeadRecord(position, event.lead_id, 1, event, partition=3, recorded_at=recorded_at)


def moved(
    lead: str, to: str, rule: str, *, frm: str | None = None, via: tuple[str, ...] = (), due: Any = None
) -> StageChanged:
    return StageChanged(
        lead_id=lead,
        cause_event_id="e1",
        occurred_at=T0,
        from_stage=frm,
        to_stage=to,
        to_division=RULES.division_of[to],
        rule=rule,
        via=(),
        model_version="v",
        event_occurred_at=T0,
        from_entered_at=None,
        sla_due_at=due,
    )


def run(facts: LeadFacts, *events: DomainEvent) -> tuple[LeadFacts, list[Any]]:
    moments = []
    for event in events:
        facts, found = follow(facts, record(event), RULES)
        moments += found
    return facts, moments


def test_a_stage_change_is_a_stage_entered_moment_and_opens_its_slas_deadline() -> None:
    due = T0 + timedelta(hours=24)
    facts, moments = run(
        LeadFacts("L"),
        IdentityLinked(lead_id="L", cause_event_id="e0", occurred_at=T0, kind="crm", value="crm-1"),
        moved("L", "mql", "high_intent_form", due=due),
    )
    (moment,) = moments
    assert (moment.kind, moment.stage, moment.division, moment.crm_ids) == (
        "stage_entered",
        "mql",
        "marketing",
        ("crm-1",),
    )
    assert moment.details["to_stage"] == "mql" and moment.details["sla_due_at"] == due.isoformat()
    assert facts.deadline == Deadline("mql", "mql_accepted_24h", due, 3)
    after, _ = run(facts, moved("L", "sal", "lead_accepted", frm="mql"))
    assert after.deadline is None and after.stage == "sal"  # the move cancels it


def test_an_sla_met_in_time_cancels_the_deadline_and_a_late_one_does_not() -> None:
    held = LeadFacts("L", 1, "mql", "marketing", (), Deadline("mql", "x", T0, 3))
    met = SlaMet(lead_id="L", cause_event_id="e", occurred_at=T0, stage="mql", rule="x", on_time=True)
    late = SlaMet(lead_id="L", cause_event_id="e", occurred_at=T0, stage="mql", rule="x", on_time=False)
    assert run(held, met)[0].deadline is None
    assert run(held, late)[0].deadline == held.deadline


def test_a_record_seen_before_changes_nothing() -> None:
    facts = LeadFacts("L", last_position=50)
    assert follow(facts, record(moved("L", "mql", "r"), position=50), RULES) == (facts, [])
    assert follow(facts, record(moved("L", "mql", "r"), position=7), RULES) == (facts, [])


def test_lost_and_churned_are_moves_by_rules_that_fire_on_those_event_types() -> None:
    _, lost = run(LeadFacts("L"), moved("L", "nurture", "opportunity_lost", frm="opportunity"))
    _, churned = run(LeadFacts("L"), moved("L", "churned", "churned", frm="active"))
    assert [m.kind for m in lost] == ["stage_entered", "opportunity_lost"]
    assert [m.kind for m in churned] == ["stage_entered", "customer_churned"]


def test_revenue_feedback_and_score_moments_carry_the_leads_stage() -> None:
    facts = LeadFacts("L", 1, "onboarding", "customer_success", ("c",))
    won = RevenueBooked(
        lead_id="L",
        cause_event_id="e",
        occurred_at=T0,
        kind="new",
        amount="1200",
        currency="JPY",
        shares=(),
        model_version="v",
        reference="o-1",
    )
    renewal = RevenueBooked(
        lead_id="L",
        cause_event_id="e",
        occurred_at=T0,
        kind="renewal",
        amount="50",
        currency="JPY",
        shares=(),
        model_version="v",
    )
    upsell = RevenueBooked(
        lead_id="L",
        cause_event_id="e",
        occurred_at=T0,
        kind="upsell",
        amount="50",
        currency="JPY",
        shares=(),
        model_version="v",
    )
    feedback = FeedbackRecorded(
        lead_id="L",
        cause_event_id="e",
        occurred_at=T0,
        from_division="field_sales",
        to_division="inside_sales",
        about="meeting",
        rating=2,
    )
    score = ScoreChanged(lead_id="L", cause_event_id="e", occurred_at=T0, delta=11, new_score=33, rule="pricing")
    _, moments = run(facts, won, renewal, upsell, feedback, score)
    assert [m.kind for m in moments] == ["opportunity_won", "customer_renewed", "feedback_submitted", "score_crossed"]
    assert all(m.stage == "onboarding" and m.division == "customer_success" for m in moments)
    assert moments[0].details["opportunity_id"] == "o-1" and moments[0].details["amount"] == "1200"
    assert moments[3].details == {"previous_score": 22, "score": 33, "delta": 11, "rule": "pricing"}


def merge(
    role: str,
    lead: str,
    *,
    due: datetime | None,
    met: datetime | None = None,
    dimensions: tuple[tuple[str, str, str], ...] = (),
) -> LeadsMerged:
    return LeadsMerged(
        lead_id=lead,
        cause_event_id="e",
        occurred_at=T0,
        role=role,  # type: ignore[arg-type]
        survivor_id="S",
        absorbed_id="A",
        stage_before="mql",
        stage_after="mql",
        stage_entered_at_after=T0,
        score_after=40,
        score_at_stage_entry_after=10,
        identities=(("crm", "crm-A"), ("anonymous", "a1")),
        divisions_after=("marketing",),
        sla_due_at_after=due,
        sla_met_at_after=met,
        model_version="v",
        event_occurred_at=T0,
        dimensions_after=dimensions,
    )


def test_a_merge_cancels_the_absorbed_leads_deadline_and_the_survivor_keeps_the_kept_stays() -> None:
    due = T0 + timedelta(hours=1)
    absorbed = LeadFacts("A", 1, "mql", "marketing", ("crm-A",), Deadline("mql", "x", due, 1))
    assert run(absorbed, merge("absorbed", "A", due=due))[0].deadline is None
    survivor, moments = run(LeadFacts("S", 1, "visitor", "marketing"), merge("survivor", "S", due=due))
    assert moments == [] and survivor.deadline == Deadline("mql", "mql_accepted_24h", due, 3)
    assert survivor.crm_ids == ("crm-A",) and survivor.stage == "mql"
    # A deadline already passed when the merge was recorded was the absorbed lead's: it fired (or not) there.
    past = T0 - timedelta(hours=1)
    assert run(LeadFacts("S", 1, "visitor"), merge("survivor", "S", due=past))[0].deadline is None
    own = LeadFacts("S", 1, "mql", "marketing", (), Deadline("mql", "x", past, 3))
    assert run(own, merge("survivor", "S", due=past))[0].deadline is not None  # the survivor's own stays
    assert run(LeadFacts("S", 1), merge("survivor", "S", due=due, met=T0))[0].deadline is None  # met already


def test_a_breach_names_the_stay_and_fires_once_the_partition_is_read_past_the_deadline_and_the_grace() -> None:
    deadline = Deadline("mql", "mql_accepted_24h", T0, 3)
    moment = breach("L", deadline, "marketing", ("c",), T0 + timedelta(seconds=12))
    assert moment.key == f"sla_breached:L:mql:{T0.isoformat()}" and moment.occurred_at == T0
    assert moment.details == {"sla": "mql_accepted_24h", "due_at": T0.isoformat(), "stage": "mql"}
    assert firing_cutoff(T0 + timedelta(seconds=12), timedelta(seconds=10)) == T0 + timedelta(seconds=2)


def shown(lead: str, **values: str) -> DimensionsSet:
    return DimensionsSet(lead_id=lead, cause_event_id="e", occurred_at=T0, values=tuple(values.items()))


def test_a_leads_source_comes_from_its_dimensions_and_a_merge_gives_the_survivor_the_kept_value() -> None:
    facts, moments = run(LeadFacts("S"), shown("S", campaign="spring"), shown("S", source="bing", segment="smb"))
    assert facts.source == "bing" and moments == []
    facts, (entered,) = run(facts, moved("S", "mql", "high_intent_form"))
    assert entered.source == "bing"
    kept = (("source", "google", T0.isoformat()), ("campaign", "spring", T0.isoformat()))
    survivor, _ = run(facts, merge("survivor", "S", due=None, dimensions=kept))
    assert survivor.source == "google"
    unchanged, _ = run(facts, merge("survivor", "S", due=None))  # an older engine's merge carries no values
    assert unchanged.source == "bing"
    none_kept, _ = run(facts, merge("survivor", "S", due=None, dimensions=kept[1:]))
    assert none_kept.source is None
