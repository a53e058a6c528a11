"""A small, consistent KPI projection data set written straight into the kpi tables, and its numbers by hand.

One `wave` = five leads of THE MODEL relative to `now` (the numbers below are per wave; waves add up):
    A  none->visitor->lead->mql->sal->sql->opportunity->onboarding (open; won 1,000,000 new)
    B  none->mql, open past its 24 h SLA (overdue now)
    C  none->lead->nurture (open)
    D  none->onboarding->active->churned (open; renewal 200,000, upsell 100,000, cross_sell 50,000)
    E  none->sql, left for opportunity after its 14 d SLA passed (a breach, not overdue now; open opportunity)
plus feedback between every pair of neighbouring divisions and once within marketing. With `strays`, rows
the stage model does not know (stage "ghost", division "sales_ops") that the metrics must leave out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import metadata
from services.common.stage_model.model import default_model
from services.kpi.adapters.tables import (
    kpi_checkpoint,
    kpi_dimension_values,
    kpi_feedback,
    kpi_lead_values,
    kpi_leads,
    kpi_revenue,
    kpi_revenue_shares,
    kpi_slice_day_counts,
    kpi_slice_flow_days,
    kpi_stays,
    kpi_transitions,
)

H = timedelta(hours=1)
D = timedelta(days=1)
KPI_TABLES = [kpi_checkpoint, kpi_stays, kpi_transitions, kpi_leads, kpi_revenue, kpi_revenue_shares, kpi_feedback]
# The dimension tables, empty: every lead in the slice `none` (the accounts route reads them whatever is asked).
KPI_TABLES += [kpi_lead_values, kpi_dimension_values, kpi_slice_day_counts, kpi_slice_flow_days]

BALANCE = {"onboarding": 1, "mql": 1, "nurture": 1, "churned": 1, "opportunity": 1}
ENTRIES = {"visitor": 1, "lead": 2, "mql": 2, "sal": 1, "sql": 2, "opportunity": 2, "onboarding": 2}
ENTRIES |= {"active": 1, "nurture": 1, "churned": 1}
TRANSITIONS = {
    ("none", "visitor"): 1, ("visitor", "lead"): 1, ("lead", "mql"): 1, ("mql", "sal"): 1, ("sal", "sql"): 1,
    ("sql", "opportunity"): 2, ("opportunity", "onboarding"): 1, ("none", "mql"): 1, ("none", "lead"): 1,
    ("lead", "nurture"): 1, ("none", "onboarding"): 1, ("onboarding", "active"): 1, ("active", "churned"): 1,
    ("none", "sql"): 1,
}  # fmt: skip
OVERDUE = {"mql": 1, "sql": 0, "onboarding": 0}
# Stays ended by a transition: stage -> durations.
ENDED = {
    "visitor": [H], "lead": [2 * H, 5 * D], "mql": [21 * H], "sal": [D], "sql": [3 * D, 16 * D],
    "opportunity": [3 * D], "onboarding": [20 * D], "active": [39 * D],
}  # fmt: skip
REVENUE = {"new": Decimal(1_000_000), "renewal": Decimal(200_000), "upsell": Decimal(100_000)}
REVENUE |= {"cross_sell": Decimal(50_000)}
ATTRIBUTED = {
    ("new", "marketing"): Decimal(300_000), ("new", "inside_sales"): Decimal(300_000),
    ("new", "field_sales"): Decimal(400_000), ("renewal", "customer_success"): Decimal(200_000),
    ("upsell", "customer_success"): Decimal(50_000), ("upsell", "field_sales"): Decimal(50_000),
    ("cross_sell", "customer_success"): Decimal(25_000), ("cross_sell", "field_sales"): Decimal(25_000),
}  # fmt: skip
# (from, to, about) -> ratings and met_expectations answers
FEEDBACK: dict[tuple[str, str, str], list[tuple[int, bool | None]]] = {
    ("field_sales", "inside_sales", "meeting"): [(4, True), (2, False)],
    ("inside_sales", "marketing", "lead"): [(3, None)],
    ("marketing", "customer_success", "campaign"): [(5, True)],
    ("customer_success", "field_sales", "meeting"): [(4, True)],
    ("marketing", "marketing", "campaign"): [(5, True)],
}


async def create_kpi_tables(engine: AsyncEngine) -> None:
    """The kpi tables in the engine's own (fresh) schema. Never `checkfirst`: it would find the tables of
    `public`, which is on the search path too, and the rows would land there."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: metadata.create_all(sync, tables=KPI_TABLES, checkfirst=False))


async def insert_wave(engine: AsyncEngine, now: datetime, wave: int, *, strays: bool = False) -> None:
    rows = _Rows(wave)
    t = now - 10 * D
    rows.path("A", [("visitor", t), ("lead", t + H), ("mql", t + 3 * H), ("sal", now - 9 * D), ("sql", now - 8 * D),
                    ("opportunity", now - 5 * D), ("onboarding", now - 2 * D)])  # fmt: skip
    rows.revenue("A", "new", now - 2 * D, {"marketing": 300_000, "inside_sales": 300_000, "field_sales": 400_000})
    rows.path("B", [("mql", now - 3 * D)])
    rows.path("C", [("lead", now - 6 * D), ("nurture", now - D)])
    rows.path("D", [("onboarding", now - 60 * D), ("active", now - 40 * D), ("churned", now - D)])
    rows.revenue("D", "renewal", now - 20 * D, {"customer_success": 200_000})
    rows.revenue("D", "upsell", now - 10 * D, {"customer_success": 50_000, "field_sales": 50_000})
    rows.revenue("D", "cross_sell", now - 5 * D, {"customer_success": 25_000, "field_sales": 25_000})
    rows.path("E", [("sql", now - 20 * D), ("opportunity", now - 4 * D)])
    for (source, target, about), answers in FEEDBACK.items():
        for rating, met in answers:
            rows.feedback("A", source, target, about, rating, met, now - D)
    if strays:
        rows.path("G", [("ghost", now - D)])
        rows.revenue("G", "royalty", now - D, {"marketing": 10})
        rows.revenue("G", "new", now - D, {"sales_ops": 7})
        rows.feedback("G", "sales_ops", "marketing", "lead", 1, False, now - D)
    async with engine.begin() as conn:
        for table, values in rows.tables.items():
            if values:
                await conn.execute(insert(table), values)


class _Rows:
    def __init__(self, wave: int) -> None:
        self.wave = wave
        self.position = wave * 10_000
        self.tables: dict[Any, list[dict[str, Any]]] = {
            t: [] for t in (kpi_stays, kpi_transitions, kpi_revenue, kpi_revenue_shares, kpi_feedback)
        }

    def _next(self) -> int:
        self.position += 1
        return self.position

    def lead(self, name: str) -> str:
        return f"{name}-{self.wave}"

    def path(self, name: str, steps: Sequence[tuple[str, datetime]]) -> None:
        model = default_model()
        previous: str | None = None
        for seq, (stage, at) in enumerate(steps, start=1):
            following = steps[seq] if seq < len(steps) else None
            sla = model.slas.get(stage)
            self.tables[kpi_stays].append(
                {
                    "lead_id": self.lead(name), "seq": seq, "stage": stage,
                    "division": model.stages[stage].division if stage in model.stages else "unknown",
                    "entered_at": at, "since": at, "entry_kind": "transition",
                    "exited_at": following[1] if following else None, "left_at": following[1] if following else None,
                    "exit_kind": "transition" if following else None, "to_stage": following[0] if following else None,
                    "sla_due_at": at + sla.within if sla else None, "sla_met_at": None,
                }
            )  # fmt: skip
            self.tables[kpi_transitions].append(
                {"position": self._next(), "lead_id": self.lead(name), "from_stage": previous, "to_stage": stage,
                 "rule": "test", "occurred_at": at}
            )  # fmt: skip
            previous = stage

    def revenue(self, name: str, kind: str, at: datetime, shares: dict[str, int]) -> None:
        position = self._next()
        self.tables[kpi_revenue].append(
            {"position": position, "lead_id": self.lead(name), "account_id": None, "kind": kind,
             "amount": Decimal(sum(shares.values())), "currency": "JPY", "occurred_at": at}
        )  # fmt: skip
        for division, amount in shares.items():
            self.tables[kpi_revenue_shares].append({"position": position, "division": division, "amount": amount})

    def feedback(
        self, name: str, source: str, target: str, about: str, rating: int, met: bool | None, at: datetime
    ) -> None:
        self.tables[kpi_feedback].append(
            {"position": self._next(), "lead_id": self.lead(name), "from_division": source, "to_division": target,
             "about": about, "rating": rating, "met_expectations": met, "reason_code": None, "campaign": "spring",
             "occurred_at": at}
        )  # fmt: skip
