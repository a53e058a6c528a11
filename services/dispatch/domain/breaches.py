"""SLA breaches: a deadline that passed with the lead still in the stay that holds it becomes a moment.

The dispatcher only reports the breach; it never writes the lead's stream (one writer per stream), and the
KPI service counts the same breach from the stays (`breaches`). When it fires: once the deadline has passed
by the grace setting AND the partition that carries the lead's events has been read up to at least that
instant, so a move published before the deadline (and still waiting in Kafka) cancels it first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.dispatch.domain.lead_facts import Deadline
from services.dispatch.domain.moments import Moment, breach_key


def firing_cutoff(read_up_to: datetime, grace: timedelta) -> datetime:
    """Deadlines of a partition at or before this instant fire. `read_up_to`: every record published to the
    partition before it has been taken in (and its effects committed)."""
    return read_up_to - grace


def breach(
    lead_id: str,
    deadline: Deadline,
    division: str | None,
    crm_ids: tuple[str, ...],
    found_at: datetime,
    source: str | None = None,
) -> Moment:
    return Moment(
        kind="sla_breached",
        key=breach_key(lead_id, deadline.stage, deadline.due_at),
        lead_id=lead_id,
        occurred_at=deadline.due_at,
        recorded_at=found_at,
        cause_event_id=None,
        stage=deadline.stage,
        division=division,
        crm_ids=crm_ids,
        source=source,
        details={"sla": deadline.sla_id, "due_at": deadline.due_at.isoformat(), "stage": deadline.stage},
    )
