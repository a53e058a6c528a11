"""Which web origins may use a key from a browser: origins compared as browsers serialize them."""

from __future__ import annotations

import pytest

from services.ingest.domain.analytics_settings import analytics_js_settings, api_host
from services.ingest.domain.origins import allowed_origins, origin_refusal, serialized_origin

LISTED = ("https://www.example.co.jp/", "http://127.0.0.1:8080", "HTTPS://Shop.Example.jp:443")


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://www.example.co.jp/", "https://www.example.co.jp"),
        ("HTTPS://Shop.Example.jp:443/path?q=1", "https://shop.example.jp"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://example.jp:80", "http://example.jp"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("file:///tmp/page.html", None),
        ("https://", None),
        ("https://example.jp:99999", None),
        ("http://[::1", None),
    ],
)
def test_an_origin_is_serialized_as_browsers_send_it(value: str, origin: str | None) -> None:
    assert serialized_origin(value) == origin


def test_a_listed_origin_is_allowed_in_any_spelling_of_the_list() -> None:
    assert allowed_origins(LISTED) == {"https://www.example.co.jp", "http://127.0.0.1:8080", "https://shop.example.jp"}
    for origin in ("https://www.example.co.jp", "http://127.0.0.1:8080", "https://shop.example.jp"):
        assert origin_refusal(LISTED, origin, "track.example.jp") is None


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://www.example.co.jp", "https://www.example.co.jp:8443", "null"]
)
def test_any_other_origin_is_refused_naming_it(origin: str) -> None:
    reason = origin_refusal(LISTED, origin, "track.example.jp")
    assert reason is not None and origin in reason and "nothing was stored" in reason


def test_a_key_without_origins_is_refused_to_every_browser_but_the_ingests_own_pages() -> None:
    reason = origin_refusal((), "https://www.example.co.jp", "track.example.jp")
    assert reason is not None and "lists no web origins" in reason
    assert origin_refusal((), "https://track.example.jp", "track.example.jp") is None  # its /docs
    assert origin_refusal((), "http://127.0.0.1:8000", "127.0.0.1:8000") is None


def test_a_long_origin_is_cut_in_the_reason() -> None:
    reason = origin_refusal(LISTED, "https://" + "a" * 500 + ".example", None)
    assert reason is not None and len(reason) < 300


@pytest.mark.parametrize(
    ("base", "host"),
    [
        ("http://127.0.0.1:8000/", ("127.0.0.1:8000/v1", "http")),
        ("https://track.example.jp", ("track.example.jp/v1", "https")),
        ("https://example.jp/stagetrack/", ("example.jp/stagetrack/v1", "https")),
    ],
)
def test_the_api_host_analytics_js_is_given(base: str, host: tuple[str, str]) -> None:
    assert api_host(base) == host
    settings = analytics_js_settings("stk_k", *host)
    assert settings["integrations"]["Segment.io"]["apiHost"] == host[0]
    assert settings["metrics"] == {"sampleRate": 0}  # the library's own counters would go to Segment
