"""What a replay found, and how `stagetrack replay` prints it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.stage_engine.adapters.store_comparison import LeadSummary

SHOWN = 50  # differing leads printed in full; the rest are counted


@dataclass
class LeadDifference:
    lead_id: str
    live: LeadSummary | None
    replay: LeadSummary | None

    @property
    def label(self) -> str:
        side = self.live or self.replay
        return side.label if side is not None else f"lead {self.lead_id}"

    def describe(self) -> str:
        head = f"{self.label} (lead {self.lead_id})"
        if self.live is None or self.replay is None:
            return f"{head}: only in {'replay' if self.live is None else 'live'}"
        parts = [
            f"{name}: live {a} | replay {b}"
            for name, a, b in (
                ("stage", self.live.stage, self.replay.stage),
                ("score", self.live.score, self.replay.score),
                ("divisions", ",".join(self.live.divisions), ",".join(self.replay.divisions)),
                ("identities", _ids(self.live), _ids(self.replay)),
                ("merged_into", self.live.merged_into, self.replay.merged_into),
                ("stage path", " / ".join(self.live.path), " / ".join(self.replay.path)),
            )
            if a != b
        ]
        if not parts:  # same state and path: another domain event or the identity index differs
            parts = [
                f"other domain events differ (stream version live {self.live.version} | replay {self.replay.version})"
            ]
        return f"{head}: " + "; ".join(parts)


@dataclass
class Comparison:
    live_leads: int
    live_events: int
    replay_leads: int
    replay_events: int
    differences: list[LeadDifference]  # the first SHOWN, by label
    differing: int  # all of them (a person under two internal ids counts once)

    @property
    def matches(self) -> bool:
        return self.differing == 0 and (self.live_leads, self.live_events) == (self.replay_leads, self.replay_events)


@dataclass
class WhatIf:
    stages: dict[str, tuple[int, int, int, int]]  # stage -> (now live, now replay, entered live, entered replay)
    final_stage_differs: int  # unmerged leads whose current stage differs (or exist on one side only)
    leads: int  # unmerged leads live
    live_model: str  # "name (version)" of the model live runs


@dataclass
class ReplayResult:
    schema: str
    kept: bool
    model: str  # "name (version)" the replay ran under
    records: int
    applied: int
    duplicates: int
    dead_lettered: int
    dead_letter_examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comparison: Comparison | None = None
    what_if: WhatIf | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.comparison is None or self.comparison.matches else 1

    def render(self) -> str:
        lines = [
            f"replayed {self.records:,} records under {self.model}: {self.applied:,} applied, "
            f"{self.duplicates:,} duplicates, {self.dead_lettered:,} would be dead-lettered (not sent)",
            *self.dead_letter_examples,
            *(f"note: {n}" for n in self.notes),
        ]
        if self.comparison is not None:
            lines += _comparison_lines(self.comparison)
        if self.what_if is not None:
            lines += _what_if_lines(self.what_if)
        lines.append(f"scratch schema {self.schema} " + ("kept (--keep)" if self.kept else "dropped"))
        return "\n".join(lines)


def _comparison_lines(c: Comparison) -> list[str]:
    if c.matches:
        return [f"replay matches live: {c.live_leads:,} leads, {c.live_events:,} domain events"]
    lines = [
        f"replay differs from live: {c.differing:,} leads differ (live {c.live_leads:,} leads, "
        f"{c.live_events:,} domain events; replay {c.replay_leads:,} leads, {c.replay_events:,} domain events)"
    ]
    lines += [f"  {d.describe()}" for d in c.differences]
    if c.differing > len(c.differences):
        lines.append(f"  ... and {c.differing - len(c.differences):,} more")
    return lines


def _what_if_lines(w: WhatIf) -> list[str]:
    lines = [
        f"what-if against live under {w.live_model}: leads in each stage now, and people who ever entered it",
        f"{'stage':<16}{'now live':>10}{'now replay':>12}{'change':>8}"
        f"{'entered live':>14}{'entered replay':>16}{'change':>8}",
    ]
    for stage, (now_live, now_replay, in_live, in_replay) in w.stages.items():
        lines.append(
            f"{stage:<16}{now_live:>10}{now_replay:>12}{_change(now_live, now_replay):>8}"
            f"{in_live:>14}{in_replay:>16}{_change(in_live, in_replay):>8}"
        )
    lines.append(f"leads whose final stage differs: {w.final_stage_differs:,} of {w.leads:,}")
    return lines


def _change(before: int, after: int) -> str:
    return f"{after - before:+d}" if after != before else ""


def _ids(lead: LeadSummary) -> str:
    return ",".join(f"{k}:{v[:12]}" for k, v in lead.identities)


def ordered_stages(*orders: Iterable[str]) -> list[str]:
    """The stages of the given orders (models first), each once, in first-seen order."""
    return list(dict.fromkeys(s for order in orders for s in order))
