"""PostgreSQL side of the projections: the checkpoint, one batch's changes written set-based, the rebuild's
emptying and table statistics.

Everything here runs on an asyncpg connection inside the caller's transaction, which also holds the
`kpi_checkpoint` row lock (`lock_checkpoint`): so one batch and its checkpoint commit together, and two
projectors (or a projector and `stagetrack kpi rebuild`) take turns instead of applying a batch twice.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from services.kpi.adapters.dimension_store import STAMP, restamp, write_values
from services.kpi.adapters.slice_summary_store import SliceDelta
from services.kpi.adapters.summary_store import FLOWS_FROM_INSERTED, Delta
from services.kpi.domain.projection_batch import Changes

log = logging.getLogger(__name__)
CHECKPOINT = "projections"
TABLES = (
    "kpi_revenue_shares",
    "kpi_revenue",
    "kpi_feedback",
    "kpi_transitions",
    "kpi_stays",
    "kpi_lead_values",
    "kpi_dimension_values",
    "kpi_leads",
)
SUMMARIES = ("kpi_day_counts", "kpi_flow_days", "kpi_cohort_repeats", "kpi_slice_day_counts", "kpi_slice_flow_days")


async def lock_checkpoint(conn: asyncpg.Connection, name: str = CHECKPOINT) -> int:
    """The checkpoint, locked until the transaction ends (created at 0 on first use)."""
    await conn.execute("INSERT INTO kpi_checkpoint (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", name)
    return int(await conn.fetchval("SELECT position FROM kpi_checkpoint WHERE name = $1 FOR UPDATE", name))


async def set_checkpoint(conn: asyncpg.Connection, position: int, name: str = CHECKPOINT) -> None:
    await conn.execute("UPDATE kpi_checkpoint SET position = $2 WHERE name = $1", name, position)


async def delete_projections(conn: asyncpg.Connection) -> None:
    """Every projection and summary row. DELETE, not TRUNCATE: readers keep their snapshot (the rebuild says why)."""
    for table in (*TABLES, *SUMMARIES):
        await conn.execute(f"DELETE FROM {table}")


async def analyze(conn: asyncpg.Connection) -> None:
    """Table statistics as the rebuild grows the tables from empty. Without them the planner believes the
    tables empty (their statistics from before the DELETE, or from a new schema) and joins a batch's leads by
    scanning every stay: minutes per batch at a million leads. ANALYZE in the transaction sees its rows."""
    for table in ("kpi_stays", "kpi_leads", "kpi_transitions"):
        await conn.execute(f"ANALYZE {table}")


async def delete_stays(conn: asyncpg.Connection, lead_id: str) -> None:
    """One lead's stays (a redrive folds them again from its stream)."""
    await conn.execute("DELETE FROM kpi_stays WHERE lead_id = $1", lead_id)


def touched(c: Changes) -> list[str]:
    return [*c.prior, *c.reached, *(s.lead_id for s in c.stays)]


async def write_changes(conn: asyncpg.Connection, c: Changes, *, summaries: bool = True) -> None:
    delta = sliced = None
    if summaries:  # what the touched leads and their persons contributed, taken out before the writes
        delta = Delta(touched(c))
        await delta.before(conn)
        if c.sliced:
            # whose person's values change: what the batch sets, and the leads merged away with theirs
            sliced = SliceDelta(c.sliced, touched(c), [*c.values, *c.merged_into])
            await sliced.before(conn, c.first_position)
    await write_rows(conn, c, flows=summaries)
    if delta is not None:
        await delta.after(conn)
    if sliced is not None:
        await sliced.after(conn)
    for anomaly in c.anomalies:
        log.warning("projection anomaly (the log disagrees with one open stay per lead): %s", anomaly)


async def write_rows(conn: asyncpg.Connection, c: Changes, *, flows: bool) -> None:
    """The projection rows of `c`; `flows`: the daily flows of the transitions inserted too (kpi_flow_days).
    Order: the open stays' updates, transitions, lead rows, inheritance, values, new stays (stamped with the
    values), re-stamping the stays of persons whose values changed, revenue, feedback."""
    if c.prior:
        rows = list(c.prior.values())
        updated = await conn.fetch(
            "UPDATE kpi_stays s SET exited_at = CASE WHEN u.exited_at IS NOT NULL "
            "THEN greatest(u.exited_at, s.entered_at) END, left_at = u.exited_at, exit_kind = u.exit_kind, "
            "to_stage = u.to_stage, sla_met_at = coalesce(s.sla_met_at, u.sla_met_at) "
            "FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::timestamptz[]) "
            "AS u(lead_id, exited_at, exit_kind, to_stage, sla_met_at) "
            # Not `s.exited_at IS NULL`: that predicate lets the planner AND the whole partial index of open
            # stays (ix_kpi_stays_open_since) into every lead's lookup; this form can only use the key.
            "WHERE s.lead_id = u.lead_id AND coalesce(s.exited_at, 'infinity') = 'infinity' "
            "RETURNING s.lead_id, s.exited_at, s.exited_at > u.exited_at AS clamped",
            *_columns([(p.lead_id, p.exited_at, p.exit_kind, p.to_stage, p.sla_met_at) for p in rows], 5),
        )
        for row in updated:
            if row["clamped"]:
                c.reclamp(row["lead_id"], row["exited_at"])
        if len(updated) != len(rows):
            c.anomalies.append(
                f"{len(rows)} open stays to update before position {c.last_position}, found {len(updated)}"
            )
    if c.transitions:
        insert = (
            "INSERT INTO kpi_transitions (position, lead_id, from_stage, to_stage, rule, occurred_at) "
            "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) "
            "ON CONFLICT (position) DO NOTHING"
        )
        await conn.execute(
            f"WITH inserted AS ({insert} RETURNING from_stage, to_stage, occurred_at) {FLOWS_FROM_INSERTED}"
            if flows
            else insert,
            *_columns(
                [(t.position, t.lead_id, t.from_stage, t.to_stage, t.rule, t.occurred_at) for t in c.transitions], 6
            ),
        )
    if c.reached:
        await conn.execute(
            "INSERT INTO kpi_leads (lead_id, furthest_index, merged_into) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::text[]) ON CONFLICT (lead_id) DO UPDATE SET "
            "furthest_index = greatest(kpi_leads.furthest_index, excluded.furthest_index), "
            "merged_into = coalesce(excluded.merged_into, kpi_leads.merged_into)",
            *_columns([(lead, index, c.merged_into.get(lead)) for lead, index in c.reached.items()], 3),
        )
    if c.inherits:  # one statement each, in position order: a chain A -> B -> C sees B's inherited value
        await conn.executemany(
            "UPDATE kpi_leads SET furthest_index = greatest(furthest_index, "
            "(SELECT a.furthest_index FROM kpi_leads a WHERE a.lead_id = $2)) WHERE lead_id = $1",
            [(i.survivor_id, i.absorbed_id) for i in c.inherits],
        )
    await write_values(conn, c)
    if c.stays:  # after the values: each stay carries its person's values of the bounded dimensions
        await conn.execute(
            "INSERT INTO kpi_stays (lead_id, seq, stage, division, entered_at, since, entry_kind, exited_at, "
            "exit_kind, to_stage, sla_due_at, sla_met_at, left_at, slices) SELECT u.*, "
            f"{STAMP.format(lead='u.lead_id')} FROM unnest($1::text[], $2::int[], "
            "$3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::timestamptz[], $9::text[], "
            "$10::text[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[]) "
            "AS u(lead_id, seq, stage, division, entered_at, since, entry_kind, exited_at, exit_kind, to_stage, "
            "sla_due_at, sla_met_at, left_at) ON CONFLICT (lead_id, seq) DO NOTHING",
            *_columns(
                [
                    (s.lead_id, s.seq, s.stage, s.division, s.entered_at, s.since, s.entry_kind, s.exited_at,
                     s.exit_kind, s.to_stage, s.sla_due_at, s.sla_met_at, s.left_at)
                    for s in c.stays
                ],
                13,
            ),
            list(c.sliced),
        )  # fmt: skip
    await restamp(conn, [*c.values, *c.merged_into], c.sliced)
    if c.revenue:
        await conn.execute(
            "INSERT INTO kpi_revenue (position, lead_id, account_id, kind, amount, currency, occurred_at) "
            "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[], "
            "$7::timestamptz[]) ON CONFLICT (position) DO NOTHING",
            *_columns([(r.position, r.lead_id, r.account_id, r.kind, r.amount, r.currency, r.occurred_at)
                       for r in c.revenue], 7),
        )  # fmt: skip
        shares = [(r.position, division, amount) for r in c.revenue for division, amount in r.shares]
        await conn.execute(
            "INSERT INTO kpi_revenue_shares (position, division, amount) "
            "SELECT * FROM unnest($1::bigint[], $2::text[], $3::numeric[]) ON CONFLICT (position, division) DO NOTHING",
            *_columns(shares, 3),
        )
    if c.feedback:
        await conn.execute(
            "INSERT INTO kpi_feedback (position, lead_id, from_division, to_division, about, rating, "
            "met_expectations, reason_code, campaign, occurred_at) SELECT * FROM unnest($1::bigint[], $2::text[], "
            "$3::text[], $4::text[], $5::text[], $6::int[], $7::bool[], $8::text[], $9::text[], $10::timestamptz[]) "
            "ON CONFLICT (position) DO NOTHING",
            *_columns([(f.position, f.lead_id, f.from_division, f.to_division, f.about, f.rating, f.met_expectations,
                        f.reason_code, f.campaign, f.occurred_at) for f in c.feedback], 10),
        )  # fmt: skip


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns
