"""The engine's privacy routes and commands on a real store: an erasure by CRM id through POST /v1/erasures deletes
the linked keys too and needs the `erase` scope; lead reads are audited; a master-key rotation re-wraps every
data key; the backfill keys the leads stored before sealing, and resumes."""

from __future__ import annotations

import os

import httpx
import msgspec
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.personal.identity import email_hash
from services.common.personal.person_keys import PersonKeys, data_keys
from services.common.personal.rewrap import rewrap
from services.common.personal.sealing import MasterKeys
from services.stage_engine.app.backfill import backfill
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.keys import bearer, new_key
from tests.stack import eventually

AT = "2026-05-01T09:00:00+00:00"


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


async def set_aside(engine: AsyncEngine, values: dict[str, bytes]) -> None:
    """Lead events the dispatcher could not read, kept as received, keyed by lead id."""
    insert = text(
        'INSERT INTO dispatch_set_aside (topic, partition, "offset", key, value, reason) '
        "VALUES ('stagetrack.lead-events', 0, :offset, :key, :value, 'undecodable')"
    )
    async with engine.begin() as conn:
        for offset, (lead_id, value) in enumerate(values.items()):
            await conn.execute(insert, {"offset": offset, "key": lead_id.encode(), "value": value})


async def two_leads(producer: Producer, settings: EngineSettings, client: httpx.AsyncClient) -> str:
    """Ichiro (a form with his email's hash, CRM id L1) and L2, stored by the engine; returns Ichiro's hash."""
    hashed = email_hash("ichiro@example.jp", settings.hash_key)
    form = envelope("f1", "form_submitted", AT, anonymous_id="a1", lead_id="L1", form_id="demo")
    await producer.send(
        [msgspec.structs.replace(form, email_hash=hashed), envelope("f2", "lead_accepted", AT, lead_id="L2")]
    )

    async def stored() -> bool:
        return all([(await client.get(f"/v1/leads/{crm}")).status_code == 200 for crm in ("L1", "L2")])

    await eventually(stored, 30, "both leads stored")
    return hashed


async def test_an_erasure_through_the_api_takes_the_linked_keys_and_needs_the_erase_scope(
    producer: Producer, engine_settings: EngineSettings, engine_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    hashed = await two_leads(producer, engine_settings, engine_client)
    keys = PersonKeys(engine, engine_settings.master, cache_seconds=0)
    await keys.keys_for([[("email_hash", hashed), ("crm", "L1")], [("crm", "L2")]])
    await keys.keys_for([[("crm", "L2"), ("email_hash", hashed)]])  # L2's CRM record holds Ichiro's email: linked
    await keys.keys_for([[("crm", "L3")]])  # someone else
    assert len(await rows(engine, "SELECT * FROM person_keys")) == 3

    refused = await engine_client.post("/v1/erasures", json={"crm_id": "L2"})  # a read:leads key
    assert refused.status_code == 403
    eraser = bearer(await new_key(engine, "erase"))
    both = await engine_client.post("/v1/erasures", json={"crm_id": "L2", "email": "x@example.jp"}, headers=eraser)
    assert both.status_code == 422
    l2 = (await engine_client.get("/v1/leads/L2")).json()["lead_id"]
    await set_aside(engine, {l2: b'{"crm_ids": ["L2"], "unreadable', "someone-else": b"{"})
    receipt = (await engine_client.post("/v1/erasures", json={"crm_id": "L2"}, headers=eraser)).json()
    assert receipt["keys_deleted"] == 2 and receipt["lead_ids"] == [l2] and receipt["subject_kind"] == "crm_id"
    assert "L2" not in str(receipt)
    assert await rows(engine, "SELECT kind, value FROM person_key_identities") == [("crm", "L3")]
    assert (await engine_client.get("/v1/leads/L2")).status_code == 404
    assert await rows(engine, "SELECT key FROM dispatch_set_aside") == [(b"someone-else",)]  # the dispatcher's
    assert (await engine_client.get("/v1/leads/L1")).status_code == 200  # Ichiro's lead is another lead
    again = (await engine_client.post("/v1/erasures", json={"crm_id": "L2"}, headers=eraser)).json()
    assert again["keys_deleted"] == 0 and again["lead_ids"] == []

    reads = await rows(engine, "SELECT api_key_id, lead_id FROM lead_reads")
    assert len({key for key, _ in reads}) == 1 and {lead for _, lead in reads} >= {l2}


async def test_a_rotation_rewraps_every_data_key_under_the_new_master_key(
    engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = await PersonKeys(engine, MasterKeys({"old": old}, "old")).keys_for([[("crm", f"L{n}")] for n in range(5)])
    rotated = MasterKeys({"old": old, "new": new}, "new")
    assert await rewrap(engine, rotated) == 5
    assert await rewrap(engine, rotated) == 0
    assert {m for (m,) in await rows(engine, "SELECT master_key_id FROM person_keys")} == {"new"}
    async with engine.connect() as conn:
        after = await data_keys(conn, MasterKeys({"new": new}, "new"), [key_id for key_id, _ in before])
    assert after == dict(before)


async def test_the_backfill_keys_every_stored_lead_once_and_resumes(
    producer: Producer, engine_settings: EngineSettings, engine_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    hashed = await two_leads(producer, engine_settings, engine_client)
    keys = PersonKeys(engine, engine_settings.master, cache_seconds=0)
    assert await backfill(engine, keys) == 2
    assert await backfill(engine, keys) == 0  # resumed after the last lead done: nothing left
    found = dict(await rows(engine, "SELECT value, key_id FROM person_key_identities"))
    assert found.keys() == {hashed, "L1", "L2"} and found[hashed] == found["L1"] != found["L2"]


async def test_a_person_known_by_two_identities_is_served_from_the_cache_after_one_was_refreshed(
    engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    keys = PersonKeys(engine, MasterKeys({"m": os.urandom(32)}, "m"))
    email, crm = ("email_hash", "h-person"), ("crm", "L-person")
    first = await keys.keys_for([[email, crm]])
    # A request naming the email beside a new identity reads the store and refreshes the email's entry only.
    assert await keys.keys_for([[email, ("anonymous", "a-new")]]) == first
    checkouts: list[object] = []  # the key store queries on a pooled connection: none taken, no query
    event.listen(engine.sync_engine.pool, "checkout", lambda *args: checkouts.append(args[0]))
    assert await keys.keys_for([[email, crm]]) == first
    assert checkouts == [], "both identities are cached for the same key: no query"
