"""A request's slicing and the answer's shape: `all` plus `slices` in value order, "none" last."""

from __future__ import annotations

import pytest

from services.common.stage_model.model import default_model
from services.kpi.domain.slicing import Slicing, SlicingError, answer, parse_slicing

MODEL = default_model()


def test_filters_are_read_for_the_models_dimensions_in_its_order() -> None:
    query = {"source": ["bing", "google", "bing"], "owner": ["sato"], "country": ["jp"]}
    slicing = parse_slicing(MODEL, "account", lambda name: query.get(name, []))
    assert slicing == Slicing("account", (("source", ("bing", "google")), ("owner", ("sato",))))
    assert slicing.dimensions == {"account", "source", "owner"}


def test_an_unknown_by_is_refused_naming_the_dimensions() -> None:
    with pytest.raises(SlicingError) as caught:
        parse_slicing(MODEL, "country", lambda name: [])
    assert caught.value.field == "by"
    assert "source, campaign, segment, owner, account" in caught.value.reason


def test_the_answer_keeps_todays_shape_without_by_and_adds_all_and_slices_with_it() -> None:
    header = {"from": "a", "to": "b"}
    assert answer(header, Slicing(), {"n": 3}, None) == {"from": "a", "to": "b", "n": 3}
    filtered = Slicing(None, (("source", ("google",)),))
    assert answer(header, filtered, {"n": 1}, None) == {**header, "filters": {"source": ["google"]}, "n": 1}
    sliced = answer(header, Slicing("source"), {"n": 3}, {"": {"n": 1}, "bing": {"n": 1}, "ads": {"n": 1}})
    assert sliced == {
        **header,
        "by": "source",
        "all": {"n": 3},
        "slices": [{"value": "ads", "n": 1}, {"value": "bing", "n": 1}, {"value": None, "n": 1}],
    }
