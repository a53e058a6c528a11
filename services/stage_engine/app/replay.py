"""`stagetrack replay [--model FILE]`: rebuild the store from the log of envelopes in a scratch schema.

The log (stagetrack.events, infinite retention) is read from its beginning to the end captured at start and
applied through the live engine's own code path (BatchProcessor: decode, dedupe by event_id, email identity,
apply_batch, one transaction per batch) into a fresh, migrated schema. Then either the scratch store is
compared with live (no --model: it must be equal), or per-stage counts are compared (--model: what-if).
Live tables are only read. See docs/replay.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.stage_model.model import load_model_file
from services.common.stage_model.model_types import StageModel
from services.stage_engine.adapters import erasure_statements
from services.stage_engine.adapters import store_comparison as compare
from services.stage_engine.adapters.counted_dead_letters import CountedDeadLetters
from services.stage_engine.adapters.log_reader import LogReader
from services.stage_engine.adapters.scratch_schema import ScratchSchema
from services.stage_engine.adapters.store import EventStore
from services.stage_engine.app.bootstrap import load_configured_model
from services.stage_engine.app.processor import BatchProcessor, EngineMetrics
from services.stage_engine.app.replay_order import interleaved
from services.stage_engine.app.replay_report import (
    SHOWN,
    Comparison,
    LeadDifference,
    ReplayResult,
    WhatIf,
    ordered_stages,
)
from services.stage_engine.app.settings import EngineSettings

REPLAY_GROUP = "stagetrack-replay"  # the scratch store's consumer_offsets rows; no Kafka group is joined
Progress = Callable[[int, int], None]  # (records replayed, records in the log)


async def replay(
    settings: EngineSettings, model_file: Path | None = None, keep: bool = False, progress: Progress | None = None
) -> ReplayResult:
    live_model = load_configured_model(settings)
    model = load_model_file(model_file) if model_file is not None else live_model
    scratch = ScratchSchema(settings.database_url, settings.database_schema, tls=settings.database_tls)
    reader = LogReader(
        settings.kafka_bootstrap_servers,
        settings.events_topic,
        settings.max_batch_records,
        security=settings.kafka_security,
    )
    store = EventStore(scratch.engine, keep_connections=True)
    try:
        await reader.start()  # the end of the log is fixed here, before live's order is copied
        await scratch.create()
        sink, registry = CountedDeadLetters(), CollectorRegistry()
        key = settings.identity_hash_key.get_secret_value().encode()  # live's key, or emails would not match
        processor = BatchProcessor(store, model, key, sink, REPLAY_GROUP, EngineMetrics.register(registry))
        done = 0
        async for batch in interleaved(reader, scratch.live_positions, settings.max_batch_records):
            await processor.process(batch)
            done += len(batch)
            if progress is not None:
                progress(done, reader.total)
        await store.close()
        async with scratch.admin.connect() as conn:
            erased = await erasure_statements.erased_leads(conn, settings.database_schema)
        async with scratch.engine.begin() as conn:  # live's erasures, applied to what the log rebuilt
            await erasure_statements.erase_store(conn, erased)

        def outcome(name: str) -> int:
            return int(registry.get_sample_value("stagetrack_engine_events_total", {"outcome": name}) or 0)

        result = ReplayResult(
            schema=scratch.name,
            kept=keep,
            model=f"{model.name} ({model.version[:12]})",
            records=done,
            applied=outcome("applied"),
            duplicates=outcome("duplicate"),
            dead_lettered=outcome("dead_lettered"),
            dead_letter_examples=sink.examples,
        )
        async with scratch.admin.connect() as conn:
            result.notes = await _notes(conn, settings, reader, model, model_file is None)
            if model_file is None:
                result.comparison = await _compare(conn, settings.database_schema, scratch.name)
            else:
                result.what_if = await _what_if(conn, settings.database_schema, scratch.name, live_model, model)
        return result
    finally:
        await store.close()
        await reader.stop()
        if not keep:
            await scratch.drop()
        await scratch.close()


async def _compare(conn: AsyncConnection, live: str, scratch: str) -> Comparison:
    differing = await compare.differing_leads(conn, live, scratch)
    described = differing[: 20 * SHOWN]  # enough to pair and show; the rest is only counted
    live_side = await compare.summaries(conn, live, described)
    replay_side = await compare.summaries(conn, scratch, described)
    differences = _paired(LeadDifference(i, live_side.get(i), replay_side.get(i)) for i in described)
    (live_leads, live_events), (replay_leads, replay_events) = (
        await compare.totals(conn, live),
        await compare.totals(conn, scratch),
    )
    count = len(differences) + len(differing) - len(described)
    return Comparison(live_leads, live_events, replay_leads, replay_events, differences[:SHOWN], count)


def _paired(found: Iterable[LeadDifference]) -> list[LeadDifference]:
    """One person under two internal ids (created by another envelope, when the interleaving differed) is shown
    as one difference: the lead only in live beside the lead only in replay with the same label."""
    by_label: dict[str, list[LeadDifference]] = {}
    for d in found:
        by_label.setdefault(d.label, []).append(d)
    out: list[LeadDifference] = []
    for label in sorted(by_label):
        group = by_label[label]
        only_live = [d for d in group if d.replay is None]
        only_replay = [d for d in group if d.live is None]
        if len(only_live) == 1 and len(only_replay) == 1:
            a, b = only_live[0], only_replay[0]
            group = [d for d in group if d not in (a, b)]
            group.append(LeadDifference(f"{a.lead_id} live, {b.lead_id} replay", a.live, b.replay))
        out += sorted(group, key=lambda d: d.lead_id)
    return out


async def _what_if(conn: AsyncConnection, live: str, scratch: str, live_model: StageModel, model: StageModel) -> WhatIf:
    before, after = await compare.stage_counts(conn, live), await compare.stage_counts(conn, scratch)
    stages = ordered_stages(model.stages, live_model.stages, sorted({*before, *after}))
    rows = {
        s: (before.get(s, (0, 0))[0], after.get(s, (0, 0))[0], before.get(s, (0, 0))[1], after.get(s, (0, 0))[1])
        for s in stages
    }
    leads = sum(now for now, _ in before.values())
    differs = await compare.final_stage_differences(conn, live, scratch)
    return WhatIf(rows, differs, leads, f"{live_model.name} ({live_model.version[:12]})")


async def _notes(
    conn: AsyncConnection, settings: EngineSettings, reader: LogReader, model: StageModel, same_model: bool
) -> list[str]:
    notes: list[str] = []
    live = settings.database_schema
    stored = await compare.stored_offsets(conn, live, settings.consumer_group, settings.events_topic)
    behind = sum(max(0, reader.end[p] - stored.get(p, reader.begin[p])) for p in reader.partitions)
    ahead = sum(max(0, stored.get(p, 0) - reader.end[p]) for p in reader.partitions)
    if behind:
        notes.append(f"live (group {settings.consumer_group}) has not processed {behind:,} of the replayed records")
    if ahead:
        notes.append(f"live processed {ahead:,} records appended after the replay started; they are not replayed")
    versions = await compare.model_versions(conn, live)
    if same_model and versions - {model.version}:
        notes.append(
            f"live history was built under other model versions too ({', '.join(sorted(v[:12] for v in versions))}); "
            "replaying it under one model cannot match where they differ"
        )
    return notes
