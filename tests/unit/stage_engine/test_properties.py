"""Property-based tests over random event sequences through the shipped model (hypothesis)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.envelope import EVENT_TYPES, Event
from services.common.lead_events.event_codec import from_dict, to_dict
from services.common.lead_events.events import DomainEvent, LeadsMerged, RevenueBooked, ScoreChanged, StageChanged
from services.common.stage_model.model import DEFAULT_MODEL_PATH, default_model, load_model
from services.stage_engine.adapters.snapshot_codec import lead_from_dict, lead_from_json, lead_to_dict
from services.stage_engine.adapters.store_documents import events_document, snapshots_document
from services.stage_engine.domain.batch import BatchApplier
from services.stage_engine.domain.decide import decide
from services.stage_engine.domain.evolve import evolve, fold
from services.stage_engine.domain.lead import Lead
from services.stage_engine.domain.merge import decide_merge, merge_order

from .measure_decide import CEL_REWRITES
from .support import T0

MODEL = default_model()
CEL_TEXT = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")
for _old, _new in CEL_REWRITES:
    CEL_TEXT = CEL_TEXT.replace(_old, _new)
CEL_MODEL = load_model(CEL_TEXT)
PATH = {name: i for i, name in enumerate(MODEL.success_path)}

PROPERTIES: dict[str, Any] = {
    "page_viewed": st.fixed_dictionaries({"path": st.sampled_from(["/", "/pricing", "/pricing/x", "/pricingx", "/b"])}),
    "form_submitted": st.fixed_dictionaries(
        {"form_id": st.just("f"), "email": st.just("e@x")}, optional={"intent": st.sampled_from(["normal", "high"])}
    ),
    "opportunity_won": st.fixed_dictionaries(
        {"opportunity_id": st.just("o"), "amount": st.integers(0, 10**9).map(str)}
    ),
    "renewal_won": st.fixed_dictionaries({"amount": st.decimals(0, 10**6, places=2).map(str)}),
    "upsell_won": st.fixed_dictionaries({"amount": st.integers(1, 10**6).map(str)}),
    "cross_sell_won": st.fixed_dictionaries({"amount": st.integers(1, 10**6).map(str), "currency": st.just("USD")}),
    "feedback_submitted": st.fixed_dictionaries(
        {
            "from_division": st.just("field_sales"),
            "to_division": st.just("inside_sales"),
            "about": st.just("meeting"),
            "rating": st.integers(1, 5),
        }
    ),
    "tracked": st.fixed_dictionaries({"name": st.text(min_size=1, max_size=5)}),
}
# Weighted towards the events that move leads, so long walks through the whole model are common.
TYPES = st.one_of(
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(
        ["page_viewed", "form_submitted", "lead_accepted", "meeting_held", "opportunity_won", "opportunity_lost"]
    ),
)


@st.composite
def events(draw: st.DrawFn, prefix: str = "e") -> list[Event]:
    out, minutes = [], 0
    for i in range(draw(st.integers(1, 40))):
        kind = draw(TYPES)
        minutes += draw(st.integers(-600, 3000))  # out-of-order arrivals included
        identified = draw(st.booleans())
        out.append(
            Event(
                event_id=f"{prefix}{i}",
                type=kind,
                occurred_at=T0 + timedelta(minutes=minutes),
                source="t",
                received_at=T0,
                anonymous_id=f"{prefix}-anon",
                lead_id=f"{prefix}-crm" if identified else None,
                properties=draw(PROPERTIES.get(kind, st.just({}))),
            )
        )
    return out


def expected_points(event: Event) -> int:
    """An independent statement of PRODUCT.md's default scoring."""
    if event.type == "page_viewed":
        path = event.properties["path"]
        return 11 if path == "/pricing" or path.startswith("/pricing/") else 1
    points = {"screen_viewed": 1, "content_downloaded": 5, "email_clicked": 2, "webinar_attended": 10}
    return {**points, "form_submitted": 10}.get(event.type, 0)  # screens are treated like page views


def run(sequence: list[Event]) -> tuple[Lead, list[DomainEvent]]:
    lead: Lead | None = None
    history: list[DomainEvent] = []
    for event in sequence:
        before = lead
        out = decide(lead, event, MODEL)
        assert decide(before, event, MODEL) == out  # deterministic
        changes = [e for e in out if isinstance(e, StageChanged)]
        scores = [e for e in out if isinstance(e, ScoreChanged)]
        assert len(changes) <= 1 and len(scores) <= 1
        assert sum(s.delta for s in scores) == expected_points(event)
        if scores and changes:
            assert out.index(scores[0]) < out.index(changes[0])  # score first, then the move it caused
        for change in changes:
            check_change(change, before)
        for domain_event in out:
            lead = evolve(lead, domain_event)
            assert from_dict(json.loads(json.dumps(to_dict(domain_event)))) == domain_event
            stored_forms_agree(domain_event, lead)
        assert lead is not None and lead.stage in MODEL.stages  # exactly one stage after every event
        for booked in (e for e in out if isinstance(e, RevenueBooked)):
            check_revenue(booked, lead)
        history.extend(out)
    assert lead is not None
    return lead, history


def stored_forms_agree(domain_event: DomainEvent, lead: Lead) -> None:
    """The store's documents (orjson's own dataclass serialization) carry exactly what the dict codecs write."""
    causes = {domain_event.cause_event_id: "page_viewed"}
    [[version, kind, stored, cause_type]] = orjson.loads(events_document([(domain_event, 7)], causes))
    assert (version, {"type": kind, **stored}, cause_type) == (7, to_dict(domain_event), "page_viewed")
    [[lead_id, version, state]] = orjson.loads(snapshots_document([lead]))
    assert (lead_id, version, state) == (lead.lead_id, lead.version, lead_to_dict(lead))
    # and the store reads it back (as PostgreSQL prints jsonb) into the same lead the dict codec builds
    assert lead_from_json(json.dumps(state)) == lead_from_dict(state) == lead


def check_change(change: StageChanged, before: Lead | None) -> None:
    assert change.from_stage == (before.stage if before else None)
    if change.from_stage in PATH and change.to_stage in PATH:
        assert PATH[change.to_stage] > PATH[change.from_stage]  # never backwards except via a detour
    if change.from_entered_at is not None:
        assert change.occurred_at >= change.from_entered_at  # no negative stay
    assert change.occurred_at >= change.event_occurred_at or change.occurred_at == change.from_entered_at


def check_revenue(booked: RevenueBooked, lead: Lead) -> None:
    assert sum(Decimal(amount) for _, amount in booked.shares) == Decimal(booked.amount)  # exactly
    weighted = {d for d, w in MODEL.attribution[booked.kind].items() if w > 0}
    expected = (weighted & lead.divisions) or weighted  # divisions that owned a stage; else the weights as written
    assert {division for division, _ in booked.shares} == expected


@settings(max_examples=300, deadline=None)
@given(events())
def test_random_sequences_keep_the_invariants(sequence: list[Event]) -> None:
    lead, history = run(sequence)
    rules = {rule.id: rule.points for rule in MODEL.scoring}
    assert lead.score == sum(rules[e.rule] for e in history if isinstance(e, ScoreChanged))
    assert lead.score == sum(expected_points(e) for e in sequence)
    assert fold(history) == lead
    assert fold(from_dict(json.loads(json.dumps(to_dict(e)))) for e in history) == lead  # the stored form
    assert lead.version == len(history)


def without_version(events: list[DomainEvent]) -> list[dict[str, Any]]:
    return [{k: v for k, v in to_dict(e).items() if k != "model_version"} for e in events]


@settings(max_examples=60, deadline=None)
@given(events())
def test_cel_conditions_decide_exactly_like_the_structured_ones(sequence: list[Event]) -> None:
    whens = [t.when for t in CEL_MODEL.transitions] + [s.when for s in CEL_MODEL.scoring]
    assert sum(when is not None for when in whens) == 5
    structured: Lead | None = None
    cel: Lead | None = None
    for event in sequence:
        expected, got = decide(structured, event, MODEL), decide(cel, event, CEL_MODEL)
        assert without_version(got) == without_version(expected)
        structured, cel = fold(expected, structured), fold(got, cel)


@settings(max_examples=150, deadline=None)
@given(events("a"), events("b"))
def test_merging_two_random_leads(first: list[Event], second: list[Event]) -> None:
    a, history_a = run(first)
    b, history_b = run(second)
    survivor, absorbed = merge_order(a, b)
    cause = Event("m", "identified", T0 + timedelta(days=400), "t", T0, anonymous_id="a-anon", lead_id="b-crm")
    out = decide_merge(survivor, absorbed, cause, MODEL)
    streams = {a.lead_id: history_a, b.lead_id: history_b}
    for merged in out:
        assert isinstance(merged, LeadsMerged)
        streams[merged.lead_id].append(merged)
    merged_survivor, merged_absorbed = fold(streams[survivor.lead_id]), fold(streams[absorbed.lead_id])
    for merged in out:
        stored_forms_agree(merged, merged_survivor if merged.lead_id == survivor.lead_id else merged_absorbed)
    assert merged_survivor.score == a.score + b.score
    assert merged_survivor.stage in (a.stage, b.stage)
    ranks = [MODEL.stages[s].merge_rank for s in (a.stage, b.stage) if s]
    assert MODEL.stages[merged_survivor.stage or ""].merge_rank == max(ranks)
    assert merged_survivor.identities == a.identities | b.identities
    assert merged_absorbed.merged_into == survivor.lead_id
    follow_up = Event(
        "next", "page_viewed", cause.occurred_at, "t", T0, anonymous_id="a-anon", properties={"path": "/"}
    )
    assert decide(merged_survivor, follow_up, MODEL)  # the survivor keeps working


@settings(max_examples=200, deadline=None)
@given(events())
def test_a_batch_builds_one_lead_per_envelope_equal_to_evolving_event_by_event(sequence: list[Event]) -> None:
    lead, history = run(sequence)  # decide, then evolve one domain event at a time
    batch = BatchApplier({}, {}, MODEL)
    for event in sequence:
        batch.apply(event, ())
    outcome = batch.outcome
    assert not outcome.rejected
    assert [domain_event for domain_event, _ in outcome.appended] == history
    assert [version for _, version in outcome.appended] == list(range(1, len(history) + 1))
    assert outcome.leads == {lead.lead_id: lead}
