"""The KPI benchmark's baseline: the numbers of GET /v1/kpi/stages computed by plain SQL GROUP BYs over the raw
event table (`lead_events`, JSONB), with no projection, and the same numbers picked out of the API's answer.

One statement per period reads the StageChanged rows once (a MATERIALIZED CTE, the fastest plain form) and
derives, per stage: inflow, outflow by destination, the balance at `to` (each lead's last change at or before
`to`), reached (each lead's furthest success-path index), the cohort CVR's counts (distinct leads that entered
in P, and those of them whose furthest index now is past the stage), and time in stage (stays that ended in P:
the next change's time minus the entry; count, median and p90 with the API's exact ranks). Valid for the
workload's logs, which have no merges (a lead's stage is then its last StageChanged).

`plain_sql_by_source` is the same statement per source: each lead's source from its DimensionsSet events (the
latest; '' when none), joined to every change and grouped by it as well.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.queries_stays import _PICKS
from services.kpi.domain.stats import Spread, ranks

Numbers = dict[str, dict[str, Any]]  # stage -> KPI name -> value, as the API reports it

_SQL = """
WITH sc AS MATERIALIZED (
    SELECT lead_id, version, occurred_at, data->>'from_stage' AS from_stage, data->>'to_stage' AS to_stage
    FROM lead_events WHERE type = 'StageChanged'
), idx AS (
    SELECT * FROM unnest($3::text[], $4::int[]) AS i(stage, i)
), furthest AS (
    SELECT sc.lead_id, max(idx.i) AS f FROM sc JOIN idx ON idx.stage = sc.to_stage GROUP BY sc.lead_id
), stays AS (
    SELECT to_stage AS stage, occurred_at AS since,
           lead(occurred_at) OVER (PARTITION BY lead_id ORDER BY version) AS left_at FROM sc
)
SELECT 'inflow' AS what, to_stage AS stage, NULL AS key, count(*) AS n, NULL::interval[] AS picks
FROM sc WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY to_stage
UNION ALL
SELECT 'outflow', from_stage, to_stage, count(*), NULL FROM sc
WHERE from_stage IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2 GROUP BY from_stage, to_stage
UNION ALL
SELECT 'balance', stage, NULL, count(*), NULL FROM (
    SELECT DISTINCT ON (lead_id) to_stage AS stage FROM sc WHERE occurred_at <= $2 ORDER BY lead_id, version DESC
) last GROUP BY stage
UNION ALL
SELECT 'reached', NULL, f::text, count(*), NULL FROM furthest GROUP BY f
UNION ALL
SELECT 'cohort', e.to_stage, (f.f >= idx.i + 1)::text, count(*), NULL FROM (
    SELECT DISTINCT lead_id, to_stage FROM sc WHERE occurred_at >= $1 AND occurred_at < $2
) e JOIN furthest f USING (lead_id) JOIN idx ON idx.stage = e.to_stage GROUP BY e.to_stage, 3
UNION ALL
SELECT 'time_in_stage', stage, NULL, count(*), PICKS (ORDER BY left_at - since)
FROM stays WHERE left_at >= $1 AND left_at < $2 GROUP BY stage
""".replace("PICKS", _PICKS)


# The same per source: each lead's source from its DimensionsSet events (the latest; '' when none).
_BY_SOURCE = """
WITH src AS MATERIALIZED (
    SELECT DISTINCT ON (lead_id) lead_id, v->>1 AS source FROM lead_events, jsonb_array_elements(data->'values') v
    WHERE type = 'DimensionsSet' AND v->>0 = 'source' ORDER BY lead_id, version DESC
), sc AS MATERIALIZED (
    SELECT e.lead_id, e.version, e.occurred_at, e.data->>'from_stage' AS from_stage,
           e.data->>'to_stage' AS to_stage, coalesce(src.source, '') AS source
    FROM lead_events e LEFT JOIN src USING (lead_id) WHERE e.type = 'StageChanged'
), idx AS (
    SELECT * FROM unnest($3::text[], $4::int[]) AS i(stage, i)
), furthest AS (
    SELECT sc.lead_id, min(sc.source) AS source, max(idx.i) AS f FROM sc JOIN idx ON idx.stage = sc.to_stage
    GROUP BY sc.lead_id
), stays AS (
    SELECT source, to_stage AS stage, occurred_at AS since,
           lead(occurred_at) OVER (PARTITION BY lead_id ORDER BY version) AS left_at FROM sc
)
SELECT 'inflow' AS what, source, to_stage AS stage, NULL AS key, count(*) AS n, NULL::interval[] AS picks
FROM sc WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY source, to_stage
UNION ALL
SELECT 'outflow', source, from_stage, to_stage, count(*), NULL FROM sc
WHERE from_stage IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2 GROUP BY source, from_stage, to_stage
UNION ALL
SELECT 'balance', source, stage, NULL, count(*), NULL FROM (
    SELECT DISTINCT ON (lead_id) source, to_stage AS stage FROM sc WHERE occurred_at <= $2
    ORDER BY lead_id, version DESC
) last GROUP BY source, stage
UNION ALL
SELECT 'reached', source, NULL, f::text, count(*), NULL FROM furthest GROUP BY source, f
UNION ALL
SELECT 'cohort', f.source, e.to_stage, (f.f >= idx.i + 1)::text, count(*), NULL FROM (
    SELECT DISTINCT lead_id, to_stage FROM sc WHERE occurred_at >= $1 AND occurred_at < $2
) e JOIN furthest f USING (lead_id) JOIN idx ON idx.stage = e.to_stage GROUP BY f.source, e.to_stage, 4
UNION ALL
SELECT 'time_in_stage', source, stage, NULL, count(*), PICKS (ORDER BY left_at - since)
FROM stays WHERE left_at >= $1 AND left_at < $2 GROUP BY source, stage
""".replace("PICKS", _PICKS)


async def plain_sql(conn: asyncpg.Connection, model: StageModel, start: datetime, end: datetime) -> Numbers:
    rows = await conn.fetch(_SQL, start, end, list(model.success_path), list(range(len(model.success_path))))
    return _numbers(model, rows)


async def plain_sql_by_source(
    conn: asyncpg.Connection, model: StageModel, start: datetime, end: datetime
) -> dict[str, Numbers]:
    """source ('' none) -> the numbers of its leads."""
    rows = await conn.fetch(_BY_SOURCE, start, end, list(model.success_path), list(range(len(model.success_path))))
    by_source: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_source[row["source"]].append(row)
    return {source: _numbers(model, found) for source, found in by_source.items()}


def _numbers(model: StageModel, rows: list[asyncpg.Record]) -> Numbers:
    path = list(model.success_path)
    found: Numbers = {name: {"outflow": {}} for name in model.stages}
    reached_by: dict[int, int] = {}
    cohort: dict[str, dict[str, int]] = defaultdict(lambda: {"true": 0, "false": 0})
    for row in rows:
        what, stage, key, n = row["what"], row["stage"], row["key"], int(row["n"])
        if what == "outflow":
            found[stage]["outflow"][key] = n
        elif what == "reached":
            reached_by[int(key)] = n
        elif what == "cohort":
            cohort[stage][key] = n
        elif what == "time_in_stage":
            found[stage][what] = _spread(n, row["picks"])
        else:
            found[stage][what] = n
    for name, stage in model.stages.items():
        numbers = found[name]
        numbers.setdefault("inflow", 0)
        numbers.setdefault("balance", 0)
        numbers.setdefault("time_in_stage", Spread(0, None, None).to_json())
        index = stage.path_index
        numbers["reached"] = None if index is None else sum(n for f, n in reached_by.items() if f >= index)
        if index is not None and index + 1 < len(path):
            counts = cohort[name]
            numbers["cohort"] = (counts["true"], counts["true"] + counts["false"])
    return found


def _spread(n: int, picks: list[timedelta]) -> dict[str, Any]:
    low, high, p90 = ranks(n)
    us = [pick // timedelta(microseconds=1) for pick in picks]
    return Spread.from_ranked(n, {low: us[0], high: us[1], p90: us[2]}).to_json()


def from_api_by_source(answer: dict[str, Any]) -> dict[str, Numbers]:
    """source ('' none) -> the numbers of its slice in GET /v1/kpi/stages?by=source."""
    return {part["value"] or "": from_api(part) for part in answer["slices"]}


def from_api(answer: dict[str, Any]) -> Numbers:
    """The same numbers out of GET /v1/kpi/stages."""
    found: Numbers = {}
    for row in answer["stages"]:
        cohort = row["cohort_cvr"]
        numbers: dict[str, Any] = {
            "inflow": row["inflow"],
            "outflow": row["outflow"]["by_destination"],
            "balance": row["balance"],
            "reached": row["reached"],
            "time_in_stage": row["time_in_stage"],
        }
        if cohort is not None:
            numbers["cohort"] = (cohort["numerator"], cohort["denominator"])
        found[row["stage"]] = numbers
    return found
