"""Sealing an event's personal fields under a person's data key, and opening them (or reading "erased")."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import orjson
import pytest

from services.common.envelope import Event, decode, encode
from services.common.personal.identity import email_hash
from services.common.personal.sealed_event import opened_properties, sealed_event
from services.common.personal.sealed_fields import ERASED, split_personal
from services.common.personal.sealing import MasterKeys, Unreadable, new_data_key

AT = datetime(2026, 1, 1, tzinfo=UTC)
FORM = Event(
    event_id="e1",
    type="identified",
    occurred_at=AT,
    source="web",
    received_at=AT,
    anonymous_id="a1",
    properties={
        "email": "hanako@example.jp",
        "phone": "+81 90 1234 5678",
        "intent": "high",
        "traits": {"name": "Hanako Yamada", "company": "Example KK", "contact": "h@example.jp"},
    },
)


def test_personal_fields_are_taken_out_by_path_and_the_rest_kept() -> None:
    kept, fields = split_personal(FORM.properties)
    assert kept == {"intent": "high", "traits": {"company": "Example KK"}}
    assert dict(fields) == {
        ("email",): "hanako@example.jp",
        ("phone",): "+81 90 1234 5678",
        ("traits", "name"): "Hanako Yamada",
        ("traits", "contact"): "h@example.jp",
    }


def test_a_screen_or_tracked_events_name_is_no_persons_and_marked_keys_are() -> None:
    assert split_personal({"name": "Pricing"}, (), "screen_viewed") == ({"name": "Pricing"}, [])
    assert split_personal({"member_no": "1234"}, ["member no"])[1] == [(("member_no",), "1234")]


def test_a_sealed_event_holds_no_personal_byte_and_opens_under_its_key_only() -> None:
    key = new_data_key()
    kept, fields = split_personal(FORM.properties)
    sealed = sealed_event(FORM, kept, fields, "k1", key)
    record = encode(sealed)
    for secret in (b"hanako@example.jp", b"1234 5678", b"Hanako", b"h@example.jp"):
        assert secret not in record
    back = decode(record)
    assert opened_properties(back, {"k1": key}) == (dict(FORM.properties), True)
    erased, opened = opened_properties(back, {})  # the key was erased
    assert (
        not opened
        and erased["email"] == ERASED
        and erased["traits"] == {"name": ERASED, "company": "Example KK", "contact": ERASED}
    )
    assert opened_properties(back, {"k1": new_data_key()})[1] is False  # not its key


def test_the_ciphertext_is_bound_to_its_event() -> None:
    key = new_data_key()
    kept, fields = split_personal(FORM.properties)
    sealed = orjson.loads(encode(sealed_event(FORM, kept, fields, "k1", key)))
    moved = decode(orjson.dumps({**sealed, "event_id": "e2"}))
    assert opened_properties(moved, {"k1": key})[1] is False


def test_master_keys_wrap_with_the_current_one_and_unwrap_with_any_listed() -> None:
    old, new = os.urandom(32), os.urandom(32)
    data = new_data_key()
    master_id, wrapped = MasterKeys({"old": old}, "old").wrap("d1", data)
    rotated = MasterKeys({"old": old, "new": new}, "new")
    assert rotated.unwrap(master_id, "d1", wrapped) == data
    assert rotated.wrap("d1", data)[0] == "new"
    with pytest.raises(Unreadable):
        MasterKeys({"new": new}, "new").unwrap(master_id, "d1", wrapped)
    with pytest.raises(Unreadable):
        rotated.unwrap(master_id, "d2", wrapped)  # bound to its data key's id


def test_the_email_identity_is_keyed_and_normalized() -> None:
    assert email_hash(" Hanako@Example.JP ", b"k") == email_hash("hanako@example.jp", b"k")
    assert email_hash("hanako@example.jp", b"k") != email_hash("hanako@example.jp", b"other")
