"""Proof that the ingest under benchmark really seals: what it published for a sample of the workload holds the
emails' keyed hashes and sealed boxes, no plaintext email, phone or name, and each box opens under the data key
the ingest stored for its person."""

from __future__ import annotations

import base64
import os
from typing import Any

from services.common.envelope import decode
from services.common.personal.identity import email_hash
from services.common.personal.person_keys import data_keys
from services.common.personal.sealed_event import opened_properties, sealed_key_id
from services.common.personal.sealing import DATA_KEY_BYTES, MasterKeys
from services.common.service import database
from services.common.settings import ServiceSettings
from tests.stack import consume

MASTER_ID = "bench"


class PersonalKeys:
    """Fresh keys of the personal-data settings for one run (never the development ones)."""

    def __init__(self) -> None:
        self.master = os.urandom(DATA_KEY_BYTES)
        self.hash_key = base64.b64encode(os.urandom(32))

    def env(self) -> dict[str, str]:
        return {
            "STAGETRACK_MASTER_KEYS": f'{{"{MASTER_ID}": "{base64.b64encode(self.master).decode()}"}}',
            "STAGETRACK_MASTER_KEY_ID": MASTER_ID,
            "STAGETRACK_IDENTITY_HASH_KEY": self.hash_key.decode(),
        }


async def assert_sealed(settings: ServiceSettings, sent: list[dict[str, Any]], keys: PersonalKeys) -> int:
    """Reads back the `sent` events (the first the topic holds) and checks each identified one; returns how many
    were sealed."""
    records = await consume(settings, settings.events_topic, len(sent))
    by_id = {event["event_id"]: event for event in sent}
    published = [decode(r.value) for r in records]
    assert len(published) == len(sent), f"{len(published)} records read back, {len(sent)} sent"
    for record in records:
        assert b".example.jp" not in record.value and b"Yamada" not in record.value and b"090-" not in record.value
    sealed = [e for e in published if e.sealed is not None]
    master = MasterKeys({MASTER_ID: keys.master}, MASTER_ID)
    async with database(settings) as engine, engine.connect() as conn:
        stored = await data_keys(conn, master, {sealed_key_id(e) or "" for e in sealed})
    for event in published:
        properties = by_id[event.event_id]["properties"]
        if "email" not in properties:
            assert event.sealed is None, f"{event.event_id} sealed with nothing personal"
            continue
        assert event.email_hash == email_hash(properties["email"], keys.hash_key)
        assert opened_properties(event, stored) == (properties, True), f"{event.event_id} does not open"
    return len(sealed)
