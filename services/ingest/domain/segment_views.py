"""Segment `page` and `screen` calls (a browser's and an app's views) mapped onto page_viewed and screen_viewed.

- `page`: path, url, title, referrer from `properties`, else from `context.page` (no path: the url's path); the
  page's `name` becomes `page_name` and its `category` `page_category` (a page name is not a person's name).
- `screen`: the call's `name` and `category` (else those of `properties`) become `name` and `category`.

Both: `context.campaign.name` becomes `campaign` and its source, medium, term and content `utm_source`,
`utm_medium`, `utm_term`, `utm_content`; the user agent (or a mobile SDK's device type) becomes a coarse
`device_class`; none of these replace a property the call sent. A view without a userId (anonymous) is
reduced by `web_privacy.reduce_anonymous_view`: the URL keeps only its UTM parameters, the referrer only its
origin, `search` is dropped. The rest of `context` (ip, userAgent, library, ...) is never kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from services.ingest.domain.web_privacy import campaign_properties, device_class, reduce_anonymous_view


def call_context(call: Mapping[str, Any]) -> Mapping[str, Any]:
    context = call.get("context")
    return context if isinstance(context, Mapping) else {}


def sub_mapping(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def call_properties(call: Mapping[str, Any]) -> object:
    raw = call.get("properties")
    return {} if raw is None else raw  # anything but an object is reported by validation


def map_page(call: Mapping[str, Any], envelope: dict[str, object]) -> None:
    envelope["type"] = "page_viewed"
    raw = call_properties(call)
    if not isinstance(raw, Mapping):
        envelope["properties"] = raw
        return
    props = dict(raw)
    page_name = props.pop("name", None) or call.get("name")
    category = props.pop("category", None) or call.get("category")
    page = sub_mapping(call_context(call), "page")
    for key in ("path", "url", "title", "referrer"):
        value = props.get(key) if props.get(key) not in (None, "") else page.get(key)
        if value is None or (value == "" and key in ("path", "url")):
            props.pop(key, None)
        else:
            props[key] = value
    if "path" not in props and isinstance(props.get("url"), str):
        props["path"] = urlsplit(props["url"]).path or "/"
    for key, value in (("page_name", page_name), ("page_category", category)):
        if value is not None:
            props[key] = value
    _from_context(call, envelope, props)
    envelope["properties"] = props


def map_screen(call: Mapping[str, Any], envelope: dict[str, object]) -> None:
    envelope["type"] = "screen_viewed"
    raw = call_properties(call)
    if not isinstance(raw, Mapping):
        envelope["properties"] = raw
        return
    props = dict(raw)
    for key in ("name", "category"):
        if call.get(key) not in (None, ""):
            props[key] = call[key]
    _from_context(call, envelope, props)
    envelope["properties"] = props


def _from_context(call: Mapping[str, Any], envelope: dict[str, object], props: dict[str, Any]) -> None:
    """The campaign, the UTM parameters and the device class a view keeps; then, when anonymous, the reduction."""
    context = call_context(call)
    campaign = sub_mapping(context, "campaign")
    if campaign.get("name") is not None and props.get("campaign") is None:
        props["campaign"] = campaign["name"]
    for key, value in campaign_properties(campaign).items():
        props.setdefault(key, value)
    kind = device_class(context)
    if kind is not None:
        props.setdefault("device_class", kind)
    if "lead_id" not in envelope:
        reduce_anonymous_view(props)
