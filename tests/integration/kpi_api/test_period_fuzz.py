"""Every /v1/kpi route against a real `stagetrack serve kpi`, with `from`/`to` drawn from the whole calendar (years
1 to 9999, dates and timestamps with any offset up to ±23:59, to the microsecond) and `trailing` of any size,
in reporting zones behind and ahead of UTC: 200 or 422, never 5xx."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.kpi_api.test_validation import ROUTES
from tests.keys import bearer

MINUTES = 24 * 60 - 1


@st.composite
def instants(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.dates(min_value=date.min, max_value=date.max)).isoformat()
    moment = draw(st.datetimes(min_value=datetime.min, max_value=datetime.max))
    offset = draw(st.integers(-MINUTES, MINUTES))
    sign, minutes = "+-"[offset < 0], abs(offset)
    zone = draw(st.sampled_from(["Z", f"{sign}{minutes // 60:02}:{minutes % 60:02}"]))
    return moment.isoformat(timespec=draw(st.sampled_from(["seconds", "microseconds"]))) + zone


def near_the_ends() -> st.SearchStrategy[str]:
    ends = st.sampled_from([datetime.min, datetime.max.replace(microsecond=0)]).map(lambda t: t.replace(tzinfo=UTC))
    return st.builds(
        lambda t, d: (t + d if t.year == 1 else t - d).isoformat(), ends, st.timedeltas(timedelta(0), timedelta(days=3))
    )


@pytest.mark.parametrize("kpi_zone", ["America/Santiago", "Asia/Tokyo"])
@given(
    route=st.sampled_from(ROUTES),
    start=st.one_of(instants(), near_the_ends()),
    end=st.one_of(instants(), near_the_ends()),
    trailing=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_period_makes_a_kpi_route_answer_5xx(
    kpi_server: str, kpi_key: str, route: str, start: str, end: str, trailing: int | None
) -> None:
    params = {"from": start, "to": end} | ({} if trailing is None else {"trailing": str(trailing)})
    response = httpx.get(f"{kpi_server}{route}", params=params, headers=bearer(kpi_key), timeout=30)
    assert response.status_code in (200, 422), (params, response.status_code, response.text[:500])
