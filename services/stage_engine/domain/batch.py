"""Applies a batch of envelopes to the leads they concern: identity resolution, merges, decide, evolve.

Pure: the adapter loads the identity index and the leads the batch touches, calls `apply_batch`, and writes
what it returns in one transaction. Events are applied in the order given (arrival order per partition).

Identity resolution: every identity an event carries (anonymous id, CRM id, email hash) is looked up; none
known -> `decide` creates a lead; one lead -> that lead; several -> they merge (`merge.decide_merge`, the
earlier-created lead survives) and then the event is decided against the survivor. An event `decide`
refuses is returned in `rejected` with the reason (dead-lettered by the adapter); nothing of it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from services.common.envelope import Event
from services.common.lead_events.events import DomainEvent, IdentityLinked, LeadsMerged
from services.common.stage_model.model_types import StageModel
from services.stage_engine.domain.activity import ACTIVITY_TYPES, ActivityTally
from services.stage_engine.domain.decide import decide
from services.stage_engine.domain.evolve import evolve, fold
from services.stage_engine.domain.lead import Identity, Lead, event_identities
from services.stage_engine.domain.merge import decide_merge, merge_order


@dataclass
class BatchOutcome:
    leads: dict[str, Lead] = field(default_factory=dict)  # every lead changed, in its new state
    appended: list[tuple[DomainEvent, int]] = field(default_factory=list)  # (event, stream version), in order
    new_identities: dict[Identity, str] = field(default_factory=dict)  # identity -> lead, to insert
    repointed: dict[str, str] = field(default_factory=dict)  # absorbed lead -> survivor
    applied: dict[str, str] = field(default_factory=dict)  # envelope event_id -> lead it was applied to
    rejected: list[tuple[Event, str]] = field(default_factory=list)  # (envelope, reason)
    cause_types: dict[str, str] = field(default_factory=dict)  # envelope event_id -> its type, when it caused events
    activity: ActivityTally = field(default_factory=ActivityTally)  # page and screen views per lead


def identities_of(event: Event, extra: Iterable[Identity] = ()) -> tuple[Identity, ...]:
    return (*event_identities(event), *extra)


def apply_batch(
    events: Sequence[tuple[Event, tuple[Identity, ...]]],
    leads: Mapping[str, Lead],
    index: Mapping[Identity, str],
    model: StageModel,
) -> BatchOutcome:
    """`events`: (envelope, extra identities such as the email hash); `leads`: the current state of every lead
    `index` points at for these events; `index`: identity -> lead id for every identity they carry."""
    batch = BatchApplier(leads, index, model)
    for event, extra in events:
        batch.apply(event, extra)
    return batch.outcome


class BatchApplier:
    """`apply_batch` one envelope at a time, so the adapter can let its event loop breathe between envelopes
    (the other batch in flight waits for its PostgreSQL replies to be read)."""

    def __init__(self, leads: Mapping[str, Lead], index: Mapping[Identity, str], model: StageModel) -> None:
        self.outcome = BatchOutcome()
        self._state: dict[str, Lead] = dict(leads)
        self._ids: dict[Identity, str] = dict(index)
        self._model = model

    def apply(self, event: Event, extra: tuple[Identity, ...]) -> None:
        out, ids = self.outcome, self._ids
        try:
            changes, after, lead = _apply_one(event, extra, self._state, ids, self._model)
        except Exception as exc:  # poison never blocks: any failure of one event rejects only that event
            out.rejected.append((event, f"{type(exc).__name__}: {exc}"))
            return
        for changed in after.values():
            self._state[changed.lead_id] = changed
            out.leads[changed.lead_id] = changed
        out.appended += changes
        for domain_event, _ in changes:
            if isinstance(domain_event, IdentityLinked):
                identity = (domain_event.kind, domain_event.value)
                ids[identity] = domain_event.lead_id
                out.new_identities[identity] = domain_event.lead_id
            elif isinstance(domain_event, LeadsMerged) and domain_event.role == "absorbed":
                out.repointed[domain_event.absorbed_id] = domain_event.survivor_id
                for identity, owner in list(ids.items()):
                    if owner == domain_event.absorbed_id:
                        ids[identity] = domain_event.survivor_id
        if changes:
            lead = after[changes[-1][0].lead_id]  # the lead of the last change, as it is after this envelope
            out.applied[event.event_id] = lead.lead_id
            out.cause_types[event.event_id] = event.type
        else:
            out.applied[event.event_id] = ""
        if event.type in ACTIVITY_TYPES:
            out.activity.add(lead.lead_id, lead.identified, event)


def _apply_one(
    event: Event,
    extra: tuple[Identity, ...],
    state: Mapping[str, Lead],
    ids: Mapping[Identity, str],
    model: StageModel,
) -> tuple[list[tuple[DomainEvent, int]], dict[str, Lead], Lead]:
    """The domain events of one envelope with the stream version each takes, the leads they changed in their
    state after them, and the lead it was applied to in its state after them; raises ValueError to reject it."""
    owners = sorted({ids[i] for i in identities_of(event, extra) if i in ids})
    found = [_live(state, owner) for owner in owners]
    candidates = list({lead.lead_id: lead for lead in found}.values())
    changes: list[tuple[DomainEvent, int]] = []
    working: dict[str, Lead] = {}
    survivor: Lead | None = None
    for lead in candidates:
        if survivor is None:
            survivor = lead
            continue
        first, second = merge_order(survivor, lead)
        for domain_event in decide_merge(first, second, event, model):
            target = first if domain_event.lead_id == first.lead_id else second
            target = working.get(target.lead_id, target)
            working[target.lead_id] = evolve(target, domain_event)
            changes.append((domain_event, working[target.lead_id].version))
        survivor = working[first.lead_id]
    decided = decide(survivor, event, model, extra_identities=extra)
    if decided:
        # one Lead for all of them (they are all the survivor's); each event's version follows the one before
        version = survivor.version if survivor is not None else 0
        survivor = fold(decided, survivor)
        working[survivor.lead_id] = survivor
        changes += [(domain_event, version + n) for n, domain_event in enumerate(decided, 1)]
    assert survivor is not None, "decide creates a lead when none was found"
    return changes, working, survivor


def _live(state: Mapping[str, Lead], lead_id: str) -> Lead:
    """Follows merged_into to the surviving lead."""
    lead = state[lead_id]
    seen = {lead_id}
    while lead.merged_into is not None:
        if lead.merged_into in seen:
            raise ValueError(f"merge cycle through lead {lead_id}")
        seen.add(lead.merged_into)
        lead = state[lead.merged_into]
    return lead
