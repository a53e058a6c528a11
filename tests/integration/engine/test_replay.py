"""`stagetrack replay`: the log of envelopes, replayed into a scratch schema, equals the live store; under
another model it prints the per-stage differences that model implies (what-if), leaving live untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model import DEFAULT_MODEL_PATH
from services.stage_engine.app.replay import replay
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.stack import consume, eventually

PARTITIONS = list(range(6))


def partition_of(key: str) -> int:
    return int(DefaultPartitioner()(key.encode(), PARTITIONS, PARTITIONS))


# Person B's CRM id lands on a lower partition than its anonymous id, so a replay that read partition after
# partition (instead of live's interleaving) would create B from its form, not its page view, and differ.
CRM_B = next(f"L2-{i}" for i in range(100) if partition_of(f"L2-{i}") == 0)
ANON_B = next(f"b-{i}" for i in range(100) if partition_of(f"b-{i}") > 0)


def anonymous_visits() -> list[Any]:
    return [
        envelope("c1", "page_viewed", "2026-10-01T08:00:00+00:00", anonymous_id="c9", path="/blog"),
        envelope("c2", "page_viewed", "2026-10-01T08:01:00+00:00", anonymous_id="c9", path="/blog/a"),
        envelope("c3", "page_viewed", "2026-10-01T08:02:00+00:00", anonymous_id="c9", path="/blog/b"),
        envelope("a1", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="a1", path="/blog"),
        envelope("a2", "page_viewed", "2026-10-01T09:05:00+00:00", anonymous_id="a1", path="/pricing"),
        envelope("b1", "page_viewed", "2026-10-01T09:10:00+00:00", anonymous_id=ANON_B, path="/pricing"),
    ]


def crm_and_forms() -> list[Any]:
    day = "2026-10-0{}T10:00:00+00:00".format
    return [
        envelope("a3", "form_submitted", day(2), anonymous_id="a1", lead_id="L1", form_id="demo", email="a@x.io"),
        envelope("a4", "lead_accepted", day(3), lead_id="L1"),
        envelope("a5", "meeting_scheduled", day(4), lead_id="L1"),
        envelope("a6", "opportunity_won", day(5), lead_id="L1", amount="1200000", currency="JPY"),
        envelope("a7", "onboarding_completed", day(6), lead_id="L1"),
        envelope("b2", "form_submitted", day(2), anonymous_id=ANON_B, lead_id=CRM_B, form_id="demo"),
        envelope("m1", "form_submitted", day(2), lead_id="L3", form_id="demo", intent="high"),
        envelope("d1", "lead_accepted", day(2), lead_id="L4"),
        envelope("d2", "opportunity_lost", day(3), lead_id="L4"),
        envelope("d3", "form_submitted", day(4), lead_id="L4", form_id="demo", intent="high"),
        envelope("e1", "identified", day(2), lead_id="L5", email="e@x.io"),
        envelope("e2", "form_submitted", day(3), anonymous_id="c9", lead_id="L5", form_id="demo"),
        envelope("a1", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="a1", path="/blog"),  # duplicate
    ]


async def live_engine_took(
    producer: Producer, client: httpx.AsyncClient, engine: AsyncEngine, settings: EngineSettings
) -> int:
    """Sends the scenario in two waves (anonymous first, as a tracker would) plus a poison record; returns the
    number of records once the live engine committed them all."""
    await producer.send(anonymous_visits())
    for lead, stage in (("a1", "visitor"), (ANON_B, "visitor"), ("c9", "visitor")):
        await stage_is(client, lead, stage)
    await producer.send_raw(b"not an envelope", key=b"L4")
    await producer.send(crm_and_forms())
    for lead, stage in (("L1", "active"), (CRM_B, "lead"), ("L3", "mql"), ("L4", "mql"), ("L5", "lead")):
        await stage_is(client, lead, stage)
    sent = len(anonymous_visits()) + 1 + len(crm_and_forms())

    async def committed() -> bool:
        async with engine.connect() as conn:
            done = await conn.scalar(
                text("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE group_id = :g"),
                {"g": settings.consumer_group},
            )
        return done == sent

    await eventually(committed, 30, f"the live engine committing all {sent} records")
    return sent


async def stage_is(client: httpx.AsyncClient, lead: str, stage: str) -> None:
    async def check() -> bool:
        response = await client.get(f"/v1/leads/{lead}")
        return response.status_code == 200 and response.json()["stage"] == stage

    await eventually(check, 30, f"lead {lead} in {stage}")


async def schema_exists(engine: AsyncEngine, schema: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        )
    return found is not None


async def test_replay_reproduces_live_and_prints_what_if_of_another_model(
    producer: Producer,
    engine_client: httpx.AsyncClient,
    engine_settings: EngineSettings,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    assert partition_of(CRM_B) < partition_of(ANON_B)
    sent = await live_engine_took(producer, engine_client, engine, engine_settings)
    merged = (await engine_client.get("/v1/leads/L5")).json()
    assert merged["merged_from"], "the scenario merges c9's anonymous lead with L5"

    # The live engine may dead-letter the poison more than once (at least once); replays must add nothing.
    dead_before = await consume(engine_settings, engine_settings.dead_letter_topic, 1, within=10)
    seen: list[tuple[int, int]] = []
    same = await replay(engine_settings, progress=lambda done, total: seen.append((done, total)))
    report = same.render()
    assert same.exit_code == 0, report
    assert "replay matches live: 6 leads, " in report  # five people, one of them two merged leads
    assert (same.applied, same.duplicates, same.dead_lettered) == (sent - 2, 1, 1)
    assert seen[-1] == (sent, sent)
    assert f"dead letter {engine_settings.events_topic}/{partition_of('L4')}/" in report
    assert not same.notes, same.notes
    assert not await schema_exists(engine, same.schema)

    other = tmp_path / "mql20.yaml"
    the_model = DEFAULT_MODEL_PATH.read_text()
    assert the_model.count("score_at_least: 30") == 1
    other.write_text(
        the_model.replace("score_at_least: 30", "score_at_least: 20").replace("name: the-model", "name: mql20")
    )
    what_if = await replay(engine_settings, other, keep=True)
    kept = await schema_exists(engine, what_if.schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{what_if.schema}" CASCADE'))
    assert kept, "--keep keeps the scratch schema"
    printed = what_if.render()
    assert what_if.what_if is not None and what_if.exit_code == 0
    # 20 points now make an mql: B (21 points) is an mql instead of a lead, and A (22 at its form) went
    # visitor -> mql instead of visitor -> lead; C's merged lead (13 points) and everything else stay.
    changed = {stage: row for stage, row in what_if.what_if.stages.items() if row[0] != row[1] or row[2] != row[3]}
    assert changed == {"lead": (2, 1, 3, 1), "mql": (2, 3, 2, 4)}, printed
    assert what_if.what_if.final_stage_differs == 1
    lines = printed.splitlines()
    assert any(line.split() == ["lead", "2", "1", "-1", "3", "1", "-2"] for line in lines), printed
    assert any(line.split() == ["mql", "2", "3", "+1", "2", "4", "+2"] for line in lines), printed
    assert any(line.split() == ["active", "1", "1", "1", "1"] for line in lines), printed
    assert "leads whose final stage differs: 1 of 5" in printed
    assert f"replayed {sent} records under mql20 (" in printed
    assert "what-if against live under the-model (" in printed

    again = await replay(engine_settings)  # the what-if left live exactly as it was
    assert again.exit_code == 0, again.render()
    dead = await consume(engine_settings, engine_settings.dead_letter_topic, 1, within=10)
    assert len(dead) == len(dead_before) >= 1, "only the live engine dead-letters; replays count and send nothing"


async def test_replay_reports_what_live_lacks_instead_of_hiding_it(
    producer: Producer, engine_settings: EngineSettings
) -> None:
    await producer.send(anonymous_visits())  # no live engine runs: the live store stays empty
    result = await replay(engine_settings)
    report = result.render()
    assert result.exit_code == 1
    assert "replay differs from live: 3 leads differ" in report
    assert "anonymous a1 (lead " in report and "only in replay" in report
    assert any("has not processed 6 of the replayed records" in note for note in result.notes), report
