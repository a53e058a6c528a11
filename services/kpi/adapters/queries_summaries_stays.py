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

from services.kpi.adapters import queries_stays
from services.kpi.adapters.queries_summaries import Split
from services.kpi.adapters.summary_store import BREACH, BUCKET, ENDED
from services.kpi.domain.periods import Period
from services.kpi.domain.stats import Spread, ranks

_MICRO = timedelta(microseconds=1)
_ENDED_DAYS = text(
    "SELECT stage, bucket, sum(n) AS n FROM kpi_day_counts WHERE kind = 'ended' AND stage = ANY(:stages) "
    "AND day >= :first AND day < :end GROUP BY 1, 2"
)
_ENDED_EDGE = text(
    f"SELECT stage, {BUCKET} AS bucket, count(*) AS n FROM kpi_stays WHERE stage = ANY(:stages) "
    f"AND exit_kind = 'transition' AND {ENDED} >= :start AND {ENDED} < :end GROUP BY 1, 2"
)
_ENDED_PICKS = text(
    f"""
    SELECT p.i, (SELECT {ENDED} - since FROM kpi_stays WHERE stage = p.stage AND exit_kind = 'transition'
                 AND {BUCKET} = p.bucket AND {ENDED} >= :start AND {ENDED} < :end
                 ORDER BY {ENDED} - since OFFSET p.skip LIMIT 1) AS value
    FROM unnest(CAST(:stages AS text[]), CAST(:buckets AS int[]), CAST(:skips AS int[]), CAST(:ids AS int[]))
         AS p(stage, bucket, skip, i)
    """
)
_OPEN_DAYS = text("SELECT stage, day AS bucket, n FROM kpi_day_counts WHERE kind = 'open' AND stage = ANY(:stages)")
# Stays that make "the leads in S at `at`" differ from "the open stays": entered later, or leaving later.
_FUTURE = text(
    "SELECT EXISTS (SELECT 1 FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at IS NULL AND entered_at > :at) "
    "OR EXISTS (SELECT 1 FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at > :at)"
)
_OPEN_PICKS = text(
    """
    SELECT p.i, (SELECT since FROM kpi_stays WHERE stage = p.stage AND exited_at IS NULL
                 AND since >= p.day_start AND since < p.day_start + interval '1 day'
                 ORDER BY since DESC OFFSET p.skip LIMIT 1) AS value
    FROM unnest(CAST(:stages AS text[]), CAST(:starts AS timestamptz[]), CAST(:skips AS int[]), CAST(:ids AS int[]))
         AS p(stage, day_start, skip, i)
    """
)
_BREACH_DAYS = text(
    "SELECT stage, sum(n) AS n FROM kpi_day_counts WHERE kind = 'breach' AND stage = ANY(:stages) "
    "AND day >= :first AND day < :end GROUP BY stage"
)
_BREACH_EDGE = text(
    f"SELECT stage, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages) AND sla_due_at >= :start "
    f"AND sla_due_at < :end AND {BREACH} GROUP BY stage"
)
_OVERDUE = text(
    """
    SELECT stage, sum(n) AS n FROM (
        SELECT stage, n FROM kpi_day_counts WHERE kind = 'overdue' AND stage = ANY(:stages) AND day < :day
        UNION ALL
        SELECT stage, count(*) FROM kpi_stays WHERE stage = ANY(:stages) AND sla_due_at >= :midnight
        AND sla_due_at <= :now AND exited_at IS NULL AND sla_met_at IS NULL GROUP BY stage
        UNION ALL
        SELECT stage, -count(*) FROM kpi_stays WHERE stage = ANY(:stages) AND entered_at > :now
        AND exited_at IS NULL AND sla_met_at IS NULL AND sla_due_at <= :now GROUP BY stage
    ) parts GROUP BY stage
    """
)


def _locate(buckets: Iterable[tuple[object, int]], rank: int) -> tuple[object, int]:
    """The bucket holding the 1-based `rank` in the buckets' order, and how many values of it come before."""
    before = 0
    for bucket, n in buckets:
        if rank <= before + n:
            return bucket, rank - before - 1
        before += n
    raise ValueError(f"rank {rank} beyond {before} values")


def _plan(
    counts: Mapping[str, Mapping[object, int]], descending: bool
) -> tuple[dict[str, int], list[tuple[str, object, int]]]:
    """stage -> n, and the picks (stage, bucket, values to skip in it) for the ranks of every stage."""
    totals, picks = {}, []
    for stage, by_bucket in counts.items():
        ordered = sorted(((b, n) for b, n in by_bucket.items() if n), key=lambda bn: bn[0], reverse=descending)  # type: ignore[arg-type, return-value]
        n = sum(count for _, count in ordered)
        if not n:
            continue
        totals[stage] = n
        picks += [(stage, *_locate(ordered, rank)) for rank in ranks(n)]
    return totals, picks


def _spreads(
    totals: Mapping[str, int], picks: Sequence[tuple[str, object, int]], values_us: Mapping[int, int]
) -> dict[str, Spread]:
    found: dict[str, Spread] = {}
    for k, stage in enumerate(totals):
        low, high, p90 = ranks(totals[stage])
        found[stage] = Spread.from_ranked(
            totals[stage], {low: values_us[3 * k], high: values_us[3 * k + 1], p90: values_us[3 * k + 2]}
        )
    return found


async def time_in_stage(conn: AsyncConnection, stages: Sequence[str], period: Period) -> dict[str, Spread]:
    split = Split(period)
    counts: dict[str, dict[object, int]] = defaultdict(lambda: defaultdict(int))
    window = {"stages": list(stages), "first": split.first_day, "end": split.end_day}
    rows = list(await conn.execute(_ENDED_DAYS, window))
    for a, b in split.edges:
        rows += await conn.execute(_ENDED_EDGE, {"stages": list(stages), "start": a, "end": b})
    for row in rows:
        counts[row.stage][int(row.bucket)] += int(row.n)
    totals, picks = _plan(counts, descending=False)
    if not picks:
        return {}
    params = {
        "stages": [p[0] for p in picks], "buckets": [p[1] for p in picks], "skips": [p[2] for p in picks],
        "ids": list(range(len(picks))), "start": period.start, "end": period.end,
    }  # fmt: skip
    values = {int(row.i): row.value // _MICRO for row in await conn.execute(_ENDED_PICKS, params)}
    return _spreads(totals, picks, values)


async def ages(conn: AsyncConnection, stages: Sequence[str], at: datetime) -> dict[str, Spread]:
    """Age (at - since) of the leads in each stage at `at`; the open stays' per-day counts when they are
    exactly those leads (nothing entered or leaves after `at`), else queries_stays.ages."""
    if await conn.scalar(_FUTURE, {"stages": list(stages), "at": at}):
        return await queries_stays.ages(conn, stages, at)
    counts: dict[str, dict[object, int]] = defaultdict(dict)
    for row in await conn.execute(_OPEN_DAYS, {"stages": list(stages)}):
        counts[row.stage][row.bucket] = int(row.n)
    totals, picks = _plan(counts, descending=True)  # age ascending = since descending
    if not picks:
        return {}
    starts = [datetime.combine(day, time(), tzinfo=UTC) for _, day, _ in picks if isinstance(day, date)]
    params = {"stages": [p[0] for p in picks], "starts": starts, "skips": [p[2] for p in picks],
              "ids": list(range(len(picks)))}  # fmt: skip
    values = {int(row.i): (at - row.value) // _MICRO for row in await conn.execute(_OPEN_PICKS, params)}
    return _spreads(totals, picks, values)


async def sla_counts(
    conn: AsyncConnection, stages: Sequence[str], period: Period, now: datetime
) -> dict[str, tuple[int, int]]:
    """stage -> (breaches in P, overdue now)."""
    split = Split(period)
    breaches: dict[str, int] = defaultdict(int)
    rows = list(
        await conn.execute(_BREACH_DAYS, {"stages": list(stages), "first": split.first_day, "end": split.end_day})
    )
    for a, b in split.edges:
        rows += await conn.execute(_BREACH_EDGE, {"stages": list(stages), "start": a, "end": b})
    for row in rows:
        breaches[row.stage] += int(row.n)
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    params = {"stages": list(stages), "day": midnight.date(), "midnight": midnight, "now": now}
    overdue = {row.stage: int(row.n) for row in await conn.execute(_OVERDUE, params)}
    return {stage: (breaches.get(stage, 0), overdue.get(stage, 0)) for stage in stages}
