"""The checks of a subscriptions file that its JSON Schema cannot make, and its compilation.

Each refusal is a `Problem` at a path in the data (the loader turns it into the YAML line): duplicate names, an
endpoint no subscription can find, stages and divisions the stage model does not have, a score threshold
missing or given where it means nothing, a `sources` filter when the model has no `source` dimension, a missing
or malformed signing secret, and an unsafe destination
(`destinations.url_problem`), named with the subscriptions that use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from services.dispatch.domain.destinations import AllowList, url_problem
from services.dispatch.domain.lead_facts import SOURCE_DIMENSION
from services.dispatch.domain.model_rules import ModelRules
from services.dispatch.domain.moments import MomentKind
from services.dispatch.domain.signing import Secret
from services.dispatch.domain.subscriptions import Endpoint, Format, Subscription, Subscriptions


class Problem(ValueError):
    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def shown(url: str) -> str:
    """A destination as messages and logs show it: scheme, host and port (the path may be a secret)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
    except ValueError:
        return "(an unreadable URL)"


def compile_subscriptions(
    data: Mapping[str, Any], rules: ModelRules, *, development: bool, allowed: AllowList, environ: Mapping[str, str]
) -> Subscriptions:
    users: dict[str, list[str]] = {}
    for s in data["subscriptions"]:
        for name in s["endpoints"]:
            users.setdefault(name, []).append(s["name"])
    endpoints: dict[str, Endpoint] = {}
    for i, e in enumerate(data["endpoints"]):
        if e["name"] in endpoints:
            raise Problem(("endpoints", i, "name"), f"endpoint {e['name']!r} is declared twice")
        endpoints[e["name"]] = _endpoint(e, ("endpoints", i), users.get(e["name"], []), development, allowed, environ)
    subscriptions: list[Subscription] = []
    for i, s in enumerate(data["subscriptions"]):
        if any(s["name"] == other.name for other in subscriptions):
            raise Problem(("subscriptions", i, "name"), f"subscription {s['name']!r} is declared twice")
        subscriptions.append(_subscription(s, ("subscriptions", i), endpoints, rules))
    return Subscriptions(endpoints=endpoints, subscriptions=tuple(subscriptions))


def _endpoint(
    e: Mapping[str, Any],
    at: tuple[str | int, ...],
    users: list[str],
    development: bool,
    allowed: AllowList,
    environ: Mapping[str, str],
) -> Endpoint:
    name, url = e["name"], e["url"]
    problem = url_problem(url, https_only=not development, allowed=allowed)
    if problem is not None:
        used_by = f" (subscriptions {', '.join(map(repr, users))})" if users else ""
        raise Problem((*at, "url"), f"endpoint {name!r}{used_by}: destination {shown(url)} refused: {problem}")
    format = cast(Format, e.get("format", "standard-webhooks"))
    secret_text: str | None = None
    if "secret" in e and "secret_env" in e:
        raise Problem((*at, "secret"), f"endpoint {name!r}: give secret or secret_env, not both")
    if "secret" in e:
        if not development:
            reason = "a secret written in the file is for development only: put it in an environment variable"
            raise Problem((*at, "secret"), f"endpoint {name!r}: {reason} named by secret_env")
        secret_text = e["secret"]
    elif "secret_env" in e:
        secret_text = environ.get(e["secret_env"])
        if not secret_text:
            unset = f"the environment variable {e['secret_env']} is not set"
            raise Problem((*at, "secret_env"), f"endpoint {name!r}: {unset}")
    elif format == "standard-webhooks":
        raise Problem(at, f"endpoint {name!r}: a standard-webhooks endpoint needs a signing secret (secret_env)")
    try:
        secret = None if secret_text is None else Secret.parse(secret_text)
    except ValueError as exc:
        raise Problem((*at, "secret_env" if "secret_env" in e else "secret"), f"endpoint {name!r}: {exc}") from None
    return Endpoint(name=name, url=url, format=format, secret=secret)


def _subscription(
    s: Mapping[str, Any], at: tuple[str | int, ...], endpoints: Mapping[str, Endpoint], rules: ModelRules
) -> Subscription:
    name = s["name"]
    for j, endpoint in enumerate(s["endpoints"]):
        if endpoint not in endpoints:
            known = ", ".join(sorted(endpoints)) or "none"
            raise Problem((*at, "endpoints", j), f"subscription {name!r}: no endpoint {endpoint!r} (declared: {known})")
    for key, known_values in (("stages", rules.stages), ("divisions", rules.divisions)):
        for j, value in enumerate(s.get(key, ())):
            if value not in known_values:
                listed = ", ".join(sorted(known_values))
                unknown = f"the stage model has no {key[:-1]} {value!r} ({listed})"
                raise Problem((*at, key, j), f"subscription {name!r}: {unknown}")
    if "sources" in s and SOURCE_DIMENSION not in rules.dimensions:
        listed = ", ".join(sorted(rules.dimensions)) or "none"
        reason = f"the stage model has no dimension {SOURCE_DIMENSION!r} (its dimensions: {listed})"
        raise Problem((*at, "sources"), f"subscription {name!r}: {reason}")
    moments = frozenset(cast(list[MomentKind], s["moments"]))
    threshold = s.get("score_at_least")
    if "score_crossed" in moments and threshold is None:
        raise Problem((*at, "moments"), f"subscription {name!r}: score_crossed needs score_at_least (the threshold)")
    if threshold is not None and "score_crossed" not in moments:
        raise Problem((*at, "score_at_least"), f"subscription {name!r}: score_at_least applies to score_crossed only")
    return Subscription(
        name=name,
        moments=moments,
        endpoints=tuple(s["endpoints"]),
        stages=frozenset(s["stages"]) if "stages" in s else None,
        divisions=frozenset(s["divisions"]) if "divisions" in s else None,
        sources=frozenset(s["sources"]) if "sources" in s else None,
        score_at_least=threshold,
    )
