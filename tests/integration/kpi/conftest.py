"""The engine's fixtures (a real engine in-process, a producer of envelopes), and the projector's helpers."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kpi.app.settings import KpiSettings
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import engine_client, engine_settings, producer

__all__ = ["checksums", "engine_client", "engine_settings", "kpi_settings", "producer", "store_head"]

# Every projection table with the key that orders its rows.
TABLE_KEYS = {
    "kpi_checkpoint": "name",
    "kpi_stays": "lead_id, seq",
    "kpi_transitions": "position",
    "kpi_leads": "lead_id",
    "kpi_revenue": "position",
    "kpi_revenue_shares": "position, division",
    "kpi_feedback": "position",
    "kpi_day_counts": "kind, stage, day, bucket",
    "kpi_flow_days": "day, from_stage, to_stage",
    "kpi_cohort_repeats": "person_id, stage, at, prev_at",
    "kpi_lead_values": "lead_id, dimension",
    "kpi_dimension_values": "dimension, value",
    "kpi_slice_day_counts": "dimension, value, kind, stage, day, bucket",
    "kpi_slice_flow_days": "dimension, value, day, from_stage, to_stage",
}


def kpi_settings(engine_settings: EngineSettings) -> KpiSettings:
    return KpiSettings(**engine_settings.model_dump(include=set(KpiSettings.model_fields) - {"port"}))


async def checksums(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    """(row count, md5 of every row as text in key order) per projection table."""
    found: dict[str, tuple[int, str]] = {}
    async with engine.connect() as conn:
        for table, key in TABLE_KEYS.items():
            row = (
                await conn.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {key}), '')) FROM {table} t"
                    )
                )
            ).one()
            found[table] = (int(row[0]), str(row[1]))
    return found


async def store_head(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT coalesce(max(position), 0) FROM lead_events")) or 0)
