"""Balance queries over kpi_stays: the balance at an instant, its daily series, lead-time in a window.

A lead counts in `stage` at instant t when entered_at <= t and (exited_at is null or t < exited_at). Two
exact ways to count it, picked by where t lies in the stays' history:
- recent t: open stays (ix_kpi_stays_stage_exited, `exited_at IS NULL`) minus open stays that began after t
  plus closed stays that span t; both corrections read few index entries;
- early t: stays entered by t minus stays exited by t (a stay that ended by t also began by t), two
  index-only counts over the history before t.
Each answers per slice of the scope (scope.py): a dict by slice key, None when the scope has no `by`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.domain.periods import Period

Slice = str | None

_BALANCE_RECENT = """
    SELECT slice, stage, sum(n) AS n FROM (
        SELECT {key} AS slice, stage, count(*) AS n FROM kpi_stays s
        WHERE stage = ANY(:stages) AND exited_at IS NULL AND {where} GROUP BY 1, 2
        UNION ALL
        SELECT {key}, stage, -count(*) FROM kpi_stays s
        WHERE stage = ANY(:stages) AND entered_at > :t AND exited_at IS NULL AND {where} GROUP BY 1, 2
        UNION ALL
        SELECT {key}, stage, count(*) FROM kpi_stays s
        WHERE stage = ANY(:stages) AND exited_at > :t AND entered_at <= :t AND {where} GROUP BY 1, 2
    ) parts GROUP BY 1, 2
"""
_BALANCE_EARLY = """
    SELECT slice, stage, sum(n) AS n FROM (
        SELECT {key} AS slice, stage, count(*) AS n FROM kpi_stays s
        WHERE stage = ANY(:stages) AND entered_at <= :t AND {where} GROUP BY 1, 2
        UNION ALL
        SELECT {key}, stage, -count(*) FROM kpi_stays s
        WHERE stage = ANY(:stages) AND exited_at <= :t AND {where} GROUP BY 1, 2
    ) parts GROUP BY 1, 2
"""
# The first and last entry over the stages (one index probe each per stage).
_SPAN = text(
    "SELECT min(first.at) AS earliest, max(last.at) AS latest FROM unnest(CAST(:stages AS text[])) AS s(stage), "
    "LATERAL (SELECT entered_at AS at FROM kpi_stays WHERE stage = s.stage ORDER BY entered_at LIMIT 1) first, "
    "LATERAL (SELECT entered_at AS at FROM kpi_stays WHERE stage = s.stage ORDER BY entered_at DESC LIMIT 1) last"
)
# Entries and exits in (start, last end], bucketed by how many day ends lie strictly before them (an
# instant exactly at a day end still belongs to that day: the threshold is the end plus one microsecond).
_STEPS = """
    SELECT {key} AS slice, 1 AS sign, width_bucket(entered_at, CAST(:thresholds AS timestamptz[])) AS bucket,
           count(*) AS n
    FROM kpi_stays s WHERE stage = :stage AND entered_at > :start AND entered_at <= :last AND {where} GROUP BY 1, 3
    UNION ALL
    SELECT {key}, -1, width_bucket(exited_at, CAST(:thresholds AS timestamptz[])), count(*)
    FROM kpi_stays s WHERE stage = :stage AND exited_at > :start AND exited_at <= :last AND {where} GROUP BY 1, 3
"""
# Lead-seconds spent in each stage within W = integral of the balance over W:
# balance(start) * |W| + sum over entries in W of (end - entry) - sum over exits in W of (end - exit).
_EXPOSURE = """
    SELECT slice, stage, sum(s) AS seconds FROM (
        SELECT {key} AS slice, stage, sum(EXTRACT(EPOCH FROM CAST(:end AS timestamptz) - entered_at)) AS s
        FROM kpi_stays s WHERE stage = ANY(:stages) AND entered_at > :start AND entered_at <= :end AND {where}
        GROUP BY 1, 2
        UNION ALL
        SELECT {key}, stage, -sum(EXTRACT(EPOCH FROM CAST(:end AS timestamptz) - exited_at)) FROM kpi_stays s
        WHERE stage = ANY(:stages) AND exited_at > :start AND exited_at <= :end AND {where} GROUP BY 1, 2
    ) parts GROUP BY 1, 2
"""


async def balances_at(
    conn: AsyncConnection, stages: Sequence[str], t: datetime, scope: Scope = WHOLE
) -> dict[Slice, dict[str, int]]:
    """slice -> stage -> leads in it at `t` (every stage present in every slice found; the whole: always)."""
    params = {"stages": list(stages), "t": t}
    span = (await conn.execute(_SPAN, params)).one()
    early = span.earliest is not None and t - span.earliest < span.latest - t
    rows = await conn.execute(scope.sql(_BALANCE_EARLY if early else _BALANCE_RECENT, "s.lead_id"), scope.bind(params))
    found: dict[Slice, dict[str, int]] = defaultdict(lambda: dict.fromkeys(stages, 0))
    if not scope.sliced:
        found[None] = dict.fromkeys(stages, 0)
    for row in rows:
        found[row.slice][row.stage] = int(row.n)
    return {key: counts for key, counts in found.items() if not scope.sliced or any(counts.values())}


async def balance_series(
    conn: AsyncConnection, stage: str, start: datetime, ends: Sequence[datetime], scope: Scope = WHOLE
) -> dict[Slice, list[int]]:
    """slice -> the balance at each of `ends` (ascending, all after `start`)."""
    base = {key: counts[stage] for key, counts in (await balances_at(conn, [stage], start, scope)).items()}
    if not ends:
        return {key: [] for key in base}
    thresholds = [end + timedelta(microseconds=1) for end in ends]
    params = {"stage": stage, "start": start, "last": ends[-1], "thresholds": thresholds}
    deltas: dict[Slice, list[int]] = defaultdict(lambda: [0] * (len(ends) + 1))
    for row in await conn.execute(scope.sql(_STEPS, "s.lead_id"), scope.bind(params)):
        deltas[row.slice][int(row.bucket)] += int(row.sign) * int(row.n)
    found = {}
    for key in sorted(base.keys() | deltas.keys(), key=lambda k: (k is None, k or "")):
        series, running, delta_at_bucket = [], base.get(key, 0), deltas[key]
        for k in range(len(ends)):
            running += delta_at_bucket[k]  # changes with k day ends strictly before them land in point k
            series.append(running)
        found[key] = series
    return found


async def exposure_seconds(
    conn: AsyncConnection, stages: Sequence[str], window: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[str, Fraction]]:
    """slice -> stage -> lead-seconds spent in it during the window (exact)."""
    base = await balances_at(conn, stages, window.start, scope)
    span = Fraction(window.length // timedelta(microseconds=1), 1_000_000)
    params = scope.bind({"stages": list(stages), "start": window.start, "end": window.end})
    moved: dict[Slice, dict[str, Fraction]] = defaultdict(dict)
    for row in await conn.execute(scope.sql(_EXPOSURE, "s.lead_id"), params):
        moved[row.slice][row.stage] = Fraction(row.seconds)
    found = {}
    for key in base.keys() | moved.keys():
        counts = base.get(key, {})
        found[key] = {
            stage: counts.get(stage, 0) * span + moved.get(key, {}).get(stage, Fraction(0)) for stage in stages
        }
    return found
