"""What the KPI collector reads for the families per slice (domain/slice_metrics.py), from the sliced summaries.

Read in the collector's snapshot, beside the unsliced aggregates, for each bounded dimension whose summaries
the projector keeps (none in tables written by hand): the values in the order first seen, the balance and
the overdue leads now (whole days from the summaries, today from the stays), every flow ever, and revenue.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_summaries
from services.kpi.adapters import queries_summaries_stays as summary_stays
from services.kpi.adapters.scope import Scope
from services.kpi.adapters.summary_scope import SummaryScope, summaries_kept
from services.kpi.domain.periods import Period
from services.kpi.domain.slice_metrics import SliceSnapshot

_SEEN = text(
    "SELECT dimension, value FROM kpi_dimension_values WHERE dimension = ANY(:dims) ORDER BY dimension, position, value"
)
_FLOWS = text(
    "SELECT dimension, value, from_stage, to_stage, sum(n) AS n FROM kpi_slice_flow_days WHERE dimension = ANY(:dims) "
    "GROUP BY 1, 2, 3, 4"
)
_REVENUE = text(
    "SELECT d.dimension, coalesce(v.value, '') AS value, r.kind, sum(r.amount) AS amount FROM kpi_revenue r "
    "CROSS JOIN unnest(CAST(:dims AS text[])) AS d(dimension) "
    "LEFT JOIN kpi_lead_values v ON v.lead_id = r.lead_id AND v.dimension = d.dimension GROUP BY 1, 2, 3"
)


async def read_slices(conn: AsyncConnection, model: StageModel, now: datetime) -> SliceSnapshot:
    dims = [d.name for d in model.dimensions if d.bounded and await summaries_kept(conn, d.name)]
    if not dims:
        return SliceSnapshot()
    seen: dict[str, list[str]] = defaultdict(list)
    for row in await conn.execute(_SEEN, {"dims": dims}):
        seen[row.dimension].append(row.value)
    balance, overdue = [], []
    stages, slas = list(model.stages), list(model.slas)
    instant = Period(now, now + timedelta(microseconds=1))
    for dim in dims:
        ss = SummaryScope(Scope(dim))
        for value, counts in (await queries_summaries.balances_at(conn, stages, now, ss)).items():
            balance += [(dim, value or "", stage, n) for stage, n in counts.items() if n]
        for value, by in (await summary_stays.sla_counts(conn, slas, instant, now, ss)).items():
            overdue += [(dim, value or "", stage, late) for stage, (_, late) in by.items() if late]
    flows = [
        (r.dimension, r.value, r.from_stage, r.to_stage, int(r.n)) for r in await conn.execute(_FLOWS, {"dims": dims})
    ]
    revenue = [(r.dimension, r.value, r.kind, Decimal(r.amount)) for r in await conn.execute(_REVENUE, {"dims": dims})]
    return SliceSnapshot(dict(seen), balance, flows, overdue, revenue)
