"""A generated person: ids, a clock that stops at the end of the 90 days, the events in sending order.

Each person has a tracker cookie, a CRM id and an email; some a second cookie (a second device, merged
by email) or a CRM record created before their form (a CRM import, merged when the form links both).
Their journeys skip stages, drop to nurture and recycle, win, churn and come back, book revenue of every
kind (JPY with and without an explicit currency, USD with cents, refunds) and send feedback. They arrive from a
source (utm_source, as a property or in the URL), click campaigns, are identified with their company's size,
are worked by reps who sometimes hand them over, and some buy as an account of two people. On top:
late events (sent after an event that happened later; some after a merge that happened after them) and
duplicated event ids. Every record of one person is keyed by the person, so it reaches the engine in this
order. What the model does with the events is not decided here: `simulation.py` works it out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec

from services.common.envelope import Event

START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 90
END = START + timedelta(days=DAYS)
NOW = END + timedelta(hours=7, minutes=13)  # the KPI service's clock: after every event
PATHS = ["/", "/blog", "/docs", "/pricing", "/pricing/team", "/pricing-old"]
CAMPAIGNS = ["spring", "webinar-q3", "partner", None]
SOURCES = ["google", "bing", "newsletter", "partner-site", None]  # a visit's utm_source (None: direct)
REPS = ["sato", "suzuki", "tanaka"]  # inside sales
FIELD_REPS = ["kimura", "ito"]
EMPLOYEES: list[object] = [3, 40, 99, 100, 250, "999", 1000, 20000, "many", None]  # a company's size trait
DIVISIONS = ["marketing", "inside_sales", "field_sales", "customer_success"]
OFFSETS = [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
IDENTIFYING = {"form_submitted", "identified"}


class JourneyOver(Exception):
    """The person's clock ran past the 90 days."""


@dataclass
class Person:
    rng: random.Random
    run: str
    n: int
    t: datetime
    zone: timezone = UTC  # the offset its events are written in
    sent: list[Event] = field(default_factory=list)

    @property
    def cookie(self) -> str:
        return f"{self.run}-a{self.n}"

    @property
    def crm(self) -> str:
        return f"{self.run}-L{self.n}"

    @property
    def email(self) -> str:
        return f"Person.{self.n}@{self.run}.example"

    def exactly_after_last(self, delta: timedelta) -> bool:
        """Sets the clock to the last event's time + delta exactly (an SLA deadline to the microsecond)."""
        at = self.sent[-1].occurred_at + delta
        if at < self.t or at >= END:
            return False
        self.t = at
        return True

    def wait(self, low_hours: float, high_hours: float) -> None:
        self.t += timedelta(seconds=self.rng.uniform(low_hours, high_hours) * 3600)
        self.t += timedelta(microseconds=self.rng.randrange(1, 10**6))
        if self.t >= END:
            raise JourneyOver

    def emit(self, type: str, *, anon: str | None = None, crm: str | None = None, at: datetime | None = None,
             account: str | None = None, props: dict[str, Any] | None = None, **properties: Any) -> Event:  # fmt: skip
        when = (at or self.t).astimezone(self.zone)
        properties = {**(props or {}), **properties}
        event = Event(
            event_id=f"{self.run}-{self.n}-{len(self.sent)}", type=type, occurred_at=when, source="generated",
            received_at=when, anonymous_id=anon, lead_id=crm, account_id=account, properties=properties,
        )  # fmt: skip
        self.sent.append(event)
        return event


def late_and_duplicated(rng: random.Random, sent: list[Event]) -> list[Event]:
    """Late: a neighbour pair of CRM events swapped (the later-happened one first). Duplicated: a copy of an
    event (same event_id) sent again later. Identifying events stay in place, so no one is linked late."""
    events = list(sent)
    for i in range(1, len(events) - 1):
        a, b = events[i], events[i + 1]
        if a.type in IDENTIFYING or b.type in IDENTIFYING or a.lead_id is None or b.lead_id is None:
            continue
        if rng.random() < 0.12:
            events[i], events[i + 1] = b, a
    for i in range(len(events) - 1, -1, -1):
        if rng.random() < 0.04:
            events.insert(rng.randrange(i + 1, len(events) + 1), msgspec.structs.replace(events[i]))
    return events
