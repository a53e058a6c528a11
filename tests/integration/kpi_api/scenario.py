"""Hand-built projection rows (the contract of services/kpi/adapters/tables.py) and the KPI app around them.

`Scenario` writes what the projector would: `enter` is a StageChanged (closes the open stay by a transition,
opens one, records the transition, raises the furthest index), `merge` a pair of LeadsMerged (absorbed: its
stay closes `absorbed`, merged_into set; survivor: when the stage changes, close `merge` and reopen with
`since` = the kept stay's start and its SLA), `book` a RevenueBooked with its shares, `feedback` a
FeedbackRecorded. The numbers the tests expect are computed by hand in each test, not with this code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from services.kpi.adapters.tables import (
    kpi_feedback,
    kpi_leads,
    kpi_revenue,
    kpi_revenue_shares,
    kpi_stays,
    kpi_transitions,
)
from services.kpi.app.bootstrap import create_app
from services.kpi.app.settings import KpiSettings
from tests.keys import bearer, new_key
from tests.kpi_dataset import create_kpi_tables

T0 = datetime(2025, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
MODEL = default_model()


@contextlib.asynccontextmanager
async def kpi_client(settings: ServiceSettings, now: datetime, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The KPI app in-process over the test's schema, its client holding a `read:kpi` key."""
    kpi_settings = KpiSettings(database_schema=settings.database_schema, **overrides)
    app = create_app(kpi_settings, clock=lambda: now, run_projector=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = bearer(await new_key(app.state.db, "read:kpi"))
        async with httpx.AsyncClient(transport=transport, base_url="http://kpi", headers=headers) as client:
            yield client


@dataclass
class Scenario:
    stays: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    revenue: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)
    feedbacks: list[dict[str, Any]] = field(default_factory=list)
    position: int = 0
    _open: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _next(self) -> int:
        self.position += 1
        return self.position

    def _lead(self, lead: str) -> dict[str, Any]:
        return self.leads.setdefault(lead, {"lead_id": lead, "furthest_index": None, "merged_into": None})

    def _reach(self, lead: str, stage: str) -> None:
        row, index = self._lead(lead), MODEL.stages[stage].path_index
        if index is not None and (row["furthest_index"] is None or index > row["furthest_index"]):
            row["furthest_index"] = index

    def _close(self, lead: str, at: datetime, kind: str, to: str | None) -> dict[str, Any] | None:
        stay = self._open.pop(lead, None)
        if stay is not None:
            stay.update(exited_at=at, left_at=at, exit_kind=kind, to_stage=to)
        return stay

    def _stay(self, lead: str, stage: str, at: datetime, since: datetime, kind: str, due: datetime | None) -> None:
        stay = {
            "lead_id": lead, "seq": self._next(), "stage": stage, "division": MODEL.stages[stage].division,
            "entered_at": at, "since": since, "entry_kind": kind, "exited_at": None, "exit_kind": None,
            "to_stage": None, "sla_due_at": due, "sla_met_at": None, "left_at": None,
        }  # fmt: skip
        self.stays.append(stay)
        self._open[lead] = stay

    def enter(self, lead: str, stage: str, at: datetime) -> None:
        before = self._close(lead, at, "transition", stage)
        sla = MODEL.slas.get(stage)
        self._stay(lead, stage, at, at, "transition", at + sla.within if sla else None)
        self.transitions.append(
            {"position": self._next(), "lead_id": lead, "from_stage": before["stage"] if before else None,
             "to_stage": stage, "rule": "test", "occurred_at": at}
        )  # fmt: skip
        self._reach(lead, stage)

    def path(self, lead: str, *steps: tuple[str, datetime]) -> None:
        for stage, at in steps:
            self.enter(lead, stage, at)

    def meet_sla(self, lead: str, at: datetime) -> None:
        self._open[lead]["sla_met_at"] = at

    def merge(self, survivor: str, absorbed: str, at: datetime, kept: str) -> None:
        """`kept` (survivor or absorbed) names whose stay the merged lead keeps (stage, since, SLA)."""
        keep = self._open[kept]
        stage, since, due, met = keep["stage"], keep["since"], keep["sla_due_at"], keep["sla_met_at"]
        self._close(absorbed, at, "absorbed", stage)
        self._lead(absorbed)["merged_into"] = survivor
        if self._open[survivor]["stage"] != stage:
            self._close(survivor, at, "merge", stage)
            self._stay(survivor, stage, at, since, "merge", due)
            self._open[survivor]["sla_met_at"] = met
        furthest = [self._lead(x)["furthest_index"] for x in (survivor, absorbed)]
        self._lead(survivor)["furthest_index"] = max((f for f in furthest if f is not None), default=None)

    def book(
        self, lead: str, kind: str, amount: str, at: datetime, shares: dict[str, str], *,
        account: str | None = None, currency: str = "JPY",
    ) -> None:  # fmt: skip
        position = self._next()
        self.revenue.append(
            {"position": position, "lead_id": lead, "account_id": account, "kind": kind, "amount": Decimal(amount),
             "currency": currency, "occurred_at": at}
        )  # fmt: skip
        self.shares += [{"position": position, "division": d, "amount": Decimal(a)} for d, a in shares.items()]

    def feedback(
        self, source: str, target: str, rating: int, met: bool | None, at: datetime, campaign: str | None = None
    ) -> None:
        self.feedbacks.append(
            {"position": self._next(), "lead_id": "x", "from_division": source, "to_division": target,
             "about": "lead", "rating": rating, "met_expectations": met, "reason_code": None, "campaign": campaign,
             "occurred_at": at}
        )  # fmt: skip

    async def write(self, engine: AsyncEngine) -> None:
        await create_kpi_tables(engine)
        tables = [
            (kpi_stays, self.stays), (kpi_transitions, self.transitions), (kpi_leads, list(self.leads.values())),
            (kpi_revenue, self.revenue), (kpi_revenue_shares, self.shares), (kpi_feedback, self.feedbacks),
        ]  # fmt: skip
        async with engine.begin() as conn:
            for table, rows in tables:
                if rows:
                    await conn.execute(insert(table), rows)


def iso(at: datetime) -> str:
    return at.isoformat()
