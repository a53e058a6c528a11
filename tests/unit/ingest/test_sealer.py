"""The door's choices, without a database: which events get the email's hash, which are sealed, under which
identities a person's key is asked for, and what passes untouched."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.common.envelope import Event
from services.common.personal.identity import email_hash
from services.common.personal.sealed_event import opened_properties
from services.common.personal.sealing import new_data_key
from services.ingest.app.sealer import Sealer

AT = datetime(2026, 1, 1, tzinfo=UTC)
KEY = new_data_key()


class Keys:
    """Answers every request with one key, remembering which identities were asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[tuple[str, str], ...]] = []

    async def keys_for(self, wanted: Sequence[Sequence[tuple[str, str]]]) -> list[tuple[str, bytes]]:
        self.asked += [tuple(w) for w in wanted]
        return [("k1", KEY) for _ in wanted]


def event(type: str, anon: str | None = "a1", lead: str | None = None, **props: Any) -> Event:
    return Event("e-" + type, type, AT, "web", AT, anonymous_id=anon, lead_id=lead, properties=props)


async def test_the_door_hashes_emails_seals_personal_fields_and_leaves_the_rest() -> None:
    keys = Keys()
    sealer = Sealer(keys, b"secret", ["member_no"])  # type: ignore[arg-type]
    view = event("page_viewed", path="/pricing")
    screen = event("screen_viewed", lead="L1", name="Pricing")
    form = event("form_submitted", email="Hanako@Example.jp", form_id="f", phone="090", member_no="77")
    crm = event("lead_accepted", anon=None, lead="L1", owner="sales-1")
    traits = event("identified", traits={"name": "Hanako", "employees": 40})
    sealed = await sealer.seal([view, screen, form, crm, traits])

    assert sealed[0] is view and sealed[3] is crm and sealed[1] is screen  # nothing personal: untouched
    hashed = email_hash("hanako@example.jp", b"secret")
    assert sealed[2].email_hash == hashed and sealed[2].properties == {"form_id": "f"}
    assert opened_properties(sealed[2], {"k1": KEY}) == (dict(form.properties), True)
    assert sealed[4].properties == {"traits": {"employees": 40}}  # a dimension's trait stays readable
    assert keys.asked == [(("email_hash", hashed),), (("anonymous", "a1"),)]


async def test_a_request_with_nothing_personal_asks_for_no_key() -> None:
    keys = Keys()
    await Sealer(keys, b"secret").seal([event("page_viewed", path="/")])  # type: ignore[arg-type]
    assert keys.asked == []
