"""The model's dimensions: the shipped declarations, what each rule observes, and the refusals at their line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.common.envelope import Event
from services.common.stage_model.dimensions import Dimension, wins
from services.common.stage_model.model import DEFAULT_MODEL_PATH, ModelError, default_model, load_model
from services.common.stage_model.personal_fields import is_personal

THE_MODEL = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def event(type: str, properties: dict[str, Any] | None = None, account_id: str | None = None) -> Event:
    return Event("e1", type, T0, "test", T0, anonymous_id="a1", account_id=account_id, properties=properties or {})


def dimension(name: str) -> Dimension:
    found = default_model().dimension(name)
    assert found is not None
    return found


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def refusal(text: str) -> ModelError:
    with pytest.raises(ModelError) as caught:
        load_model(text, source="custom.yaml")
    return caught.value


def with_dimension(line: str, personal: str = "") -> str:
    return THE_MODEL.replace("dimensions:\n", f"{personal}dimensions:\n  {line}\n", 1)


def test_the_shipped_model_declares_five_dimensions_three_of_them_labels() -> None:
    dims = {d.name: d for d in default_model().dimensions}
    assert list(dims) == ["source", "campaign", "segment", "owner", "account"]
    assert {n: (d.kind, d.key, d.touch) for n, d in dims.items()} == {
        "source": ("first_touch", "utm_source", "first"),
        "campaign": ("first_touch", "campaign", "first"),
        "segment": ("trait", "employees", "last"),
        "owner": ("owner", "", "last"),
        "account": ("account", "", "last"),
    }
    assert [n for n, d in dims.items() if d.bounded] == ["source", "campaign", "segment"]
    assert dims["owner"].on == {"lead_accepted", "meeting_scheduled", "meeting_held"}


def test_what_each_rule_observes() -> None:
    source, campaign, segment = dimension("source"), dimension("campaign"), dimension("segment")
    assert source.observe(event("page_viewed", {"path": "/", "utm_source": " google "})) == "google"
    url = "https://example.com/?a=1&utm_source=news%20letter"
    assert source.observe(event("page_viewed", {"path": "/", "url": url})) == "news letter"
    assert source.observe(event("page_viewed", {"path": "/", "url": "https://example.com/"})) is None
    assert campaign.observe(event("form_submitted", {"campaign": 2026})) == "2026"
    assert campaign.observe(event("form_submitted", {"campaign": ""})) is None
    assert campaign.observe(event("form_submitted", {"campaign": {"name": "x"}})) is None
    assert campaign.observe(event("form_submitted", {"campaign": "x" * 300})) == "x" * 200
    traits = {"traits": {"employees": 250}}
    assert segment.observe(event("identified", traits)) == "mid_market"
    assert segment.observe(event("identified", {"traits": {"employees": "5000"}})) == "enterprise"
    assert segment.observe(event("identified", {"traits": {"employees": 99.5}})) == "smb"
    assert segment.observe(event("identified", {"traits": {"employees": -1}})) is None
    assert segment.observe(event("identified", {"traits": {"employees": "many"}})) is None
    assert segment.observe(event("identified", {"traits": "x"})) is None
    assert dimension("owner").observe(event("lead_accepted", {"owner": "sato"})) == "sato"
    assert dimension("owner").observe(event("call_logged", {"owner": "sato"})) is None
    assert dimension("account").observe(event("page_viewed", {"path": "/"}, account_id="acme")) == "acme"


def test_a_form_dimension_observes_the_identifying_events_only() -> None:
    model = load_model(with_dimension("- {name: industry, from: {form: industry}}"))
    industry = model.dimension("industry")
    assert industry is not None and industry.touch == "first"
    assert industry.observe(event("form_submitted", {"industry": "saas"})) == "saas"
    assert industry.observe(event("page_viewed", {"industry": "saas"})) is None
    assert industry in model.dimensions_for("identified") and industry not in model.dimensions_for("page_viewed")


def test_first_keeps_the_earliest_last_the_latest_and_a_tie_goes_to_the_later_arrival() -> None:
    early, late = "2026-06-01T09:00:00.000000+00:00", "2026-06-02T09:00:00.000000+00:00"
    assert wins("first", early, late) and not wins("first", late, early) and not wins("first", early, early)
    assert wins("last", late, early) and not wins("last", early, late) and wins("last", early, early)
    assert wins("first", late, None) and wins("last", early, None)


@pytest.mark.parametrize(
    "declaration,fragment,reason",
    [
        ("- {name: mail, from: {form: email}}", "{name: mail,", "'email', a field marked personal"),
        ("- {name: who, from: {trait: contactPhone}}", "{name: who,", "'contactPhone', a field marked personal"),
        ("- {name: who, from: {last_touch: last_name}}", "{name: who,", "marked personal"),
        ("- {name: rep, from: owner, max_values: 5}", "{name: rep,", "never a Prometheus label"),
        ("- {name: company, from: account, max_values: 5}", "{name: company,", "never a Prometheus label"),
        ("- {name: by, from: {first_touch: x}}", "{name: by,", "reserved"),
        ("- {name: source, from: {first_touch: x}}", "{name: source, from: {first_touch: utm", "declared twice"),
        ("- {name: x, from: {first_touch: x}, on: page_vieweds}", "{name: x,", "unknown event type 'page_vieweds'"),
        ("- {name: x, from: {form: x}, on: page_viewed}", "{name: x,", "observes none of these event types"),
        ("- {name: x, from: {trait: x}, bands: {a: 10, b: 5}}", "{name: x,", "ascending"),
        ("- {name: x, from: owner, bands: {a: 1}}", "{name: x,", "bands are for numbers"),
        ("- {name: x, from: {utm: source}}", "{name: x,", "from"),
        ("- {name: x, from: {first_touch: x}, max_values: 0}", "{name: x,", "minimum"),
    ],
)
def test_refusals_name_the_line(declaration: str, fragment: str, reason: str) -> None:
    text = with_dimension(declaration)
    error = refusal(text)
    assert reason in error.reason, str(error)
    assert error.line == line_of(text, fragment), str(error)


def test_the_model_may_mark_more_fields_personal() -> None:
    text = with_dimension("- {name: member, from: {trait: member_no}}", personal="personal: [memberNo]\n")
    error = refusal(text)
    assert "'member_no', a field marked personal" in error.reason
    assert load_model(with_dimension("- {name: member, from: {trait: member_no}}")).dimension("member") is not None


def test_personal_keys_are_read_as_words() -> None:
    personal = ["email", "workEmail", "contact-phone", "user.name", "Last Name", "zip", "ip_address", "birth_date"]
    assert all(is_personal(key) for key in personal)
    assert not any(is_personal(k) for k in ("utm_source", "email_campaign", "company_name", "industry", "zipper"))


def test_dimensions_change_the_model_version_and_bands_are_decimals() -> None:
    text = with_dimension("- {name: size, from: {trait: size}, bands: {small: 0, big: 10.5}}")
    model = load_model(text)
    assert model.version != default_model().version
    size = model.dimension("size")
    assert size is not None and size.bands == (("small", Decimal(0)), ("big", Decimal("10.5")))


def test_the_models_personal_list_is_kept_for_the_ingest_to_seal() -> None:
    assert load_model(THE_MODEL.replace("dimensions:\n", "personal: [member_no]\ndimensions:\n", 1)).personal == (
        "member_no",
    )
    assert default_model().personal == ()
