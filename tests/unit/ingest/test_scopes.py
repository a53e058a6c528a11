"""The scope rules of a posting key, event by event, and the key store's bounded memory of unknown keys."""

from __future__ import annotations

from collections import OrderedDict

from services.common.api_keys import ApiKey, lead_id_hash
from services.common.keys import _remember
from services.ingest.domain.scopes import may_post, out_of_scope

SECRET = "stv_site-secret"


def key(*scopes: str) -> ApiKey:
    return ApiKey(1, "site", frozenset(scopes), (), "stk_abcdefgh", SECRET if "tracker" in scopes else None)


def test_only_crm_and_tracker_keys_post() -> None:
    assert may_post(key("crm")) and may_post(key("tracker"))
    assert not any(may_post(key(s)) for s in ("read:kpi", "read:leads", "erase", "connector:hubspot"))


def test_a_tracker_key_sends_web_types_and_a_crm_key_every_type() -> None:
    for kind in ("page_viewed", "tracked", "form_submitted", "identified"):
        assert out_of_scope(key("tracker"), {"type": kind}, None) is None
    field, reason = out_of_scope(key("tracker"), {"type": "opportunity_won"}, None) or ("", "")
    assert field == "type" and reason.startswith("a tracker key may not send opportunity_won")
    assert out_of_scope(key("crm"), {"type": "opportunity_won", "lead_id": "crm-1"}, None) is None
    assert out_of_scope(key("tracker"), "not an object", None) is None  # left to validation


def test_a_tracker_lead_id_needs_the_hmac_of_that_id() -> None:
    page = {"type": "page_viewed", "lead_id": "crm-7"}
    assert out_of_scope(key("tracker"), page, lead_id_hash(SECRET, "crm-7")) is None
    assert out_of_scope(key("tracker"), page, lead_id_hash(SECRET, "crm-7").upper()) is None
    for wrong in (None, "", 7, lead_id_hash(SECRET, "crm-8"), lead_id_hash("stv_other", "crm-7")):
        problem = out_of_scope(key("tracker"), page, wrong)
        assert problem is not None and problem[0] == "lead_id", wrong


def test_the_unknown_key_memory_keeps_the_newest_within_its_bound() -> None:
    memory: OrderedDict[str, float] = OrderedDict()
    for n in range(5):
        _remember(memory, f"digest-{n}", float(n), limit=3)
    _remember(memory, "digest-2", 9.0, limit=3)  # seen again: the newest
    _remember(memory, "digest-5", 5.0, limit=3)
    assert list(memory) == ["digest-4", "digest-2", "digest-5"]
