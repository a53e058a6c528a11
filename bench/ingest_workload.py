"""The ingest benchmark's workload: tracker page views with identified events among them (forms with an email,
a phone and a name; identify calls with traits; CRM events with a lead id), as request bodies, and as the
records the ingest publishes for them, sealed (the direct-to-Kafka baseline sends those)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from services.common.envelope import encode
from services.common.personal.key_statements import Identity
from services.ingest.app.sealer import Sealer, personal_marks
from services.ingest.domain.schemas import default_schemas_dir, load_validators
from services.ingest.domain.validation import EventValidator

BATCH = 100
VISITORS = 5000  # anonymous visitors sending the page views, 10 each in a pass of 50,000 events
IDENTIFIED_EVERY = 10  # one event in 10 names a person
KINDS = 5  # a person's identified events: form, identify call, CRM identify, CRM accepted, second form
LAG = 20  # persons between a person's successive identified events: they fall ~10 requests apart
START = datetime(2026, 11, 1, 9, tzinfo=timezone(timedelta(hours=9)))

Records = list[tuple[bytes, bytes]]  # (key, value) of one batch, as the ingest sends them


def new_run_id() -> str:
    """8 random letters naming a run's events and persons: no digits, since an anonymous id with a run of them
    ("anon-03234039-0-0") is shaped like a phone number, and the personal-data guard refuses it."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


def events(run: str, count: int) -> list[dict[str, Any]]:
    """`count` events, each with a timestamp of its own (no cache helps): 9 in 10 anonymous page views, 1 in 10
    identified. Each person has KINDS identified events, so one in KINDS identified events names a person the
    key store has not seen (a new data key); `run` makes every pass's persons new."""
    persons = max(1, count // IDENTIFIED_EVERY // KINDS)
    out = []
    for i in range(count):
        at = (START + timedelta(milliseconds=i)).isoformat(timespec="milliseconds")
        if i % IDENTIFIED_EVERY == IDENTIFIED_EVERY - 1:
            j = i // IDENTIFIED_EVERY
            kind, person = j % KINDS, (j // KINDS - LAG * (j % KINDS)) % persons
            out.append({"event_id": f"{run}-{i}", "occurred_at": at, **identified(run, person, kind)})
        else:
            out.append(page_view(run, i, at))
    return out


def page_view(run: str, i: int, at: str) -> dict[str, Any]:
    """The ingest's commonest event, and the one the personal-data guard walks."""
    return {
        "event_id": f"{run}-{i}",
        "type": "page_viewed",
        "occurred_at": at,
        "anonymous_id": f"anon-{run}-{i % VISITORS}",
        "properties": {
            "path": "/pricing",
            "title": "Pricing",
            "campaign": "q4",
            "url": "https://example.test/pricing?utm_source=news",
            "referrer": "https://www.google.com/",
        },
    }


def identified(run: str, person: int, kind: int) -> dict[str, Any]:
    anon, lead = f"anon-{run}-{person % VISITORS}", f"lead-{run}-{person}"
    email, name = f"person{person}@{run}.example.jp", f"Hanako Yamada {person}"
    phone = f"090-{person // 10000 % 10000:04d}-{person % 10000:04d}"
    traits = {"name": name, "company": f"Example {person % 300} KK", "title": "Head of Sales", "employees": 40}
    if kind == 0:
        form = {"form_id": "demo-request", "email": email, "intent": "high", "campaign": "q4"}
        return {"type": "form_submitted", "anonymous_id": anon, "properties": {**form, "name": name, "phone": phone}}
    if kind == 1:
        return {"type": "identified", "anonymous_id": anon, "properties": {"email": email, "traits": traits}}
    if kind == 2:
        crm = {"email": email, "traits": {**traits, "phone": phone}}
        return {"type": "identified", "lead_id": lead, "properties": crm}
    if kind == 3:
        return {"type": "lead_accepted", "lead_id": lead, "properties": {"owner": "sales-1"}}
    return {"type": "form_submitted", "anonymous_id": anon, "properties": {"form_id": "whitepaper", "email": email}}


def request_bodies(workload: Sequence[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps({"events": workload[i : i + BATCH]}) for i in range(0, len(workload), BATCH)]


class FixedKey:
    """One data key for every person: the baseline seals exactly as the door does, without the key store."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    async def keys_for(self, wanted: Sequence[Sequence[Identity]]) -> list[tuple[str, bytes]]:
        return [("bench-fixed", self._key) for _ in wanted]


async def kafka_records(bodies: Sequence[bytes], hash_key: bytes, data_key: bytes) -> list[Records]:
    """The records the ingest would send for each body: validated, stamped, sealed and encoded the same way."""
    validator = EventValidator(load_validators(default_schemas_dir()))
    sealer = Sealer(FixedKey(data_key), hash_key, personal_marks([], None))  # type: ignore[arg-type]
    batches = []
    for body in bodies:
        result = validator.validate_batch(orjson.loads(body)["events"], source="bench", received_at=datetime.now(UTC))
        assert not result.errors, result.errors
        sealed = await sealer.seal([e for _, e in result.accepted])
        batches.append([(e.partition_key.encode(), encode(e)) for e in sealed])
    return batches
