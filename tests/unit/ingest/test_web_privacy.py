"""The reductions a view goes through at the edge (docs/privacy.md), one function at a time."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.domain.schemas import Validators
from services.ingest.domain.web_privacy import (
    MAX_URL_LENGTH,
    campaign_properties,
    device_class,
    reduce_anonymous_view,
    referrer_origin,
    url_with_utm_only,
)


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (
            "https://example.jp/a?utm_source=x&email=a%40b.jp&UTM_Medium=y#frag",
            "https://example.jp/a?utm_source=x&UTM_Medium=y",
        ),
        ("https://example.jp/a?tel=0312345678", "https://example.jp/a"),
        ("https://example.jp/a#?utm_source=x", "https://example.jp/a"),
        ("/relative?utm_term=a&q=b", "/relative?utm_term=a"),
        ("https://example.jp/", "https://example.jp/"),
        ("not a url?utm=1", "not a url"),  # "utm=" is no UTM parameter
    ],
)
def test_a_url_keeps_only_its_utm_parameters(url: str, kept: str) -> None:
    assert url_with_utm_only(url) == kept


@pytest.mark.parametrize(
    ("referrer", "origin"),
    [
        ("https://www.google.com/search?q=hanako", "https://www.google.com/"),
        ("HTTPS://Example.JP:8443/path", "https://example.jp:8443/"),
        ("https://hanako:secret@mail.example.jp/inbox", "https://mail.example.jp/"),
        ("android-app://com.google.android.gm/", "android-app://com.google.android.gm/"),
        ("https://example.jp?x=1", "https://example.jp/"),
        ("https://example.jp\\evil", "https://example.jp/"),
        ("example.jp/path", None),
        ("https://", None),
        ("1http://example.jp/", None),
    ],
)
def test_a_referrer_keeps_only_its_origin(referrer: str, origin: str | None) -> None:
    assert referrer_origin(referrer) == origin


def test_an_anonymous_view_drops_search_and_a_referrer_that_is_no_url() -> None:
    props: dict[str, Any] = {"path": "/", "search": "?a=1", "referrer": "somewhere", "title": "T"}
    reduce_anonymous_view(props)
    assert props == {"path": "/", "title": "T"}
    empty: dict[str, Any] = {"path": "/", "referrer": ""}
    reduce_anonymous_view(empty)
    assert empty == {"path": "/", "referrer": ""}


def test_the_url_limit_is_the_schemas(validators: Validators) -> None:
    page = validators.type_schemas["page_viewed"]["properties"]
    assert page["url"]["maxLength"] == page["referrer"]["maxLength"] == MAX_URL_LENGTH


def test_campaign_properties_are_the_utm_fields_as_strings() -> None:
    campaign = {"name": "spring", "source": "google", "medium": "cpc", "term": 5, "content": "banner", "id": "x"}
    assert campaign_properties(campaign) == {"utm_source": "google", "utm_medium": "cpc", "utm_content": "banner"}


@pytest.mark.parametrize(
    ("context", "kind"),
    [
        ({"userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"}, "mobile"),
        ({"userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/124.0 Mobile Safari/537.36"}, "mobile"),
        ({"userAgent": "Mozilla/5.0 (Linux; Android 13; SM-X710) Chrome/124.0 Safari/537.36"}, "tablet"),
        ({"userAgent": "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X)"}, "tablet"),
        ({"userAgent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/124.0 Safari/537.36"}, "desktop"),
        ({"userAgentData": {"mobile": False, "platform": "Linux"}}, "desktop"),
        ({"userAgentData": {"mobile": True}}, "mobile"),
        ({"device": {"type": "android", "model": "Pixel 8"}}, "mobile"),
        ({"device": {"type": "ios", "model": "iPad13,1"}}, "tablet"),
        ({"device": {"type": "server"}}, None),
        ({"ip": "203.0.113.7"}, None),
    ],
)
def test_the_device_class_is_coarse(context: dict[str, Any], kind: str | None) -> None:
    assert device_class(context) == kind
