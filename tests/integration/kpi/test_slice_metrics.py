"""The families per slice on the KPI service's /metrics exposition: no lead, person, owner or account id is a
label value; a bounded dimension's values past max_values count as `other`; each family's series count is the
documented bound; and the slices of each dimension sum to the unsliced family (docs/observability.md)."""

from __future__ import annotations

from collections import defaultdict

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.common.stage_model.model import DEFAULT_MODEL_PATH, load_model
from services.kpi.adapters.collector import KpiCollector
from tests.integration.kpi_api.slices_data import PEOPLE_IDS, store_and_project

# source is a label for its first two values only (google, then bing); ads counts as "other"
MODEL = load_model(
    DEFAULT_MODEL_PATH.read_text().replace(
        "{first_touch: utm_source}, max_values: 20", "{first_touch: utm_source}, max_values: 2"
    )
)
SLICED = {
    "stagetrack_stage_leads_by_slice": ("stagetrack_stage_leads", "stage"),
    "stagetrack_stage_entries_by_slice_total": ("stagetrack_stage_entries_total", "stage"),
    "stagetrack_revenue_by_slice_total": ("stagetrack_revenue_total", "kind"),
}


async def test_labels_are_bounded_and_never_name_a_person(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    await store_and_project(engine, MODEL)
    async with engine.connect() as conn:
        lead_ids = {r[0] for r in await conn.execute(text("SELECT DISTINCT lead_id FROM lead_events"))}
    registry = CollectorRegistry()
    collector = KpiCollector(engine, MODEL, 0)
    registry.register(collector)
    await collector.refresh()
    exposition = generate_latest(registry).decode()

    samples = [s for family in text_string_to_metric_families(exposition) for s in family.samples]
    labels = {value for s in samples for value in s.labels.values()}
    assert not labels & (lead_ids | set(PEOPLE_IDS)), labels & (lead_ids | set(PEOPLE_IDS))
    sliced = [s for s in samples if "dimension" in s.labels]
    assert {s.labels["dimension"] for s in sliced} == {"source", "campaign", "segment"}  # never owner, account
    values = defaultdict(set)
    for s in sliced:
        values[s.labels["dimension"]].add(s.labels["value"])
    assert values == {
        "source": {"google", "bing", "other", "none"},
        "campaign": {"spring", "other", "none"},
        "segment": {"mid_market", "other", "none"},
    }
    per_family = defaultdict(int)
    for s in sliced:
        per_family[s.name] += 1
    stages, slas, kinds = len(MODEL.stages), len(MODEL.slas), 4
    bound = sum(len(v) for v in values.values())  # at most max_values + 2 per dimension
    assert per_family == {
        "stagetrack_stage_leads_by_slice": bound * stages,
        "stagetrack_stage_entries_by_slice_total": bound * stages,
        "stagetrack_stage_forward_exits_by_slice_total": bound * (len(MODEL.success_path) - 1),
        "stagetrack_stage_overdue_leads_by_slice": bound * slas,
        "stagetrack_revenue_by_slice_total": bound * kinds,
    }
    ads = [s for s in sliced if s.name == "stagetrack_revenue_by_slice_total" and s.labels["value"] == "other"]
    assert sum(s.value for s in ads if s.labels["kind"] == "new") == 7000  # the ads lead's win

    whole = {(s.name, s.labels.get("stage") or s.labels.get("kind")): s.value for s in samples}
    for name, (unsliced, key) in SLICED.items():
        for dimension in values:
            summed: dict[str, float] = defaultdict(float)
            for s in sliced:
                if s.name == name and s.labels["dimension"] == dimension:
                    summed[s.labels[key]] += s.value
            assert summed == {k: whole[(unsliced, k)] for k in summed}, (name, dimension)
