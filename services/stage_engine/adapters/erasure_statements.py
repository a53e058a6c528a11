"""The SQL of an erasure, on the caller's transaction: find a subject's leads (with every lead merged into or from
them) and their identities, then take the person out of the store while every stay, transition and amount stays.

What goes: the identity index rows, the identities in the snapshots and in the stored IdentityLinked and
LeadsMerged events (values read "erased"), the CRM ids the dispatcher keeps and those in its webhook bodies, the
lead events it set aside unread, the connector ledger's rows of the leads' events. The same `erase_store` runs
on a replay's scratch store, so a replay after an erasure still matches live.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

Identity = tuple[str, str]
ERASED = "erased"
_IDS = "CAST(:leads AS text[])"

_LEADS_OF = text(
    "SELECT DISTINCT i.lead_id FROM lead_identities i"
    " JOIN unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS w(kind, value)"
    " ON (i.kind, i.value) = (w.kind, w.value)"
)
_KNOWN = text(f"SELECT lead_id FROM lead_snapshots WHERE lead_id = ANY({_IDS})")
# one step of the merge closure: the survivors of these leads, and the leads absorbed into them
_NEIGHBOURS = text(
    f"SELECT state->>'merged_into' FROM lead_snapshots WHERE lead_id = ANY({_IDS})"
    " AND state->>'merged_into' IS NOT NULL"
    f" UNION SELECT lead_id FROM lead_snapshots WHERE state->>'merged_into' = ANY({_IDS})"
)
_IDENTITIES = text(
    f"SELECT kind, value FROM lead_identities WHERE lead_id = ANY({_IDS})"
    " UNION SELECT i->>0, i->>1 FROM lead_snapshots, jsonb_array_elements(state->'identities') AS i"
    f" WHERE lead_id = ANY({_IDS}) AND i->>1 <> '{ERASED}'"
)
_STORE = {
    "identities": f"DELETE FROM lead_identities WHERE lead_id = ANY({_IDS})",
    "snapshots": "UPDATE lead_snapshots SET state = jsonb_set(state, '{identities}', '[]')"
    f" WHERE lead_id = ANY({_IDS}) AND state->'identities' <> '[]'",
    "identity_events": f"UPDATE lead_events SET data = jsonb_set(data, '{{value}}', '\"{ERASED}\"')"
    f" WHERE lead_id = ANY({_IDS}) AND type = 'IdentityLinked' AND data->>'value' <> '{ERASED}'",
    "merge_events": "UPDATE lead_events SET data = jsonb_set(data, '{identities}', '[]')"
    f" WHERE lead_id = ANY({_IDS}) AND type = 'LeadsMerged' AND data->'identities' <> '[]'",
}
_ELSEWHERE = {
    "dispatch_leads": f"UPDATE dispatch_leads SET crm_ids = '{{}}' WHERE lead_id = ANY({_IDS}) AND crm_ids <> '{{}}'",
    "dispatch_deliveries": "UPDATE dispatch_deliveries SET body = convert_to(jsonb_set("
    "convert_from(body, 'UTF8')::jsonb, '{data,crm_ids}', '[]')::text, 'UTF8')"
    f" WHERE lead_id = ANY({_IDS}) AND convert_from(body, 'UTF8')::jsonb #> '{{data,crm_ids}}' <> '[]'",
    # lead events the dispatcher could not read, kept as received (keyed by lead id): they may hold a CRM id
    "dispatch_set_aside": "DELETE FROM dispatch_set_aside"
    f" WHERE key IN (SELECT convert_to(lead, 'UTF8') FROM unnest({_IDS}) AS lead)",
    "connector_deliveries": "DELETE FROM connector_deliveries WHERE event_id IN"
    f" (SELECT cause_event_id FROM lead_events WHERE lead_id = ANY({_IDS}))",
}


def _pairs(identities: Iterable[Identity]) -> dict[str, list[str]]:
    found = list(identities)
    return {"kinds": [k for k, _ in found], "values": [v for _, v in found]}


async def leads_of(conn: AsyncConnection, identities: Iterable[Identity], lead_ids: Iterable[str] = ()) -> set[str]:
    """The leads the identities (or internal ids) name, with every lead merged into or absorbed by them."""
    found = set((await conn.execute(_LEADS_OF, _pairs(identities))).scalars())
    if named := list(lead_ids):
        found |= set((await conn.execute(_KNOWN, {"leads": named})).scalars())
    frontier = set(found)
    while frontier:
        frontier = set((await conn.execute(_NEIGHBOURS, {"leads": list(frontier)})).scalars()) - found
        found |= frontier
    return found


async def identities_of(conn: AsyncConnection, leads: Iterable[str]) -> set[Identity]:
    return {(kind, value) for kind, value in await conn.execute(_IDENTITIES, {"leads": list(leads)})}


async def erase_store(conn: AsyncConnection, leads: Iterable[str]) -> dict[str, int]:
    """Rows changed per place in the engine's store (a replay's scratch store too)."""
    wanted = {"leads": list(leads)}
    return {place: (await conn.execute(text(sql), wanted)).rowcount for place, sql in _STORE.items()}


async def erase_elsewhere(conn: AsyncConnection, leads: Iterable[str]) -> dict[str, int]:
    """Rows changed per place in the dispatcher's and the ingest's tables; before `erase_store` touches the events
    (the connector ledger is found by them)."""
    wanted = {"leads": list(leads)}
    return {place: (await conn.execute(text(sql), wanted)).rowcount for place, sql in _ELSEWHERE.items()}


async def erased_leads(conn: AsyncConnection, schema: str) -> list[str]:
    """Every lead an erasure in `schema` removed a person from (a replay erases the same from what it rebuilds)."""
    rows = await conn.execute(text(f'SELECT DISTINCT unnest(lead_ids) FROM "{schema}".erasure_receipts'))
    return list(rows.scalars())
