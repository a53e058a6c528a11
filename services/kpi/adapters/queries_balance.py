"""Balance queries over kpi_stays: the balance at an instant, its daily series, lead-time in a window.

A lead counts in `stage` at instant t when entered_at <= t and (exited_at is null or t < exited_at). Two
exact ways to count it, picked by where t lies in the stays' history:
- recent t: open stays (ix_kpi_stays_stage_exited, `exited_at IS NULL`) minus open stays that began after t
  plus closed stays that span t; both corrections read few index entries;
- early t: stays entered by t minus stays exited by t (a stay that ended by t also began by t), two
  index-only counts over the history before t.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.domain.periods import Period

_BALANCE_RECENT = text(
    """
    SELECT stage, sum(n) AS n FROM (
        SELECT stage, count(*) AS n FROM kpi_stays
        WHERE stage = ANY(:stages) AND exited_at IS NULL GROUP BY stage
        UNION ALL
        SELECT stage, -count(*) FROM kpi_stays
        WHERE stage = ANY(:stages) AND entered_at > :t AND exited_at IS NULL GROUP BY stage
        UNION ALL
        SELECT stage, count(*) FROM kpi_stays
        WHERE stage = ANY(:stages) AND exited_at > :t AND entered_at <= :t GROUP BY stage
    ) parts GROUP BY stage
    """
)
_BALANCE_EARLY = text(
    """
    SELECT stage, sum(n) AS n FROM (
        SELECT stage, count(*) AS n FROM kpi_stays WHERE stage = ANY(:stages) AND entered_at <= :t GROUP BY stage
        UNION ALL
        SELECT stage, -count(*) FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at <= :t GROUP BY stage
    ) parts GROUP BY stage
    """
)
# The first and last entry over the stages (one index probe each per stage).
_SPAN = text(
    "SELECT min(first.at) AS earliest, max(last.at) AS latest FROM unnest(CAST(:stages AS text[])) AS s(stage), "
    "LATERAL (SELECT entered_at AS at FROM kpi_stays WHERE stage = s.stage ORDER BY entered_at LIMIT 1) first, "
    "LATERAL (SELECT entered_at AS at FROM kpi_stays WHERE stage = s.stage ORDER BY entered_at DESC LIMIT 1) last"
)
# Entries and exits in (start, last end], bucketed by how many day ends lie strictly before them (an
# instant exactly at a day end still belongs to that day: the threshold is the end plus one microsecond).
_STEPS = text(
    """
    SELECT 1 AS sign, width_bucket(entered_at, CAST(:thresholds AS timestamptz[])) AS bucket, count(*) AS n
    FROM kpi_stays WHERE stage = :stage AND entered_at > :start AND entered_at <= :last GROUP BY 2
    UNION ALL
    SELECT -1, width_bucket(exited_at, CAST(:thresholds AS timestamptz[])), count(*)
    FROM kpi_stays WHERE stage = :stage AND exited_at > :start AND exited_at <= :last GROUP BY 2
    """
)
# Lead-seconds spent in each stage within W = integral of the balance over W:
# balance(start) * |W| + sum over entries in W of (end - entry) - sum over exits in W of (end - exit).
_EXPOSURE = text(
    """
    SELECT stage, sum(s) AS seconds FROM (
        SELECT stage, sum(EXTRACT(EPOCH FROM CAST(:end AS timestamptz) - entered_at)) AS s FROM kpi_stays
        WHERE stage = ANY(:stages) AND entered_at > :start AND entered_at <= :end GROUP BY stage
        UNION ALL
        SELECT stage, -sum(EXTRACT(EPOCH FROM CAST(:end AS timestamptz) - exited_at)) FROM kpi_stays
        WHERE stage = ANY(:stages) AND exited_at > :start AND exited_at <= :end GROUP BY stage
    ) parts GROUP BY stage
    """
)


async def balances_at(conn: AsyncConnection, stages: Sequence[str], t: datetime) -> dict[str, int]:
    params = {"stages": list(stages), "t": t}
    span = (await conn.execute(_SPAN, params)).one()
    early = span.earliest is not None and t - span.earliest < span.latest - t
    rows = await conn.execute(_BALANCE_EARLY if early else _BALANCE_RECENT, params)
    found = {row.stage: int(row.n) for row in rows}
    return {stage: found.get(stage, 0) for stage in stages}


async def balance_series(conn: AsyncConnection, stage: str, start: datetime, ends: Sequence[datetime]) -> list[int]:
    """The balance at each of `ends` (ascending, all after `start`)."""
    base = (await balances_at(conn, [stage], start))[stage]
    if not ends:
        return []
    thresholds = [end + timedelta(microseconds=1) for end in ends]
    params = {"stage": stage, "start": start, "last": ends[-1], "thresholds": thresholds}
    delta_at_bucket = [0] * (len(ends) + 1)
    for row in await conn.execute(_STEPS, params):
        delta_at_bucket[int(row.bucket)] += int(row.sign) * int(row.n)
    series, running = [], base
    for k in range(len(ends)):
        running += delta_at_bucket[k]  # changes with k day ends strictly before them land in point k
        series.append(running)
    return series


async def exposure_seconds(conn: AsyncConnection, stages: Sequence[str], window: Period) -> dict[str, Fraction]:
    """stage -> lead-seconds spent in it during the window (exact)."""
    base = await balances_at(conn, stages, window.start)
    span = Fraction(window.length // timedelta(microseconds=1), 1_000_000)
    params = {"stages": list(stages), "start": window.start, "end": window.end}
    moved = {row.stage: Fraction(row.seconds) for row in await conn.execute(_EXPOSURE, params)}
    return {stage: base[stage] * span + moved.get(stage, Fraction(0)) for stage in stages}
