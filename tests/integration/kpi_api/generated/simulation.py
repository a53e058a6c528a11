"""Runs the generated envelopes through THE MODEL (as documented) and records what the KPIs are built from.

The record: every stay (stage, the balance bounds `entered_at`/`exited_at`, the person's `since`/`left_at`,
how it ended, its SLA deadline), every transition with its (clamped) time, each lead's furthest
success-path index, survivor and dimension values, every booking with its attributed shares, every feedback.

The rules followed (docs/stage-model.md, docs/kpi.md "What each domain event does"): an event id seen before
is ignored; an event whose identities (cookie, CRM id, normalised email of a form/identify) belong to two leads
merges them first (the earlier-created survives, the further stage wins with its entry time, SLA and points
since entry, scores add up); a move's time is max(event time, entry of the stay it ends); balance bounds never
go back in time within a lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.common.envelope import Event
from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.attribution import split
from tests.integration.kpi_api.generated.dimensions import Held, merged, observe


@dataclass
class Stay:
    lead: str
    stage: str
    entered_at: datetime
    since: datetime
    sla_due: datetime | None
    exited_at: datetime | None = None
    left_at: datetime | None = None
    exit_kind: str | None = None
    next_stage: str | None = None  # where the person is after it (a merge: the survivor's stage)


@dataclass(frozen=True)
class Move:
    lead: str
    source: str | None
    target: str
    at: datetime


@dataclass(frozen=True)
class Booking:
    lead: str
    kind: str
    amount: Decimal
    currency: str
    at: datetime
    account: str | None
    shares: dict[str, Decimal]


@dataclass(frozen=True)
class Feedback:
    lead: str
    source: str
    target: str
    rating: int
    met: bool | None
    campaign: str | None
    at: datetime


@dataclass
class Lead:
    id: str
    created_at: datetime
    stage: str | None = None
    entered: datetime | None = None  # the engine's entry time of the current stage
    score: int = 0
    score_at_entry: int = 0
    divisions: set[str] = field(default_factory=set)
    sla_due: datetime | None = None
    furthest: int | None = None
    merged_into: str | None = None
    stay: Stay | None = None
    last_exit: datetime | None = None
    values: Held = field(default_factory=dict)  # dimension -> (value, set at): dimensions.py


@dataclass
class Record:
    leads: dict[str, Lead] = field(default_factory=dict)
    stays: list[Stay] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    merges: int = 0
    duplicates: int = 0
    late: int = 0  # events older than the stage they found the lead in (their move time was clamped)
    mixed_merges: int = 0  # merges of two leads that came from two different sources

    def person(self, lead: str) -> Lead:
        found = self.leads[lead]
        while found.merged_into is not None:
            found = self.leads[found.merged_into]
        return found


class Simulation:
    def __init__(self) -> None:
        self.record = Record()
        self._seen: set[str] = set()
        self._owner: dict[tuple[str, str], str] = {}

    def apply(self, event: Event) -> None:
        if event.event_id in self._seen:
            self.record.duplicates += 1
            return
        self._seen.add(event.event_id)
        ids = identities(event)
        found: list[Lead] = []
        for identity in ids:
            if identity in self._owner:
                lead = self.record.person(self._owner[identity])
                if lead not in found:
                    found.append(lead)
        assert len(found) <= 2, f"{event.event_id}: the generator never joins three leads at once"
        known = self._merge(found[0], found[1], event) if len(found) == 2 else (found[0] if found else None)
        lead = self._decide(known, event)
        observe(lead.values, event)
        for identity in ids:
            self._owner.setdefault(identity, lead.id)

    def _open(self, lead: Lead, stage: str, at: datetime, since: datetime, due: datetime | None) -> None:
        entered = at if lead.last_exit is None else max(at, lead.last_exit)
        lead.stay = Stay(lead.id, stage, entered, since, due)
        self.record.stays.append(lead.stay)

    def _close(self, lead: Lead, at: datetime, kind: str, next_stage: str) -> None:
        stay = lead.stay
        assert stay is not None
        stay.left_at, stay.exited_at, stay.exit_kind = at, max(at, stay.entered_at), kind
        stay.next_stage = next_stage
        lead.last_exit, lead.stay = stay.exited_at, None

    def _merge(self, x: Lead, y: Lead, cause: Event) -> Lead:
        assert x.created_at != y.created_at, "creation times of one person's leads never tie"
        survivor, absorbed = (x, y) if x.created_at < y.created_at else (y, x)
        assert survivor.stage and absorbed.stage and survivor.entered and absorbed.entered
        kept = absorbed if m.outranks(absorbed.stage, survivor.stage) else survivor
        assert kept.stage is not None
        at = max(cause.occurred_at, survivor.entered, absorbed.entered)
        self._close(absorbed, at, "absorbed", kept.stage)
        absorbed.merged_into = survivor.id
        since_entry = kept.score - kept.score_at_entry
        stage, entered, due = kept.stage, kept.entered, kept.sla_due
        assert stage is not None and entered is not None
        if survivor.stage != stage:
            self._close(survivor, at, "merge", stage)
            self._open(survivor, stage, at, entered, due)
        survivor.stage, survivor.entered, survivor.sla_due = stage, entered, due
        survivor.score += absorbed.score
        survivor.score_at_entry = survivor.score - since_entry
        survivor.divisions |= absorbed.divisions
        sources = {lead.values["source"][0] for lead in (survivor, absorbed) if "source" in lead.values}
        self.record.mixed_merges += len(sources) == 2
        survivor.values = merged(survivor.values, absorbed.values)
        reached = [i for i in (survivor.furthest, absorbed.furthest) if i is not None]
        survivor.furthest = max(reached) if reached else None
        self.record.merges += 1
        return survivor

    def _decide(self, lead: Lead | None, event: Event) -> Lead:
        at, props = event.occurred_at, dict(event.properties)
        if lead is None:
            lead = Lead(event.event_id, at)
            self.record.leads[lead.id] = lead
        stage = lead.stage or "visitor"
        lead.score += m.points(event.type, props)
        steps = m.chain(event.type, props, stage, lead.score, lead.score_at_entry)
        if lead.stage is None or steps:
            target = steps[-1].to if steps else "visitor"
            when = at if lead.entered is None or at >= lead.entered else lead.entered
            self.record.late += when != at
            sla = m.SLAS.get(target)
            due = None if sla is None else when + sla[1]
            if lead.stay is not None:
                self._close(lead, when, "transition", target)
            self._open(lead, target, when, when, due)
            self.record.moves.append(Move(lead.id, lead.stage, target, when))
            lead.stage, lead.entered, lead.sla_due, lead.score_at_entry = target, when, due, lead.score
            lead.divisions.add(m.DIVISION[target])
            index = m.path_index(target)
            if index is not None and (lead.furthest is None or index > lead.furthest):
                lead.furthest = index
        kind = m.REVENUE_KIND.get(event.type)
        if kind is not None:
            amount, currency = Decimal(str(props["amount"])), str(props.get("currency") or "JPY")
            shares = split(amount, currency, m.WEIGHTS[kind], lead.divisions)
            self.record.bookings.append(Booking(lead.id, kind, amount, currency, at, event.account_id, shares))
        if event.type == "feedback_submitted":
            met = props.get("met_expectations")
            self.record.feedback.append(
                Feedback(
                    lead.id,
                    props["from_division"],
                    props["to_division"],
                    props["rating"],
                    met,
                    props.get("campaign"),
                    at,
                )
            )
        return lead


def identities(event: Event) -> list[tuple[str, str]]:
    found = []
    if event.anonymous_id:
        found.append(("anonymous", event.anonymous_id))
    if event.lead_id:
        found.append(("crm", event.lead_id))
    email = event.properties.get("email")
    if event.type in ("form_submitted", "identified") and isinstance(email, str) and "@" in email:
        found.append(("email", email.strip().lower()))
    return found


def simulate(events: list[Event]) -> Record:
    simulation = Simulation()
    for event in events:
        simulation.apply(event)
    return simulation.record
