"""Every /v1/kpi route needs a key with the `read:kpi` scope (docs/security.md "Reads"); the bootstrap puts
`read_kpi` in front of each KPI router."""

from __future__ import annotations

from services.common.read_access import reader, refusals

SCOPE = "read:kpi"
read_kpi = reader(SCOPE)
REFUSALS = refusals(SCOPE)
