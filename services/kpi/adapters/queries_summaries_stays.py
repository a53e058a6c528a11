"""Time in stage, age and SLA counts of /v1/kpi/stages read from the summary tables (see queries_summaries.py),
exactly as queries_stays.py defines them.

Medians and p90 (ranks of services/kpi/domain/stats.py): the per-day counts of `ended` stays by duration
bucket (8 per decade, ascending with the duration) give the bucket that holds each rank in P; one read of
ix_kpi_stays_ended picks the value at that rank inside the bucket. Age: the per-day counts of open stays by
the day of `since` give the day that holds each rank; ix_kpi_stays_open_since picks inside it. Every pick of
one answer is one statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import raw_connection
from services.kpi.adapters import queries_stays
from services.kpi.adapters.sliced_picks import ENDED_SLICED_PICKS, OPEN_DAYS_BY_VALUE, OPEN_SLICED_PICKS
from services.kpi.adapters.summary_scope import Slice, Split, SummaryScope
from services.kpi.adapters.summary_store import BREACH, BUCKET, ENDED
from services.kpi.domain.periods import Period
from services.kpi.domain.stats import Spread, ranks

_MICRO = timedelta(microseconds=1)
_ENDED_DAYS = (
    "SELECT {skey} AS slice, stage, bucket, sum(n) AS n FROM {counts} WHERE kind = 'ended' AND stage = ANY(:stages) "
    "AND day >= :first AND day < :end AND {swhere} GROUP BY 1, 2, 3"
)
_ENDED_EDGE = (
    f"SELECT {{key}} AS slice, stage, {BUCKET} AS bucket, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages) "
    f"AND exit_kind = 'transition' AND {ENDED} >= :start AND {ENDED} < :end AND {{where}} GROUP BY 1, 2, 3"
)
# One pick per (stage, bucket, slice, skip): the value at that rank among the slice's stays of the bucket.
_ENDED_PICKS = f"""
    SELECT p.i, (SELECT {ENDED} - since FROM kpi_stays s WHERE stage = p.stage AND exit_kind = 'transition'
                 AND {BUCKET} = p.bucket AND {ENDED} >= :start AND {ENDED} < :end
                 AND {{where}} AND {{key}} IS NOT DISTINCT FROM p.slice
                 ORDER BY {ENDED} - since OFFSET p.skip LIMIT 1) AS value
    FROM unnest(CAST(:stages AS text[]), CAST(:buckets AS int[]), CAST(:skips AS int[]), CAST(:ids AS int[]),
                CAST(:slices AS text[])) AS p(stage, bucket, skip, i, slice)
"""
_OPEN_DAYS = (
    "SELECT {skey} AS slice, stage, day AS bucket, sum(n) AS n FROM {counts} WHERE kind = 'open' "
    "AND stage = ANY(:stages) AND {swhere} GROUP BY 1, 2, 3"
)
# Stays that make "the leads in S at `at`" differ from "the open stays": entered later, or leaving later.
_FUTURE = text(
    "SELECT EXISTS (SELECT 1 FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at IS NULL AND entered_at > :at) "
    "OR EXISTS (SELECT 1 FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at > :at)"
)
_OPEN_PICKS = """
    SELECT p.i, (SELECT since FROM kpi_stays s WHERE stage = p.stage AND exited_at IS NULL
                 AND since >= p.day_start AND since < p.day_start + interval '1 day'
                 AND {where} AND {key} IS NOT DISTINCT FROM p.slice
                 ORDER BY since DESC OFFSET p.skip LIMIT 1) AS value
    FROM unnest(CAST(:stages AS text[]), CAST(:starts AS timestamptz[]), CAST(:skips AS int[]), CAST(:ids AS int[]),
                CAST(:slices AS text[])) AS p(stage, day_start, skip, i, slice)
"""
_BREACH_DAYS = (
    "SELECT {skey} AS slice, stage, sum(n) AS n FROM {counts} WHERE kind = 'breach' AND stage = ANY(:stages) "
    "AND day >= :first AND day < :end AND {swhere} GROUP BY 1, 2"
)
_BREACH_EDGE = (
    f"SELECT {{key}} AS slice, stage, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages) "
    f"AND sla_due_at >= :start AND sla_due_at < :end AND {BREACH} AND {{where}} GROUP BY 1, 2"
)
_OVERDUE_DAYS = (
    "SELECT {skey} AS slice, stage, sum(n) AS n FROM {counts} WHERE kind = 'overdue' AND stage = ANY(:stages) "
    "AND day < :day AND {swhere} GROUP BY 1, 2"
)
_OVERDUE_TODAY = """
    SELECT slice, stage, sum(n) AS n FROM (
        SELECT {key} AS slice, stage, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages)
        AND sla_due_at >= :midnight AND sla_due_at <= :now AND exited_at IS NULL AND sla_met_at IS NULL
        AND {where} GROUP BY 1, 2
        UNION ALL
        SELECT {key}, stage, -count(*) FROM kpi_stays s WHERE stage = ANY(:stages) AND entered_at > :now
        AND exited_at IS NULL AND sla_met_at IS NULL AND sla_due_at <= :now AND {where} GROUP BY 1, 2
    ) parts GROUP BY 1, 2
"""
Picks = list[tuple[Slice, str, object, int]]  # (slice, stage, bucket, values to skip in it)


def _locate(buckets: Iterable[tuple[object, int]], rank: int) -> tuple[object, int]:
    """The bucket holding the 1-based `rank` in the buckets' order, and how many values of it come before."""
    before = 0
    for bucket, n in buckets:
        if rank <= before + n:
            return bucket, rank - before - 1
        before += n
    raise ValueError(f"rank {rank} beyond {before} values")


def _plan(
    counts: Mapping[tuple[Slice, str], Mapping[object, int]], descending: bool
) -> tuple[dict[tuple[Slice, str], int], Picks]:
    """(slice, stage) -> n, and the picks for the ranks of every (slice, stage)."""
    totals, picks = {}, []
    for (key, stage), by_bucket in counts.items():
        ordered = sorted(((b, n) for b, n in by_bucket.items() if n), key=lambda bn: bn[0], reverse=descending)  # type: ignore[arg-type, return-value]
        n = sum(count for _, count in ordered)
        if not n:
            continue
        totals[(key, stage)] = n
        picks += [(key, stage, *_locate(ordered, rank)) for rank in ranks(n)]
    return totals, picks


def _spreads(totals: Mapping[tuple[Slice, str], int], values_us: Mapping[int, int]) -> dict[Slice, dict[str, Spread]]:
    found: dict[Slice, dict[str, Spread]] = defaultdict(dict)
    for k, (key, stage) in enumerate(totals):
        n = totals[(key, stage)]
        low, high, p90 = ranks(n)
        picked = {low: values_us[3 * k], high: values_us[3 * k + 1], p90: values_us[3 * k + 2]}
        found[key][stage] = Spread.from_ranked(n, picked)
    return dict(found)


def _pick_params(picks: Picks) -> dict[str, object]:
    return {"stages": [p[1] for p in picks], "skips": [p[3] for p in picks], "ids": list(range(len(picks))),
            "slices": [p[0] for p in picks]}  # fmt: skip


async def time_in_stage(
    conn: AsyncConnection, stages: Sequence[str], period: Period, ss: SummaryScope
) -> dict[Slice, dict[str, Spread]]:
    split = Split(period)
    counts: dict[tuple[Slice, str], dict[object, int]] = defaultdict(lambda: defaultdict(int))
    window = ss.bind({"stages": list(stages), "first": split.first_day, "end": split.end_day})
    rows = list(await conn.execute(text(ss.sql(_ENDED_DAYS)), window))
    for a, b in split.edges:
        edge = ss.scope.bind({"stages": list(stages), "start": a, "end": b})
        rows += await conn.execute(ss.scope.sql(_ENDED_EDGE, "s.lead_id", stay="s"), edge)
    for row in rows:
        counts[(row.slice, row.stage)][int(row.bucket)] += int(row.n)
    totals, picks = _plan(counts, descending=False)
    if not picks:
        return {}
    params = {**_pick_params(picks), "buckets": [p[2] for p in picks], "start": period.start, "end": period.end}
    picks_sql = ENDED_SLICED_PICKS if ss.scope.sliced else _ENDED_PICKS
    result = await conn.execute(ss.scope.sql(picks_sql, "s.lead_id", stay="s"), ss.scope.bind(params))
    return _spreads(totals, {int(row.i): row.value // _MICRO for row in result})


async def ages(
    conn: AsyncConnection, stages: Sequence[str], at: datetime, ss: SummaryScope
) -> dict[Slice, dict[str, Spread]]:
    """Age (at - since) of the leads in each stage at `at`; the open stays' per-day counts when they are
    exactly those leads (nothing entered or leaves after `at`), else queries_stays.ages."""
    if await conn.scalar(_FUTURE, {"stages": list(stages), "at": at}):
        return await queries_stays.ages(conn, stages, at, ss.scope)
    counts: dict[tuple[Slice, str], dict[object, int]] = defaultdict(dict)
    if ss.scope.sliced:  # a year of day rows per stage and value: straight through the driver
        raw = await raw_connection(conn)
        for value, stage, day, n in await raw.fetch(OPEN_DAYS_BY_VALUE, ss.dimension, list(stages), ss.values):
            counts[(value, stage)][day] = n
    else:
        for row in await conn.execute(text(ss.sql(_OPEN_DAYS)), ss.bind({"stages": list(stages)})):
            counts[(row.slice, row.stage)][row.bucket] = int(row.n)
    totals, picks = _plan(counts, descending=True)  # age ascending = since descending
    if not picks:
        return {}
    starts = [datetime.combine(day, time(), tzinfo=UTC) for _, _, day, _ in picks if isinstance(day, date)]
    params = {**_pick_params(picks), "starts": starts}
    picks_sql = OPEN_SLICED_PICKS if ss.scope.sliced else _OPEN_PICKS
    result = await conn.execute(ss.scope.sql(picks_sql, "s.lead_id", stay="s"), ss.scope.bind(params))
    return _spreads(totals, {int(row.i): (at - row.value) // _MICRO for row in result})


async def sla_counts(
    conn: AsyncConnection, stages: Sequence[str], period: Period, now: datetime, ss: SummaryScope
) -> dict[Slice, dict[str, tuple[int, int]]]:
    """slice -> stage -> (breaches in P, overdue now)."""
    split = Split(period)
    breaches: dict[Slice, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    window = ss.bind({"stages": list(stages), "first": split.first_day, "end": split.end_day})
    rows = list(await conn.execute(text(ss.sql(_BREACH_DAYS)), window))
    for a, b in split.edges:
        edge = ss.scope.bind({"stages": list(stages), "start": a, "end": b})
        rows += await conn.execute(ss.scope.sql(_BREACH_EDGE, "s.lead_id", stay="s"), edge)
    for row in rows:
        breaches[row.slice][row.stage] += int(row.n)
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    overdue: dict[Slice, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    days = ss.bind({"stages": list(stages), "day": midnight.date()})
    rows = list(await conn.execute(text(ss.sql(_OVERDUE_DAYS)), days))
    today = ss.scope.bind({"stages": list(stages), "midnight": midnight, "now": now})
    rows += await conn.execute(ss.scope.sql(_OVERDUE_TODAY, "s.lead_id", stay="s"), today)
    for row in rows:
        overdue[row.slice][row.stage] += int(row.n)
    keys = breaches.keys() | overdue.keys() | (set() if ss.scope.sliced else {None})
    return {key: {stage: (breaches[key].get(stage, 0), overdue[key].get(stage, 0)) for stage in stages} for key in keys}
