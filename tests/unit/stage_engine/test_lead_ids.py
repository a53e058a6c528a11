"""Lead ids are uuid5 of the creating event's id: a replay, or another engine, builds the same id."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.stage_engine.domain.lead import new_lead_id

NAMESPACE = uuid.UUID("5f0f5a8e-7a61-4f43-9d55-2b7f0e7c1a10")  # the ids already stored were made in it


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_a_lead_id_is_the_uuid5_of_the_event_id(event_id: str) -> None:
    assert new_lead_id(event_id) == str(uuid.uuid5(NAMESPACE, event_id))


def test_a_known_event_id_keeps_the_lead_id_earlier_versions_stored() -> None:
    assert new_lead_id("evt-1") == "43dc115c-cdfa-5a88-8e52-57a0b81fae58"
