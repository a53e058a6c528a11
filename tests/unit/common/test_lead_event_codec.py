"""The lead-event contract: every domain event to JSON and back, strictly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from services.common.lead_events.event_codec import CodecError, from_dict, to_dict
from services.common.lead_events.events import LeadCreated, LeadsMerged, SlaMet, StageChanged

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def test_times_keep_their_offset_and_nested_tuples_come_back_as_tuples() -> None:
    jst = timezone(timedelta(hours=9))
    change = StageChanged(
        lead_id="l",
        cause_event_id="e",
        occurred_at=T0.astimezone(jst),
        from_stage="lead",
        to_stage="mql",
        to_division="marketing",
        rule="lead_to_mql",
        via=("visitor_to_lead",),
        model_version="v",
        event_occurred_at=T0,
        from_entered_at=None,
        sla_due_at=T0 + timedelta(days=1),
    )
    data = orjson.loads(orjson.dumps(to_dict(change)))
    assert data["occurred_at"] == "2026-04-01T18:00:00+09:00" and data["via"] == ["visitor_to_lead"]
    assert from_dict(data) == change
    merged = _merged()
    back = from_dict(orjson.loads(orjson.dumps(to_dict(merged))))
    assert back == merged and isinstance(back, LeadsMerged) and back.identities[0] == ("crm", "42")


def test_a_met_sla_round_trips() -> None:
    met = SlaMet(lead_id="l", cause_event_id="e", occurred_at=T0, stage="mql", rule="call", on_time=True)
    assert from_dict(to_dict(met)) == met


def _merged() -> LeadsMerged:
    return LeadsMerged(
        lead_id="s",
        cause_event_id="e",
        occurred_at=T0,
        role="survivor",
        survivor_id="s",
        absorbed_id="a",
        stage_before="lead",
        stage_after="mql",
        stage_entered_at_after=T0,
        score_after=40,
        score_at_stage_entry_after=10,
        identities=(("crm", "42"), ("anonymous", "x")),
        divisions_after=("marketing",),
        sla_due_at_after=None,
        sla_met_at_after=None,
        model_version="v",
        event_occurred_at=T0,
    )


def test_codec_refuses_unknown_types_and_fields() -> None:
    with pytest.raises(CodecError):
        from_dict({"type": "Nope"})
    created = LeadCreated(lead_id="l", cause_event_id="e", occurred_at=T0, model_version="v")
    with pytest.raises(CodecError):
        from_dict({**to_dict(created), "extra": 1})
    with pytest.raises(CodecError):
        from_dict({"type": "LeadCreated", "lead_id": "l"})
