"""Test helpers: a log made by the engine's own pure domain, and the projection tables kept in memory.

`MemoryTables.apply` follows the statements of `adapters/projection_store.write_changes` one for one (prior
updates by `exited_at IS NULL`, inserts that ignore duplicates, GREATEST for the furthest index, inheritance
in order), so the fold can be checked here without a database; the integration tests run the real SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.common.envelope import Event
from services.common.lead_events.event_codec import to_dict
from services.common.stage_model.model_types import StageModel
from services.kpi.domain.projection import LeadEventRecord
from services.kpi.domain.projection_batch import Changes
from services.stage_engine.domain.batch import apply_batch
from services.stage_engine.domain.lead import Identity, Lead

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def envelope(event_id: str, type: str, hours: float, *, anon: str | None = None, crm: str | None = None,
             **properties: Any) -> Event:  # fmt: skip
    at = T0 + timedelta(hours=hours)
    return Event(event_id, type, at, "test", at, anonymous_id=anon, lead_id=crm, properties=properties)


@dataclass(repr=False)
class EngineLog:
    """Runs envelopes through the engine's `apply_batch`, numbering the domain events like the store does."""

    model: StageModel
    leads: dict[str, Lead] = field(default_factory=dict)
    index: dict[Identity, str] = field(default_factory=dict)
    records: list[LeadEventRecord] = field(default_factory=list)

    def send(self, events: Sequence[Event]) -> list[LeadEventRecord]:
        outcome = apply_batch([(e, ()) for e in events], self.leads, self.index, self.model)
        self.leads.update(outcome.leads)
        for absorbed, survivor in outcome.repointed.items():
            for identity, owner in list(self.index.items()):
                if owner == absorbed:
                    self.index[identity] = survivor
        self.index.update(outcome.new_identities)
        added = [
            LeadEventRecord(len(self.records) + i + 1, e.lead_id, version, to_dict(e))
            for i, (e, version) in enumerate(outcome.appended)
        ]
        self.records += added
        return added

    def __repr__(self) -> str:
        return "EngineLog(" + ", ".join(f"{r.position}:{r.lead_id[:4]}:{r.event['type']}" for r in self.records) + ")"

    def lead_of(self, identity: Identity) -> Lead:
        lead = self.leads[self.index[identity]]
        while lead.merged_into:
            lead = self.leads[lead.merged_into]
        return lead


@dataclass
class MemoryTables:
    stays: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    transitions: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    leads: dict[str, list[Any]] = field(default_factory=dict)  # lead -> [furthest_index, merged_into]
    revenue: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    shares: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    feedback: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    checkpoint: int = 0
    anomalies: list[str] = field(default_factory=list)

    def apply(self, c: Changes) -> None:
        for p in c.prior.values():
            open_rows = [r for (lead, _), r in self.stays.items() if lead == p.lead_id and r["exited_at"] is None]
            if len(open_rows) != 1:
                self.anomalies.append(f"{p.lead_id}: {len(open_rows)} open stays")
            for row in open_rows:
                exited = None if p.exited_at is None else max(p.exited_at, row["entered_at"])
                row.update(exited_at=exited, left_at=p.exited_at, exit_kind=p.exit_kind, to_stage=p.to_stage)
                row["sla_met_at"] = row["sla_met_at"] or p.sla_met_at
                if exited is not None and exited > p.exited_at:
                    c.reclamp(p.lead_id, exited)
        for s in c.stays:
            self.stays.setdefault((s.lead_id, s.seq), asdict(replace(s)))
        for t in c.transitions:
            self.transitions.setdefault(t.position, (t.lead_id, t.from_stage, t.to_stage, t.rule, t.occurred_at))
        for lead, index in c.reached.items():
            row = self.leads.setdefault(lead, [None, None])
            row[0] = _greatest(row[0], index)
            row[1] = c.merged_into.get(lead) or row[1]
        for i in c.inherits:
            absorbed = self.leads.get(i.absorbed_id, [None, None])[0]
            self.leads[i.survivor_id][0] = _greatest(self.leads[i.survivor_id][0], absorbed)
        for r in c.revenue:
            self.revenue.setdefault(r.position, (r.lead_id, r.account_id, r.kind, r.amount, r.currency, r.occurred_at))
            for division, amount in r.shares:
                self.shares.setdefault((r.position, division), amount)
        for f in c.feedback:
            self.feedback.setdefault(f.position, (f.lead_id, f.from_division, f.to_division, f.rating, f.occurred_at))
        self.checkpoint = max(self.checkpoint, c.last_position)
        self.anomalies += c.anomalies

    def project(self, records: Iterable[LeadEventRecord], model: StageModel) -> MemoryTables:
        self.apply(Changes(last_position=self.checkpoint).add_records(records, model))
        return self

    def open_stays(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for (lead, _), row in self.stays.items():
            if row["exited_at"] is None:
                assert lead not in found, f"lead {lead} has two open stays"
                found[lead] = row
        return found


def _greatest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
