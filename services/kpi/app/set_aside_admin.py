"""What `stagetrack dead-letters list` and `... redrive` do for the KPI service: the records its projector set
aside (kpi_set_aside), and re-projecting them once the cause is fixed (docs/kpi.md "Set aside").

An entry's id is "kpi:<store position>". Redrive re-projects each chosen record and deletes its row in one
transaction, under the checkpoint's lock (a running projector waits its turn): a second redrive of the same
id finds no row and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common.service import database
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import set_aside_store
from services.kpi.adapters.failures import is_record_failure, reason
from services.kpi.adapters.projection_store import delete_stays, lock_checkpoint, write_rows
from services.kpi.adapters.slice_summary_store import SliceDelta
from services.kpi.adapters.store_reads import read_records, read_stream
from services.kpi.adapters.summary_store import Delta
from services.kpi.adapters.transaction import transaction
from services.kpi.app.bootstrap import load_configured_model
from services.kpi.app.projector import bounded_dimensions
from services.kpi.app.settings import KpiSettings
from services.kpi.domain.projection_batch import Changes

log = logging.getLogger(__name__)
PREFIX = "kpi:"


@dataclass(frozen=True, slots=True)
class SetAsideEntry:
    id: str  # "kpi:<position>"
    lead_id: str
    type: str  # the domain event's type (StageChanged, RevenueBooked, ...)
    reason: str  # the error that set it aside (the newest, when a redrive failed again)
    set_aside_at: datetime


def entry_id(position: int) -> str:
    return f"{PREFIX}{position}"


def positions_of(ids: Sequence[str]) -> list[int]:
    """The store positions named by "kpi:<position>" ids; ids of other services (another prefix) are not ours
    and are left out; a "kpi:" id without a position is refused."""
    positions = []
    for each in ids:
        if not each.startswith(PREFIX):
            continue
        number = each[len(PREFIX) :]
        if not number.isascii() or not number.isdigit():
            raise ValueError(f"{each!r} is not a KPI set-aside id: expected kpi:<store position>, e.g. kpi:1234")
        positions.append(int(number))
    return sorted(set(positions))


async def list_set_aside(settings: KpiSettings) -> list[SetAsideEntry]:
    """Every record the KPI projector set aside, in store order."""
    async with database(settings) as engine, transaction(engine) as conn:
        rows = await set_aside_store.entries(conn)
    return [SetAsideEntry(entry_id(r.position), r.lead_id, r.event_type, r.reason, r.set_aside_at) for r in rows]


async def redrive(settings: KpiSettings, ids: Sequence[str] | None) -> int:
    """Re-projects the chosen set-aside records (None: all), each in its own transaction; returns how many were
    projected. One that still fails stays set aside with the new reason (logged), and the others go on."""
    model = load_configured_model(settings)
    done = 0
    async with database(settings) as engine:
        async with transaction(engine) as conn:
            wanted = None if ids is None else positions_of(ids)
            positions = [r.position for r in await set_aside_store.entries(conn, wanted)]
        for position in positions:
            try:
                async with transaction(engine) as conn:
                    checkpoint = await lock_checkpoint(conn)
                    done += await re_project(conn, position, checkpoint, model)
            except Exception as exc:
                if not is_record_failure(exc):
                    raise
                log.warning("%s still fails; it stays set aside: %s", entry_id(position), reason(exc))
                async with transaction(engine) as conn:
                    await lock_checkpoint(conn)
                    await set_aside_store.set_aside(conn, position, reason(exc))
    return done


async def re_project(conn: asyncpg.Connection, position: int, checkpoint: int, model: StageModel) -> bool:
    """Projects the set-aside record at `position` as if it had been projected in order, and deletes its row;
    False when it is not (or no longer) set aside.

    Revenue, feedback and transition rows are keyed by position and go in as they are. The record's lead's
    stays are folded again from its stream up to the checkpoint, this record included (the fold gives the
    same rows wherever batches are cut, so this is what the projector would have written in order); the
    summaries follow through `Delta`, as in a batch. Raises what the projection raises if it still fails.
    """
    if not await set_aside_store.lock_entry(conn, position):
        return False
    (record,) = await read_records(conn, position - 1, 1, position)
    partners = [str(record.event.get(k)) for k in ("survivor_id", "absorbed_id") if record.event.get(k)]
    delta = Delta([record.lead_id, *partners])
    await delta.before(conn)
    sliced = SliceDelta(bounded_dimensions(model), [record.lead_id, *partners], [record.lead_id, *partners])
    if sliced.dimensions:
        await sliced.before(conn, None)
    await delete_stays(conn, record.lead_id)
    changes = Changes().add_records(await read_stream(conn, record.lead_id, checkpoint, position), model)
    await write_rows(conn, changes, flows=True)
    await delta.after(conn)
    if sliced.dimensions:
        await sliced.after(conn)
    await set_aside_store.delete_entry(conn, position)
    return True
