"""Accounts (ABM) by their furthest lead's stage (docs/kpi.md "Accounts"). Pure: no I/O.

An account's leads are the leads whose person's account value (the model's `account` dimension) is the account.
**An account is in the most advanced success-path stage any of its leads has reached**: from the first instant
a lead of it entered that stage, or a later one (a skip passes the stages before). So an account only moves
forward, and a detour moves it nowhere. The queries give, per account, the instants its level rose (`Step`:
the new level and the one before); from them, per success-path stage S and period P:

- inflow(S, P): accounts whose level became S in P; outflow(S, P): whose level left S in P, by destination;
- balance(S, t): accounts whose level at t is S (a rise at t counts at t); `accounts`: those with a level at `to`;
- reached(S): accounts whose level now is S or later; cohort CVR: of the accounts that entered S in P, those
  whose level now is past S; period CVR = outflow / inflow (every move of an account is forward).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.stage_model.model_types import StageModel
from services.kpi.domain.stats import ratio


@dataclass(frozen=True, slots=True)
class Step:
    account: str
    at: datetime
    level: int  # success-path index reached
    before: int | None  # the level before (None: the account's first)


def flows(steps: Iterable[Step], start: datetime, end: datetime, now_levels: dict[str, int]) -> dict[str, Any]:
    """Per level: inflow, outflow by destination, balance at `end`, and the cohort's counts; reached by level now."""
    inflow: dict[int, int] = defaultdict(int)
    outflow: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    at_end: dict[str, int] = {}
    entered: dict[int, set[str]] = defaultdict(set)
    for s in steps:
        if start <= s.at < end:
            inflow[s.level] += 1
            entered[s.level].add(s.account)
            if s.before is not None:
                outflow[s.before][s.level] += 1
        if s.at <= end:
            at_end[s.account] = max(at_end.get(s.account, -1), s.level)
    balance: dict[int, int] = defaultdict(int)
    for level in at_end.values():
        balance[level] += 1
    return {"inflow": inflow, "outflow": outflow, "balance": balance, "entered": entered, "now": now_levels}


def stage_rows(model: StageModel, counted: dict[str, Any]) -> list[dict[str, Any]]:
    path = model.success_path
    reached_by = counted["now"]
    rows = []
    for index, stage in enumerate(path):
        out = counted["outflow"].get(index, {})
        inflow = counted["inflow"].get(index, 0)
        entered = counted["entered"].get(index, set())
        cohort = None
        if index + 1 < len(path):
            converted = sum(1 for account in entered if reached_by.get(account, -1) > index)
            cohort = {**ratio(converted, len(entered)), "next_stage": path[index + 1]}
        rows.append(
            {
                "stage": stage,
                "division": model.stages[stage].division,
                "success_path_index": index,
                "inflow": inflow,
                "outflow": {"total": sum(out.values()), "by_destination": {path[t]: n for t, n in sorted(out.items())}},
                "balance": counted["balance"].get(index, 0),
                "reached": sum(1 for level in reached_by.values() if level >= index),
                "cohort_cvr": cohort,
                "period_cvr": ratio(sum(out.values()), inflow),
            }
        )
    return rows


def levels_now(steps: Sequence[Step]) -> dict[str, int]:
    found: dict[str, int] = {}
    for s in steps:
        found[s.account] = max(found.get(s.account, -1), s.level)
    return found
