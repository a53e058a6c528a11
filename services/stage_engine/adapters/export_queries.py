"""What the store holds of a set of leads, and the data keys of a set of identities, for an export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_IDS = "CAST(:leads AS text[])"
_SNAPSHOTS = text(f"SELECT lead_id, state FROM lead_snapshots WHERE lead_id = ANY({_IDS}) ORDER BY lead_id")
_EVENTS = text(
    "SELECT lead_id, version, type, cause_event_id, cause_type, occurred_at, data FROM lead_events"
    f" WHERE lead_id = ANY({_IDS}) ORDER BY position"
)
_ACTIVITY = text(
    "SELECT lead_id, kind, phase, key, campaign, views, first_seen, last_seen FROM lead_activity"
    f" WHERE lead_id = ANY({_IDS}) ORDER BY lead_id, kind, phase, key, campaign"
)
_READS = text(f"SELECT api_key_id, lead_id, read_at FROM lead_reads WHERE lead_id = ANY({_IDS}) ORDER BY id")
_KEYS = text(
    "SELECT k.key_id FROM person_keys k WHERE k.group_id IN (SELECT p.group_id FROM person_keys p"
    " JOIN person_key_identities i ON i.key_id = p.key_id"
    " JOIN unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS w(kind, value)"
    " ON (i.kind, i.value) = (w.kind, w.value))"
)


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row._mapping.items()} for row in result]


async def stored_about(conn: AsyncConnection, leads: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    wanted = {"leads": sorted(leads)}
    return {
        "leads": _rows(await conn.execute(_SNAPSHOTS, wanted)),
        "lead_events": _rows(await conn.execute(_EVENTS, wanted)),
        "activity": _rows(await conn.execute(_ACTIVITY, wanted)),
        "reads": _rows(await conn.execute(_READS, wanted)),
    }


async def key_ids_of(conn: AsyncConnection, identities: Iterable[tuple[str, str]]) -> set[str]:
    found = list(identities)
    pairs = {"kinds": [k for k, _ in found], "values": [v for _, v in found]}
    return set((await conn.execute(_KEYS, pairs)).scalars())
