"""The KPI benchmark's event store: N leads walking THE MODEL over a year, written into `lead_events` with COPY.

Each lead is created as a visitor and may go on along the success path (lead, mql, sal, sql, opportunity,
onboarding, active), fall out to nurture (and be recycled into mql, a re-entry), win (RevenueBooked, new)
or churn (and sometimes be won back). ScoreChanged events fill each stream to about EVENTS_PER_LEAD: the
engine's commonest event, which the projector reads and skips. SLAs are the model's (mql 24 h, sql 14 d,
onboarding 30 d); leaving late is a breach. Events after `end` are not written (the lead is still in its
stage). Positions follow event time across leads, as the engine's commit order does, so a projector batch
touches many leads with stays open from earlier batches, as in production. No merges: the plain-SQL
baseline reads a lead's stage as its last StageChanged, which a merge would change. Each lead's first touch
sets its `source` (a DimensionsSet at creation, as the engine writes it for a first page view with
utm_source): one of SOURCES, or none for NO_SOURCE of them.

The rows are exactly what the engine's store holds (`event_codec.to_dict` form in `data`), built as COPY text.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.common.stage_model.model_types import StageModel

DAY = 86_400
# (stage, probability of moving on, mean days before the move, rule of the move)
FORWARD = {
    "visitor": (0.5, 3.0, "identified"),
    "lead": (0.6, 5.0, "score_reached_mql"),
    "mql": (0.6, 0.8, "lead_accepted"),
    "sal": (0.6, 4.0, "meeting_scheduled"),
    "sql": (0.6, 10.0, "opportunity_opened"),
    "opportunity": (0.4, 30.0, "opportunity_won"),
    "onboarding": (0.9, 25.0, "onboarding_completed"),
    "active": (0.1, 120.0, "churned"),
}
NURTURE_SHARE = 0.5  # of the leads that do not move on from lead..opportunity: disqualified or lost to nurture
RECYCLE = (0.3, 40.0)  # nurture -> mql: probability, mean days
WIN_BACK = (0.1, 60.0)  # churned -> onboarding
SLA = {"mql": DAY, "sql": 14 * DAY, "onboarding": 30 * DAY}
SOURCES = ["google", "bing", "newsletter", "partner", "ads", "social", "events", "referral"]
SOURCE_WEIGHTS = [30, 12, 10, 8, 8, 6, 3, 3]
NO_SOURCE = 0.2


@dataclass(frozen=True)
class Loaded:
    leads: int
    events: int
    stage_changes: int
    by_type: dict[str, int]


def ts(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


class Streams:
    """Every lead's events in time order, merged across leads by time (a heap of the leads' next events)."""

    def __init__(self, model: StageModel, leads: int, events_per_lead: int, end: datetime, seed: int = 7) -> None:
        self.model = model
        self.rng = random.Random(seed)
        self.leads = leads
        self.events_per_lead = events_per_lead
        self.end = int(end.timestamp())
        self.start = self.end - 365 * DAY
        self.version = model.version
        self.counts: dict[str, int] = {}

    def rows(self) -> Iterator[tuple[int, str, int, str, int, str]]:
        """(time, lead, version, type, position-free) rows in time order: (at, lead_id, version, type, at, data)."""
        starts = sorted(self.rng.randrange(self.start, self.end) for _ in range(self.leads))
        heap: list[tuple[int, int, int, int]] = []  # (at, lead number, version, index into its events)
        pending: dict[int, list[tuple[int, str, str]]] = {}
        next_lead = 0
        while next_lead < self.leads or heap:
            if next_lead < self.leads and (not heap or starts[next_lead] <= heap[0][0]):
                events = self._lead(next_lead, starts[next_lead])
                pending[next_lead] = events
                heapq.heappush(heap, (events[0][0], next_lead, 1, 0))
                next_lead += 1
                continue
            at, lead, version, index = heapq.heappop(heap)
            events = pending[lead]
            _, kind, data = events[index]
            self.counts[kind] = self.counts.get(kind, 0) + 1
            yield at, f"L{lead}", version, kind, at, data
            if index + 1 < len(events):
                heapq.heappush(heap, (events[index + 1][0], lead, version + 1, index + 1))
            else:
                del pending[lead]

    def _lead(self, n: int, at: int) -> list[tuple[int, str, str]]:
        """One lead's events: (time, type, data JSON) in order, none after `end`."""
        rng, lead, v = self.rng, f"L{n}", self.version
        out: list[tuple[int, str, str]] = []
        cause = 0

        def add(when: int, kind: str, body: str) -> None:
            nonlocal cause
            cause += 1
            head = f'{{"type": "{kind}", "lead_id": "{lead}", "cause_event_id": "e{n}-{cause}", '
            out.append((when, kind, f'{head}"occurred_at": "{ts(when)}", {body}}}'))

        add(at, "LeadCreated", f'"model_version": "{v}"')
        add(at, "IdentityLinked", f'"kind": "anonymous", "value": "a{n}"')
        if rng.random() >= NO_SOURCE:
            source = rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
            add(at, "DimensionsSet", f'"values": [["source", "{source}"]]')
        stage, entered, score = None, at, 0
        moves = self._path(rng)
        for to_stage, rule, delay in moves:
            when = at if stage is None else entered + delay
            if when >= self.end:
                break
            due = SLA.get(to_stage)
            division = self.model.stages[to_stage].division
            came_from = None if stage is None else entered
            body = (
                f'"from_stage": {_s(stage)}, "to_stage": "{to_stage}", "to_division": "{division}", '
                f'"rule": "{rule}", "via": [], "model_version": "{v}", "event_occurred_at": "{ts(when)}", '
                f'"from_entered_at": {_t(came_from)}, "sla_due_at": {_t(None if due is None else when + due)}'
            )
            add(when, "StageChanged", body)
            if to_stage == "onboarding":
                add(when, "RevenueBooked", _booking(rng.randrange(10, 200) * 100_000, n, v))
            stage, entered = to_stage, when
        scores = max(0, self.events_per_lead - len(out) + rng.randint(-2, 2))
        last = min(entered + 30 * DAY, self.end - 1)
        for _ in range(scores):  # page views and touches between the moves
            when = rng.randrange(at, max(last, at + 1))
            score += 1
            add(when, "ScoreChanged", f'"delta": 1, "new_score": {score}, "rule": "page_viewed"')
        out.sort(key=lambda e: e[0])  # stable: a move and its booking keep their order
        return out

    @staticmethod
    def _path(rng: random.Random) -> list[tuple[str, str, int]]:
        """(to_stage, rule, seconds after the previous move) from the lead's first stage on."""
        moves = [("visitor", "first_seen", 0)]
        stage = "visitor"
        for _ in range(12):
            if stage == "nurture":
                if rng.random() >= RECYCLE[0]:
                    break
                stage, rule, mean = "mql", "recycled_by_score", RECYCLE[1]
            elif stage == "churned":
                if rng.random() >= WIN_BACK[0]:
                    break
                stage, rule, mean = "onboarding", "win_back", WIN_BACK[1]
            else:
                p, mean, rule = FORWARD[stage]
                if rng.random() < p:
                    stage = "churned" if stage == "active" else _NEXT[stage]
                elif stage in _NURTURABLE and rng.random() < NURTURE_SHARE:
                    stage, rule = "nurture", "lead_disqualified" if stage != "opportunity" else "opportunity_lost"
                else:
                    break
            moves.append((stage, rule, max(1, int(rng.expovariate(1 / (mean * DAY))))))
        return moves


_NEXT = {"visitor": "lead", "lead": "mql", "mql": "sal", "sal": "sql", "sql": "opportunity",
         "opportunity": "onboarding", "onboarding": "active"}  # fmt: skip
_NURTURABLE = {"lead", "mql", "sal", "sql", "opportunity"}


def _booking(amount: int, n: int, version: str) -> str:
    """A new deal in JPY, split 30/30/40 as the model's attribution does (exact: amounts are multiples of 10)."""
    shares = [["marketing", amount * 3 // 10], ["inside_sales", amount * 3 // 10], ["field_sales", amount * 4 // 10]]
    listed = ", ".join(f'["{division}", "{value}"]' for division, value in shares)
    return (
        f'"kind": "new", "amount": "{amount}", "currency": "JPY", "shares": [{listed}], '
        f'"model_version": "{version}", "account_id": "acct-{n}", "reference": null'
    )


def _s(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _t(seconds: int | None) -> str:
    return "null" if seconds is None else f'"{ts(seconds)}"'


async def copy_events(conn: asyncpg.Connection, streams: Streams, chunk: int = 20_000) -> Loaded:
    """Writes every event into lead_events with COPY (text format), positions 1.. in time order."""
    rows = streams.rows()

    async def source() -> AsyncIterator[bytes]:
        lines: list[str] = []
        for position, (at, lead, version, kind, _, data) in enumerate(rows, start=1):
            stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
            lines.append(f"{position}\t{lead}\t{version}\t{kind}\t{lead}-{version}\t{stamp}\t{stamp}\t{data}\n")
            if len(lines) >= chunk:
                yield "".join(lines).encode()
                lines = []
        if lines:
            yield "".join(lines).encode()

    columns = ["position", "lead_id", "version", "type", "cause_event_id", "occurred_at", "recorded_at", "data"]
    await conn.copy_to_table("lead_events", source=source(), columns=columns)
    total = sum(streams.counts.values())
    return Loaded(streams.leads, total, streams.counts.get("StageChanged", 0), dict(streams.counts))
