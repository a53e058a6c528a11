"""Lead state <-> the JSON kept in lead_snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from services.stage_engine.domain.lead import Lead

# A snapshot's JSON straight into the dataclass, in C (~1.4 µs against ~4.7 µs for orjson + lead_from_dict; it
# runs for every lead a batch loads). It reads what lead_to_dict writes (unit-tested against lead_from_dict).
_LEAD = msgspec.json.Decoder(Lead)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def lead_to_dict(lead: Lead) -> dict[str, Any]:
    return {
        "lead_id": lead.lead_id,
        "created_at": lead.created_at.isoformat(),
        "version": lead.version,
        "stage": lead.stage,
        "stage_entered_at": _time(lead.stage_entered_at),
        "score": lead.score,
        "score_at_stage_entry": lead.score_at_stage_entry,
        "identities": sorted([kind, value] for kind, value in lead.identities),
        "divisions": sorted(lead.divisions),
        "sla_due_at": _time(lead.sla_due_at),
        "sla_met_at": _time(lead.sla_met_at),
        "merged_into": lead.merged_into,
        "dimensions": [list(held) for held in lead.dimensions],
    }


def lead_from_dict(data: dict[str, Any]) -> Lead:
    return Lead(
        lead_id=data["lead_id"],
        created_at=datetime.fromisoformat(data["created_at"]),
        version=data["version"],
        stage=data["stage"],
        stage_entered_at=_parse(data["stage_entered_at"]),
        score=data["score"],
        score_at_stage_entry=data["score_at_stage_entry"],
        identities=frozenset((kind, value) for kind, value in data["identities"]),
        divisions=frozenset(data["divisions"]),
        sla_due_at=_parse(data["sla_due_at"]),
        sla_met_at=_parse(data["sla_met_at"]),
        merged_into=data["merged_into"],
        dimensions=tuple(tuple(held) for held in data.get("dimensions", ())),
    )


def lead_from_json(text: str | bytes) -> Lead:
    """The state as lead_snapshots holds it (`state::text`)."""
    return _LEAD.decode(text)
