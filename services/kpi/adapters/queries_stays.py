"""Stay queries: time in stage (stays that ended in P), age of the current balance, SLA breaches, merges.

Medians and p90 are exact order statistics (services/kpi/domain/stats.py `ranks`), picked in one sort per
stage by percentile_disc, which returns the value at rank ceil(f * n) computed in floating point. With
f = 1/2 - 1e-12, 1/2 + 1e-12 and 9/10 - 1e-12 that is exactly rank ceil(n/2), floor(n/2) + 1 and ceil(9n/10)
for any n below 10^11 (the offset outweighs the rounding of f * n and never crosses an integer; a plain 0.9
would give rank 64 of 70, since 0.9 * 70 = 63.00000000000001).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.domain.periods import Period, earlier
from services.kpi.domain.stats import Spread, ranks

_PICKS = "percentile_disc(ARRAY[0.499999999999, 0.500000000001, 0.899999999999]::float8[]) WITHIN GROUP"
_MICRO = timedelta(microseconds=1)
# Stays that ended in P by a transition: left - since, where left = left_at (the engine's exit time; older
# rows: exited_at) and since = start of the person's stay. A stay closed by a merge is not a time in stage:
# the person's stay goes on in the survivor. left_at <= exited_at, so `exited_at >= :start` only narrows the
# index range (ix_kpi_stays_stage_exited) without changing the answer.
_TIME_IN_STAGE = text(
    f"SELECT stage, count(*) AS n, {_PICKS} (ORDER BY coalesce(left_at, exited_at) - since) AS picks "
    "FROM kpi_stays WHERE stage = ANY(:stages) AND exit_kind = 'transition' AND exited_at >= :start "
    "AND coalesce(left_at, exited_at) >= :start AND coalesce(left_at, exited_at) < :end GROUP BY stage"
)
# The leads in each stage at instant :at (its balance); age = at - since, ascending = since descending.
_HOLDING = (
    "SELECT stage, since FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at IS NULL AND entered_at <= :at "
    "UNION ALL SELECT stage, since FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at > :at AND entered_at <= :at"
)
_AGE = text(f"SELECT stage, count(*) AS n, {_PICKS} (ORDER BY since DESC) AS picks FROM ({_HOLDING}) h GROUP BY stage")
_AGED = text(
    f"SELECT h.stage, count(*) AS n FROM ({_HOLDING}) h "
    "JOIN unnest(CAST(:cut_stages AS text[]), CAST(:cutoffs AS timestamptz[])) AS c(stage, cutoff) "
    "ON c.stage = h.stage WHERE h.since < c.cutoff GROUP BY h.stage"
)
# A breach: the deadline fell in P while the lead was still in the stage (the stay holding the deadline
# instant: entered_at <= due < exited_at, or still open) and no SlaMet came by the deadline. Leaving exactly
# at the deadline is in time. A stay reopened by a merge after its deadline does not hold it, so one
# person's breach counts once.
_BREACHES = text(
    "SELECT stage, count(*) AS n FROM kpi_stays WHERE stage = ANY(:stages) "
    "AND sla_due_at >= :start AND sla_due_at < :end AND entered_at <= sla_due_at "
    "AND (exited_at IS NULL OR exited_at > sla_due_at) AND (sla_met_at IS NULL OR sla_met_at > sla_due_at) "
    "GROUP BY stage"
)
# Overdue now: in the stage now, past the deadline, SLA not met (a late SlaMet ends the wait).
_OVERDUE = text(
    "SELECT stage, count(*) AS n FROM kpi_stays WHERE stage = ANY(:stages) AND exited_at IS NULL "
    "AND entered_at <= :now AND sla_due_at <= :now AND sla_met_at IS NULL GROUP BY stage"
)
# Stays that ended in a window by a merge: `absorbed` (the lead is gone) or `merge` (the survivor moved).
_MERGE_EXITS = text(
    "SELECT stage, exit_kind, to_stage, count(*) AS n FROM kpi_stays WHERE stage = ANY(:stages) "
    "AND exited_at >= :start AND exited_at < :end AND exit_kind IN ('merge', 'absorbed') "
    "GROUP BY stage, exit_kind, to_stage"
)


def _spread(n: int, picks_us: Sequence[int]) -> Spread:
    low, high, p90 = ranks(n)
    return Spread.from_ranked(n, {low: picks_us[0], high: picks_us[1], p90: picks_us[2]})


async def time_in_stage(conn: AsyncConnection, stages: Sequence[str], period: Period) -> dict[str, Spread]:
    params = {"stages": list(stages), "start": period.start, "end": period.end}
    return {
        row.stage: _spread(int(row.n), [pick // _MICRO for pick in row.picks])
        for row in await conn.execute(_TIME_IN_STAGE, params)
    }


async def ages(conn: AsyncConnection, stages: Sequence[str], at: datetime) -> dict[str, Spread]:
    """Age (at - since) of the leads in each stage at instant `at` (the API's `now` for /stages)."""
    return {
        row.stage: _spread(int(row.n), [(at - since) // _MICRO for since in row.picks])
        for row in await conn.execute(_AGE, {"stages": list(stages), "at": at})
    }


async def aged(conn: AsyncConnection, older_than_us: Mapping[str, int], at: datetime) -> dict[str, int]:
    """stage -> leads in it at `at` whose age exceeds the stage's limit (microseconds)."""
    if not older_than_us:
        return {}
    stages = list(older_than_us)
    cutoffs = [earlier(at, timedelta(microseconds=older_than_us[stage])) for stage in stages]
    params = {"stages": stages, "at": at, "cut_stages": stages, "cutoffs": cutoffs}
    return {row.stage: int(row.n) for row in await conn.execute(_AGED, params)}


async def sla_counts(
    conn: AsyncConnection, stages: Sequence[str], period: Period, now: datetime
) -> dict[str, tuple[int, int]]:
    """stage -> (breaches in P, overdue now)."""
    params = {"stages": list(stages), "start": period.start, "end": period.end, "now": now}
    breaches = {row.stage: int(row.n) for row in await conn.execute(_BREACHES, params)}
    overdue = {row.stage: int(row.n) for row in await conn.execute(_OVERDUE, params)}
    return {stage: (breaches.get(stage, 0), overdue.get(stage, 0)) for stage in stages}


async def merge_exits(conn: AsyncConnection, stages: Sequence[str], window: Period) -> dict[str, dict[str | None, int]]:
    """stage -> destination (None: absorbed, the lead is gone) -> stays ended by a merge in the window."""
    found: dict[str, dict[str | None, int]] = defaultdict(dict)
    params = {"stages": list(stages), "start": window.start, "end": window.end}
    for row in await conn.execute(_MERGE_EXITS, params):
        if row.exit_kind == "merge" and row.to_stage is None:
            continue  # a survivor's move with no recorded destination cannot be placed
        to = None if row.exit_kind == "absorbed" else row.to_stage
        found[row.stage][to] = found[row.stage].get(to, 0) + int(row.n)
    return dict(found)
