"""Read-only SQL over two event stores in one database (live and a replay's scratch schema).

Equality is decided in PostgreSQL (full outer joins), so only the leads that differ come back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.stage_engine.adapters.scratch_schema import quoted
from services.stage_engine.domain.lead import ANONYMOUS, CRM


@dataclass(frozen=True)
class LeadSummary:
    lead_id: str
    stage: str | None
    score: int
    divisions: tuple[str, ...]
    identities: tuple[tuple[str, str], ...]
    merged_into: str | None
    version: int
    path: tuple[str, ...] = field(default=())  # "from>to (rule)" of every StageChanged, in stream order

    @property
    def label(self) -> str:
        """A stable name for people: the CRM id, else the first anonymous id, else the internal id."""
        for kind in (CRM, ANONYMOUS):
            values = sorted(v for k, v in self.identities if k == kind)
            if values:
                return f"{kind} {values[0]}"
        return f"lead {self.lead_id}"


async def differing_leads(conn: AsyncConnection, live: str, scratch: str) -> list[str]:
    """Leads whose stream (any domain event, byte for byte as JSON), snapshot or identities differ."""
    a, b = quoted(live), quoted(scratch)
    rows = await conn.execute(
        text(
            f"SELECT coalesce(l.lead_id, r.lead_id) FROM {a}.lead_events l FULL JOIN {b}.lead_events r "
            "ON l.lead_id = r.lead_id AND l.version = r.version "
            "WHERE (l.type, l.cause_event_id, l.occurred_at, l.data) IS DISTINCT FROM "
            "(r.type, r.cause_event_id, r.occurred_at, r.data) "
            f"UNION SELECT coalesce(l.lead_id, r.lead_id) FROM {a}.lead_snapshots l FULL JOIN {b}.lead_snapshots r "
            "ON l.lead_id = r.lead_id WHERE (l.version, l.state) IS DISTINCT FROM (r.version, r.state) "
            f"UNION SELECT unnest(ARRAY[l.lead_id, r.lead_id]) FROM {a}.lead_identities l "
            f"FULL JOIN {b}.lead_identities r ON l.kind = r.kind AND l.value = r.value "
            "WHERE l.lead_id IS DISTINCT FROM r.lead_id"
        )
    )
    return sorted(r[0] for r in rows if r[0] is not None)


async def totals(conn: AsyncConnection, schema: str) -> tuple[int, int]:
    """(leads, domain events) in a store."""
    s = quoted(schema)
    leads = await conn.scalar(text(f"SELECT count(*) FROM {s}.lead_snapshots"))
    events = await conn.scalar(text(f"SELECT count(*) FROM {s}.lead_events"))
    return int(leads or 0), int(events or 0)


async def summaries(conn: AsyncConnection, schema: str, lead_ids: list[str]) -> dict[str, LeadSummary]:
    s = quoted(schema)
    paths: dict[str, list[str]] = {}
    rows = await conn.execute(
        text(
            f"SELECT lead_id, data FROM {s}.lead_events WHERE lead_id = ANY(:ids) AND type = 'StageChanged' "
            "ORDER BY lead_id, version"
        ),
        {"ids": lead_ids},
    )
    for lead_id, data in rows:
        e = _json(data)
        paths.setdefault(lead_id, []).append(f"{e['from_stage'] or '(new)'}>{e['to_stage']} ({e['rule']})")
    found: dict[str, LeadSummary] = {}
    for (state,) in await conn.execute(
        text(f"SELECT state FROM {s}.lead_snapshots WHERE lead_id = ANY(:ids)"), {"ids": lead_ids}
    ):
        d = _json(state)
        found[d["lead_id"]] = LeadSummary(
            lead_id=d["lead_id"],
            stage=d["stage"],
            score=d["score"],
            divisions=tuple(d["divisions"]),
            identities=tuple((k, v) for k, v in d["identities"]),
            merged_into=d["merged_into"],
            version=d["version"],
            path=tuple(paths.get(d["lead_id"], ())),
        )
    return found


async def stage_counts(conn: AsyncConnection, schema: str) -> dict[str, tuple[int, int]]:
    """stage -> (leads in it now, people who ever entered it). A merged pair is one person (no count doubles)."""
    s = quoted(schema)
    now = await conn.execute(
        text(f"SELECT state->>'stage', count(*) FROM {s}.lead_snapshots WHERE state->>'merged_into' IS NULL GROUP BY 1")
    )
    balance = {stage: int(n) for stage, n in now}
    entered = await conn.execute(
        text(
            f"WITH RECURSIVE person(lead_id, root) AS ("
            f"SELECT lead_id, lead_id FROM {s}.lead_snapshots WHERE state->>'merged_into' IS NULL "
            f"UNION ALL SELECT x.lead_id, p.root FROM {s}.lead_snapshots x JOIN person p "
            "ON x.state->>'merged_into' = p.lead_id) "
            f"SELECT e.data->>'to_stage', count(DISTINCT p.root) FROM {s}.lead_events e JOIN person p "
            "USING (lead_id) WHERE e.type = 'StageChanged' GROUP BY 1"
        )
    )
    ever = {stage: int(n) for stage, n in entered}
    return {stage: (balance.get(stage, 0), ever.get(stage, 0)) for stage in {*balance, *ever}}


async def final_stage_differences(conn: AsyncConnection, live: str, scratch: str) -> int:
    """Unmerged leads (by internal id) whose current stage differs, or that exist on one side only."""
    a, b = quoted(live), quoted(scratch)
    found = await conn.scalar(
        text(
            f"SELECT count(*) FROM (SELECT lead_id, state->>'stage' AS stage FROM {a}.lead_snapshots "
            "WHERE state->>'merged_into' IS NULL) l FULL JOIN "
            f"(SELECT lead_id, state->>'stage' AS stage FROM {b}.lead_snapshots "
            "WHERE state->>'merged_into' IS NULL) r ON l.lead_id = r.lead_id "
            "WHERE l.stage IS DISTINCT FROM r.stage"
        )
    )
    return int(found or 0)


async def stored_offsets(conn: AsyncConnection, schema: str, group_id: str, topic: str) -> dict[int, int]:
    """partition -> next offset the live engine's group committed with its store."""
    rows = await conn.execute(
        text(
            f"SELECT partition, next_offset FROM {quoted(schema)}.consumer_offsets WHERE group_id = :g AND topic = :t"
        ),
        {"g": group_id, "t": topic},
    )
    return {int(p): int(o) for p, o in rows}


async def model_versions(conn: AsyncConnection, schema: str) -> set[str]:
    rows = await conn.execute(
        text(
            f"SELECT DISTINCT data->>'model_version' FROM {quoted(schema)}.lead_events "
            "WHERE type IN ('LeadCreated', 'StageChanged')"
        )
    )
    return {r[0] for r in rows if r[0]}


def _json(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(orjson.loads(value))
