"""One attempt at one batch (or piece of one): one transaction holds its claims, its events, the dead letters'
places and the consumer offsets. `app/processor.py` decides what to retry, take apart or stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from services.common.envelope import Event
from services.common.stage_model.model_types import StageModel
from services.stage_engine.adapters.batch_handoff import Handoff, PredecessorRolledBack, new_token
from services.stage_engine.adapters.store import EventStore, StoreTransaction
from services.stage_engine.app.batch_items import YIELD_EVERY, Item, next_offsets
from services.stage_engine.domain.batch import BatchApplier, BatchOutcome, identities_of
from services.stage_engine.domain.email_identity import email_identities
from services.stage_engine.domain.lead import Identity, Lead


class DeadLetterSink(Protocol):
    """Where an event that cannot be processed goes: the dead-letter topic live, a counter in a replay."""

    async def send(
        self, value: bytes, key: bytes | None, reason: str, origin: tuple[str, int, int], event_id: str | None = None
    ) -> None: ...


class GoAlone(Exception):
    """The batch's set-asides may reach the brake: it is committed piece by piece so the run is counted exactly."""


@dataclass
class Tally:
    """What a committed transaction did with its records."""

    applied: int = 0
    duplicate: int = 0
    dead_lettered: int = 0
    # in log order, (set aside?, how many) for the records applied or set aside (duplicates count for neither)
    runs: list[tuple[bool, int]] = field(default_factory=list)


class BatchTransaction:
    def __init__(
        self, store: EventStore, model: StageModel, email_key: bytes, group_id: str, dead_letters: DeadLetterSink
    ) -> None:
        self._store = store
        self._model = model
        self._email_key = email_key
        self._group_id = group_id
        self._dead_letters = dead_letters

    async def commit(
        self,
        items: Sequence[Item],
        previous: Handoff | None,
        handoff: Handoff,
        brake_near: Callable[[int], bool] | None = None,
    ) -> Tally:
        """Raises `GoAlone` before anything is written when `brake_near(set-asides)` says so."""
        first: dict[str, Item] = {}  # the first record of each event id
        events: dict[str, Event] = {}
        for item in items:
            if item.event is not None and item.event.event_id not in first:
                first[item.event.event_id], events[item.event.event_id] = item, item.event
        places = {item.place: item for item in items if item.event is None}
        # every event's identities are looked up with the claim (one round trip); a duplicate's are not used
        extras = {event_id: email_identities(event, self._email_key) for event_id, event in events.items()}
        identities = {i for event_id, event in events.items() for i in identities_of(event, extras[event_id])}
        async with self._store.transaction() as tx:
            fronts: list[Handoff] = []
            if previous is not None:
                # decoded, and BEGIN sent, while the batch in front decides (BEGIN takes no snapshot or lock): once
                # it decided, the claim goes out at once. This batch carries that batch's outcome, and that of the
                # batch in front of it while it has not committed.
                await previous.decided.wait()
                if (oldest := previous.claim_after()) is not None:
                    await oldest  # from here at most three batches hold locks
                fronts = previous.fronts()
                if any(front.rolled_back.is_set() for front in fronts):
                    raise PredecessorRolledBack()
            carried = previous.outcome if previous is not None else None
            # the leads the batches in front hold (the nearer one's state wins), and their tokens
            held_in_front = {lead_id: lead for front in fronts for lead_id, lead in front.held.items()}
            front_tokens = [front.token for front in fronts if front.token is not None]
            handoff.token = new_token()
            fresh, owners, loaded = await tx.claim(handoff.token, [*first, *places], identities, held_in_front.keys())
            todo = [event_id for event_id in first if event_id in fresh]
            leads = await _leads(tx, identities, owners, loaded, [f.outcome for f in fronts], held_in_front)
            applied = [(events[event_id], extras[event_id]) for event_id in todo]
            outcome = await _apply(applied, leads, owners, self._model)
            refused = {event.event_id: reason for event, reason in outcome.rejected}
            unreadable = [it for place, it in places.items() if place in fresh]
            set_asides = len(unreadable) + len(refused)
            in_front = previous.set_asides if previous is not None else 0
            if set_asides and brake_near is not None and brake_near(set_asides + in_front):
                raise GoAlone()
            handoff.outcome, handoff.set_asides = outcome, set_asides
            # the leads this transaction locked, in their state after it: the batch behind takes them from here
            # rather than wait for this commit to lock them itself
            handoff.held = {lead_id: lead for lead_id, lead in leads.items() if lead_id not in held_in_front}
            handoff.held.update(outcome.leads)
            handoff.decided.set()  # the batch behind may start: this one now only writes
            # a turn for the batch behind to send its claim first: PostgreSQL runs it while this batch builds its
            # write's documents, instead of after (the event loop would otherwise sit idle during that claim)
            await asyncio.sleep(0)

            # sent at once: PostgreSQL waits there for the batch in front to end before the append
            await tx.write(outcome, self._group_id, next_offsets(items), front_tokens, held_in_front.keys())
            # a duplicate: its id was taken before (or earlier in the batch), or its place was set aside before
            tally = Tally(applied=len(todo) - len(refused), duplicate=len(items) - len(todo) - len(unreadable))
            if set_asides:
                await self._set_aside(tx, items, first, unreadable, refused, tally)
            else:
                tally.runs.append((False, tally.applied))
            if previous is not None:  # it ended before this batch's append: commit only if it committed what was used
                await previous.wait_committed(carried)  # (which it did only if the one in front of it committed)
        return tally

    async def _set_aside(
        self,
        tx: StoreTransaction,
        items: Sequence[Item],
        first: dict[str, Item],
        unreadable: list[Item],
        refused: dict[str, str],
        tally: Tally,
    ) -> None:
        """Dead-letters what the batch sets aside, after its last write and before its commit (a commit that fails
        after this sends them again on the retry). Refused events give their claimed ids back for their places."""
        newly = await tx.set_aside(list(refused), [first[e].place for e in refused]) if refused else set()
        sent = {id(it) for it in unreadable}
        sent |= {id(first[e]) for e in refused if first[e].place in newly}
        for item in items:
            if id(item) in sent:
                event_id = item.event.event_id if item.event is not None else None
                reason = item.unreadable if event_id is None else f"event {event_id}: {refused[event_id]}"
                await self._dead_letters.send(item.record.value, item.record.key, reason, item.origin, event_id)
        tally.dead_lettered = len(sent)
        tally.duplicate += len(unreadable) + len(refused) - len(sent)  # set aside by an earlier attempt
        for item in items:  # the order of what was stored and what was set aside, for the brake
            if id(item) in sent:
                set_aside = True
            elif item.event is not None and first[item.event.event_id] is item and item.event.event_id not in refused:
                set_aside = False
            else:
                continue  # a duplicate, or a place already set aside
            if tally.runs and tally.runs[-1][0] == set_aside:
                tally.runs[-1] = (set_aside, tally.runs[-1][1] + 1)
            else:
                tally.runs.append((set_aside, 1))


async def _apply(
    events: list[tuple[Event, tuple[Identity, ...]]],
    leads: dict[str, Lead],
    owners: dict[Identity, str],
    model: StageModel,
) -> BatchOutcome:
    """`apply_batch`, giving the event loop a turn every YIELD_EVERY envelopes: the batch in flight beside this one
    waits for its replies (the append, the commit) to be read, and they are the serial part of the pipeline."""
    batch = BatchApplier(leads, owners, model)
    for n, (event, extra) in enumerate(events, 1):
        batch.apply(event, extra)
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return batch.outcome


async def _leads(
    tx: StoreTransaction,
    identities: set[Identity],
    owners: dict[Identity, str],
    loaded: dict[str, Lead],
    carried: list[BatchOutcome | None],
    in_front: Mapping[str, Lead],
) -> dict[str, Lead]:
    """The leads `owners` points at and those they were merged into: `loaded` with the claim, the leads the batches
    in front (not committed yet) hold from them (`in_front`), the rest from the store; `owners` is overlaid with
    the identities of `identities` those batches created, oldest first (`adapters/batch_handoff.py`)."""
    for outcome in carried:
        if outcome is not None:
            owners.update((i, outcome.new_identities[i]) for i in identities & outcome.new_identities.keys())
    leads, asked = dict(loaded), set(loaded)
    wanted = ({*owners.values()} | {lead.merged_into for lead in leads.values() if lead.merged_into}) - asked
    while wanted:
        asked |= wanted
        leads.update((lead_id, in_front[lead_id]) for lead_id in wanted & in_front.keys())
        if from_store := wanted - in_front.keys():
            leads.update(await tx.leads(from_store))
        wanted = {lead.merged_into for lead in leads.values() if lead.merged_into} - asked
    return leads
