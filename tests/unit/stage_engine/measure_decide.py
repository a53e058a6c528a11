"""Throughput of decide() (and evolve) over random events: `python -m tests.unit.stage_engine.measure_decide`.

Not a test (pytest does not collect it); the numbers are quoted in docs/stage-model.md. It runs the shipped
model, then the same model with every structured condition rewritten as a CEL `when:`, to show what
celpy costs on the hot path.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.envelope import EVENT_TYPES, Event
from services.common.stage_model.model import DEFAULT_MODEL_PATH, StageModel, default_model, load_model
from services.stage_engine.domain.decide import decide
from services.stage_engine.domain.evolve import evolve
from services.stage_engine.domain.lead import Lead

T0 = datetime(2024, 5, 1, tzinfo=UTC)
CEL_REWRITES = [
    ("where: {intent: high}", """when: 'has(event.properties.intent) && event.properties.intent == "high"'"""),
    (
        "where: {path: {under: /pricing}}",
        """when: 'event.properties.path == "/pricing" || event.properties.path.startsWith("/pricing/")'""",
    ),
    ("score_at_least: 30", "when: 'lead.score >= 30'"),
    ("score_gain_at_least: 30", "when: 'lead.score_since_stage_entry >= 30'"),
]


def random_events(n: int, leads: int, seed: int = 1) -> list[tuple[int, Event]]:
    rng = random.Random(seed)
    props: dict[str, Callable[[], dict[str, Any]]] = {
        "page_viewed": lambda: {"path": rng.choice(["/", "/pricing", "/blog/x", "/pricing/team"])},
        "form_submitted": lambda: {"form_id": "f", "email": "x@y", "intent": rng.choice(["normal", "high"])},
        "opportunity_won": lambda: {"opportunity_id": "o", "amount": str(rng.randint(1, 10**6))},
        "renewal_won": lambda: {"amount": "1000"},
        "upsell_won": lambda: {"amount": "1000"},
        "cross_sell_won": lambda: {"amount": "1000"},
        "feedback_submitted": lambda: {
            "from_division": "field_sales",
            "to_division": "inside_sales",
            "about": "meeting",
            "rating": 3,
        },
        "tracked": lambda: {"name": "x"},
    }
    out = []
    for i in range(n):
        kind, key = rng.choice(EVENT_TYPES), rng.randrange(leads)
        event = Event(
            event_id=f"e{i}",
            type=kind,
            occurred_at=T0 + timedelta(seconds=i),
            source="s",
            received_at=T0,
            anonymous_id=f"a{key}",
            lead_id=f"c{key}" if rng.random() < 0.5 else None,
            properties=props.get(kind, dict)(),
        )
        out.append((key, event))
    return out


def measure(model: StageModel, events: list[tuple[int, Event]]) -> tuple[float, float]:
    """(decide events/s, evolve domain events/s), timing each separately."""
    leads: dict[int, Lead | None] = {}
    decide_s = evolve_s = 0.0
    produced = 0
    for key, event in events:
        lead = leads.get(key)
        start = time.perf_counter()
        out = decide(lead, event, model)
        middle = time.perf_counter()
        for domain_event in out:
            lead = evolve(lead, domain_event)
        decide_s += middle - start
        evolve_s += time.perf_counter() - middle
        produced += len(out)
        leads[key] = lead
    return len(events) / decide_s, produced / evolve_s


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    events = random_events(n, leads=2_000)
    text = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")
    for old, new in CEL_REWRITES:
        text = text.replace(old, new)
    for name, model in [("the-model (structured)", default_model()), ("the-model as CEL", load_model(text))]:
        decided, evolved = measure(model, events)
        print(f"{name:24} decide {decided:>9,.0f} events/s   evolve {evolved:>9,.0f} domain events/s   ({n:,} events)")


if __name__ == "__main__":
    main()
