"""The lead aggregate's state: frozen, rebuilt by folding its domain events (`evolve.fold`).

A lead is one person as the engine knows them, under an internal id. The identities that resolve to it
(the tracker's anonymous ids, the CRM's lead id, a keyed hash of the email) are listed here; the
adapter keeps the identity -> lead index and resolves every incoming event to one lead before `decide`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.common.envelope import Event

ANONYMOUS = "anonymous"  # the tracker's cookie id (envelope anonymous_id)
CRM = "crm"  # the CRM's lead id (envelope lead_id)
EMAIL_HASH = "email_hash"  # keyed hash of the normalized email, computed by the adapter (key = deployment secret)

_LEAD_NAMESPACE = uuid.UUID("5f0f5a8e-7a61-4f43-9d55-2b7f0e7c1a10")
_LEAD_NAMESPACE_BYTES = _LEAD_NAMESPACE.bytes

Identity = tuple[str, str]  # (kind, value)


@dataclass(frozen=True, slots=True)
class Lead:
    lead_id: str
    created_at: datetime  # occurred_at of the event that created it
    version: int = 0  # number of domain events folded into this state (the stream version)
    stage: str | None = None  # None only between LeadCreated and the StageChanged of the same event
    stage_entered_at: datetime | None = None
    score: int = 0
    score_at_stage_entry: int = 0
    identities: frozenset[Identity] = frozenset()
    divisions: frozenset[str] = frozenset()  # every division that owned a stage this lead has been in
    sla_due_at: datetime | None = None  # deadline of the current stay's SLA, if its stage has one
    sla_met_at: datetime | None = None  # when a named event satisfied it while the lead stayed
    merged_into: str | None = None  # set on an absorbed lead: its survivor's id
    # The model's dimensions: (dimension, value, set at as UTC RFC 3339), sorted (domain/dimension_values.py)
    dimensions: tuple[tuple[str, str, str], ...] = ()

    @property
    def score_since_stage_entry(self) -> int:
        return self.score - self.score_at_stage_entry

    @property
    def identified(self) -> bool:
        """Known beyond an anonymous cookie (a CRM id or an email)."""
        return any(kind != ANONYMOUS for kind, _ in self.identities)


def new_lead_id(cause_event_id: str) -> str:
    """Deterministic internal id from the event that created the lead, so a replay builds the same ids: the
    text of uuid.uuid5(_LEAD_NAMESPACE, cause_event_id), built without the UUID object (a third of the time;
    it runs for every new lead; a unit test holds it equal to uuid5)."""
    h = bytearray(hashlib.sha1(_LEAD_NAMESPACE_BYTES + cause_event_id.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def event_identities(event: Event) -> tuple[Identity, ...]:
    """The identities an envelope carries; an event with both links them."""
    found: list[Identity] = []
    if event.anonymous_id:
        found.append((ANONYMOUS, event.anonymous_id))
    if event.lead_id:
        found.append((CRM, event.lead_id))
    return tuple(found)
