"""Stay queries: time in stage (stays that ended in P), age of the current balance, SLA breaches, merges.

Medians and p90 are exact order statistics (services/kpi/domain/stats.py `ranks`), picked in one sort per
stage by percentile_disc, which returns the value at rank ceil(f * n) computed in floating point. With
f = 1/2 - 1e-12, 1/2 + 1e-12 and 9/10 - 1e-12 that is exactly rank ceil(n/2), floor(n/2) + 1 and ceil(9n/10)
for any n below 10^11 (the offset outweighs the rounding of f * n and never crosses an integer; a plain 0.9
would give rank 64 of 70, since 0.9 * 70 = 63.00000000000001). Each answers per slice of the scope (scope.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.domain.periods import Period, earlier
from services.kpi.domain.stats import Spread, ranks

_PICKS = "percentile_disc(ARRAY[0.499999999999, 0.500000000001, 0.899999999999]::float8[]) WITHIN GROUP"
_MICRO = timedelta(microseconds=1)
Slice = str | None
# Stays that ended in P by a transition: left - since, where left = left_at (the engine's exit time; older
# rows: exited_at) and since = start of the person's stay. A stay closed by a merge is not a time in stage:
# the person's stay goes on in the survivor. left_at <= exited_at, so `exited_at >= :start` only narrows the
# index range (ix_kpi_stays_stage_exited) without changing the answer.
_TIME_IN_STAGE = (
    f"SELECT {{key}} AS slice, stage, count(*) AS n, {_PICKS} (ORDER BY coalesce(left_at, exited_at) - since) AS picks "
    "FROM kpi_stays s WHERE stage = ANY(:stages) AND exit_kind = 'transition' AND exited_at >= :start "
    "AND coalesce(left_at, exited_at) >= :start AND coalesce(left_at, exited_at) < :end AND {where} GROUP BY 1, 2"
)
# The leads in each stage at instant :at (its balance); age = at - since, ascending = since descending.
_HOLDING = (
    "SELECT {key} AS slice, stage, since FROM kpi_stays s WHERE stage = ANY(:stages) AND exited_at IS NULL "
    "AND entered_at <= :at AND {where} UNION ALL SELECT {key}, stage, since FROM kpi_stays s "
    "WHERE stage = ANY(:stages) AND exited_at > :at AND entered_at <= :at AND {where}"
)
_AGE = f"SELECT slice, stage, count(*) AS n, {_PICKS} (ORDER BY since DESC) AS picks FROM ({_HOLDING}) h GROUP BY 1, 2"
_AGED = (
    f"SELECT h.slice, h.stage, count(*) AS n FROM ({_HOLDING}) h "
    "JOIN unnest(CAST(:cut_slices AS text[]), CAST(:cut_stages AS text[]), CAST(:cutoffs AS timestamptz[])) "
    "AS c(slice, stage, cutoff) ON c.stage = h.stage AND c.slice IS NOT DISTINCT FROM h.slice "
    "WHERE h.since < c.cutoff GROUP BY 1, 2"
)
# A breach: the deadline fell in P while the lead was still in the stage (the stay holding the deadline
# instant: entered_at <= due < exited_at, or still open) and no SlaMet came by the deadline. Leaving exactly
# at the deadline is in time. A stay reopened by a merge after its deadline does not hold it, so one
# person's breach counts once.
_BREACHES = (
    "SELECT {key} AS slice, stage, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages) "
    "AND sla_due_at >= :start AND sla_due_at < :end AND entered_at <= sla_due_at "
    "AND (exited_at IS NULL OR exited_at > sla_due_at) AND (sla_met_at IS NULL OR sla_met_at > sla_due_at) "
    "AND {where} GROUP BY 1, 2"
)
# Overdue now: in the stage now, past the deadline, SLA not met (a late SlaMet ends the wait).
_OVERDUE = (
    "SELECT {key} AS slice, stage, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages) AND exited_at IS NULL "
    "AND entered_at <= :now AND sla_due_at <= :now AND sla_met_at IS NULL AND {where} GROUP BY 1, 2"
)
# Stays that ended in a window by a merge: `absorbed` (the lead is gone) or `merge` (the survivor moved).
_MERGE_EXITS = (
    "SELECT {key} AS slice, stage, exit_kind, to_stage, count(*) AS n FROM kpi_stays s WHERE stage = ANY(:stages) "
    "AND exited_at >= :start AND exited_at < :end AND exit_kind IN ('merge', 'absorbed') AND {where} "
    "GROUP BY 1, 2, 3, 4"
)


def _spread(n: int, picks_us: Sequence[int]) -> Spread:
    low, high, p90 = ranks(n)
    return Spread.from_ranked(n, {low: picks_us[0], high: picks_us[1], p90: picks_us[2]})


async def time_in_stage(
    conn: AsyncConnection, stages: Sequence[str], period: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[str, Spread]]:
    params = scope.bind({"stages": list(stages), "start": period.start, "end": period.end})
    found: dict[Slice, dict[str, Spread]] = defaultdict(dict)
    for row in await conn.execute(scope.sql(_TIME_IN_STAGE, "s.lead_id"), params):
        found[row.slice][row.stage] = _spread(int(row.n), [pick // _MICRO for pick in row.picks])
    return dict(found)


async def ages(
    conn: AsyncConnection, stages: Sequence[str], at: datetime, scope: Scope = WHOLE
) -> dict[Slice, dict[str, Spread]]:
    """Age (at - since) of the leads in each stage at instant `at` (the API's `now` for /stages)."""
    found: dict[Slice, dict[str, Spread]] = defaultdict(dict)
    params = scope.bind({"stages": list(stages), "at": at})
    for row in await conn.execute(scope.sql(_AGE, "s.lead_id"), params):
        found[row.slice][row.stage] = _spread(int(row.n), [(at - since) // _MICRO for since in row.picks])
    return dict(found)


async def aged(
    conn: AsyncConnection, older_than_us: Mapping[tuple[Slice, str], int], at: datetime, scope: Scope = WHOLE
) -> dict[Slice, dict[str, int]]:
    """slice -> stage -> leads in it at `at` whose age exceeds the limit of (slice, stage) (microseconds)."""
    if not older_than_us:
        return {}
    limits = list(older_than_us.items())
    params = scope.bind(
        {
            "stages": sorted({stage for (_, stage), _ in limits}),
            "at": at,
            "cut_slices": [key for (key, _), _ in limits],
            "cut_stages": [stage for (_, stage), _ in limits],
            "cutoffs": [earlier(at, timedelta(microseconds=us)) for _, us in limits],
        }
    )
    found: dict[Slice, dict[str, int]] = defaultdict(dict)
    for row in await conn.execute(scope.sql(_AGED, "s.lead_id"), params):
        found[row.slice][row.stage] = int(row.n)
    return dict(found)


async def sla_counts(
    conn: AsyncConnection, stages: Sequence[str], period: Period, now: datetime, scope: Scope = WHOLE
) -> dict[Slice, dict[str, tuple[int, int]]]:
    """slice -> stage -> (breaches in P, overdue now)."""
    params = scope.bind({"stages": list(stages), "start": period.start, "end": period.end, "now": now})
    breaches: dict[Slice, dict[str, int]] = defaultdict(dict)
    overdue: dict[Slice, dict[str, int]] = defaultdict(dict)
    for row in await conn.execute(scope.sql(_BREACHES, "s.lead_id"), params):
        breaches[row.slice][row.stage] = int(row.n)
    for row in await conn.execute(scope.sql(_OVERDUE, "s.lead_id"), params):
        overdue[row.slice][row.stage] = int(row.n)
    keys = breaches.keys() | overdue.keys() | (set() if scope.sliced else {None})
    return {key: {stage: (breaches[key].get(stage, 0), overdue[key].get(stage, 0)) for stage in stages} for key in keys}


async def merge_exits(
    conn: AsyncConnection, stages: Sequence[str], window: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[str, dict[str | None, int]]]:
    """slice -> stage -> destination (None: absorbed, the lead is gone) -> stays ended by a merge in the window."""
    found: dict[Slice, dict[str, dict[str | None, int]]] = defaultdict(lambda: defaultdict(dict))
    params = scope.bind({"stages": list(stages), "start": window.start, "end": window.end})
    for row in await conn.execute(scope.sql(_MERGE_EXITS, "s.lead_id"), params):
        if row.exit_kind == "merge" and row.to_stage is None:
            continue  # a survivor's move with no recorded destination cannot be placed
        to = None if row.exit_kind == "absorbed" else row.to_stage
        by = found[row.slice][row.stage]
        by[to] = by.get(to, 0) + int(row.n)
    return {key: dict(by) for key, by in found.items()}
