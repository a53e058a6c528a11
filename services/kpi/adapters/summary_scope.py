"""Which summary rows a scope reads, whether they are kept, and how a period splits into whole UTC days and
edges (queries_summaries.py, queries_summaries_stays.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.adapters.slice_summary_store import SLICED_MARKER
from services.kpi.adapters.summary_store import MARKER_ROW
from services.kpi.domain.periods import Period

Slice = str | None


class SummaryScope:
    """Which summary rows a scope reads: the unsliced tables, or one bounded dimension's slices (grouped by value
    when the scope slices by it, restricted to the values a filter on it allows). `scope` is the same scope for
    the edges and picks read from the projection tables."""

    def __init__(self, scope: Scope = WHOLE) -> None:
        self.scope = scope
        dimensions = {scope.by} if scope.by else set()
        dimensions |= {d for d, _ in scope.filters}
        if len(dimensions) > 1:
            raise ValueError("the summaries are sliced by one dimension at a time")
        self.dimension = next(iter(dimensions), None)
        allowed = [values for d, values in scope.filters if d == self.dimension]
        self.values = sorted(set(allowed[0]).intersection(*allowed[1:])) if allowed else None
        self.counts = "kpi_slice_day_counts" if self.dimension else "kpi_day_counts"
        self.flows = "kpi_slice_flow_days" if self.dimension else "kpi_flow_days"
        self.key = "value" if scope.by else "NULL::text"
        self.where = (
            "dimension = :sum_d AND (CAST(:sum_v AS text[]) IS NULL OR value = ANY(CAST(:sum_v AS text[])))"
            if self.dimension
            else "true"
        )

    def sql(self, template: str) -> str:
        return template.format(skey=self.key, swhere=self.where, counts=self.counts, flows=self.flows)

    def bind(self, params: Mapping[str, object]) -> dict[str, object]:
        return self.scope.bind({**params, "sum_d": self.dimension, "sum_v": self.values})


async def summaries_kept(conn: AsyncConnection, dimension: str | None = None) -> bool:
    """The projector keeps the summary tables (summary_store.py) beside these projection tables: they are in the
    same schema (tables built by hand in a test schema would otherwise meet a migrated `public`'s on the
    search path) and hold the marker row; for `dimension`, the sliced ones too."""
    same = await conn.scalar(
        text(
            "SELECT (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('kpi_day_counts')) "
            "= (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('kpi_stays'))"
        )
    )
    if not same or not await conn.scalar(text(f"SELECT EXISTS (SELECT 1 FROM kpi_day_counts WHERE {MARKER_ROW})")):
        return False
    if dimension is None:
        return True
    marker = await conn.scalar(text("SELECT stage FROM kpi_day_counts WHERE kind = :kind"), {"kind": SLICED_MARKER})
    return dimension in str(marker or "").split(",")


class Split:
    """P = edges + whole UTC days [first_day, end_day)."""

    def __init__(self, period: Period) -> None:
        start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
        first = midnight_of(start) if start == midnight_of(start) else midnight_of(start) + timedelta(days=1)
        last = midnight_of(end)
        self.edges: list[tuple[datetime, datetime]] = []
        if first < last:
            self.first_day, self.end_day = first.date(), last.date()
            self.edges = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
        else:
            self.first_day = self.end_day = first.date()
            self.edges = [(start, end)]


def midnight_of(t: datetime) -> datetime:
    return datetime.combine(t.astimezone(UTC).date(), time(), tzinfo=UTC)
