"""The client guard as `service_app` wires it, in process: a blocked client is refused before the app runs, a
403 blocks an address but never a key, X-Forwarded-For counts only from trusted proxies, a body the server
marked late gets 408."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, HTTPException, Request
from prometheus_client import CollectorRegistry

from services.common.service import service_app
from services.common.settings import ServiceSettings
from services.common.slow_clients import BODY_LATE

PROXY = ("10.1.2.3", 40000)


@contextlib.asynccontextmanager
async def _no_resources(app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(**settings: object) -> tuple[FastAPI, list[str]]:
    """An app whose /secret answers 401 for key "wrong", 403 for key "tracker", 200 otherwise; it notes each call."""
    config = ServiceSettings(auth_failure_limit=3, **settings)  # type: ignore[arg-type]
    app = service_app(title="t", service="test", settings=config, registry=CollectorRegistry(), lifespan=_no_resources)
    calls: list[str] = []

    @app.api_route("/secret", methods=["GET", "POST"])
    async def secret(request: Request) -> dict[str, int]:
        calls.append(request.client.host if request.client else "?")
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key == "wrong":
            raise HTTPException(401, "unknown key")
        if key == "tracker":
            raise HTTPException(403, "out of scope")
        return {"bytes": len(await request.body())}

    return app, calls


def _client(app: FastAPI, peer: tuple[str, int] = ("203.0.113.7", 50000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=peer), base_url="http://svc")


async def test_a_blocked_address_is_refused_429_before_the_app_runs() -> None:
    app, calls = _app()
    async with _client(app) as client:
        statuses = [
            (await client.get("/secret", headers={"Authorization": "Bearer wrong"})).status_code for _ in range(5)
        ]
        refused = await client.get("/secret", headers={"Authorization": "Bearer good"})
    assert statuses == [401, 401, 401, 429, 429]
    assert len(calls) == 3  # the 429s never reached the route (nor a key lookup)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json() == {
        "detail": {
            "field": "authorization",
            "reason": "too many failed authentications from this address; retry after 60 s",
        }
    }
    async with _client(app, ("198.51.100.2", 50000)) as other:
        assert (await other.get("/secret", headers={"Authorization": "Bearer good"})).status_code == 200


async def test_a_key_failing_from_many_addresses_is_blocked_everywhere() -> None:
    app, _ = _app()
    for n in range(3):
        async with _client(app, (f"192.0.2.{n}", 50000)) as client:
            assert (await client.get("/secret", headers={"Authorization": "Bearer wrong"})).status_code == 401
    async with _client(app, ("192.0.2.99", 50000)) as client:
        refused = await client.get("/secret", headers={"Authorization": "Bearer wrong"})
        assert (await client.get("/secret", headers={"Authorization": "Bearer good"})).status_code == 200
    assert refused.status_code == 429 and "with this API key" in refused.json()["detail"]["reason"]


async def test_a_public_key_used_out_of_scope_is_never_blocked_only_the_address_using_it() -> None:
    app, _ = _app()
    for n in range(5):
        async with _client(app, (f"192.0.2.{n}", 50000)) as client:
            assert (await client.get("/secret", headers={"Authorization": "Bearer tracker"})).status_code == 403
    async with _client(app, ("198.51.100.2", 50000)) as visitor:
        assert (await visitor.get("/secret", headers={"Authorization": "Bearer tracker"})).status_code == 403


async def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() -> None:
    app, _ = _app(trusted_proxies="10.0.0.0/8")
    async with _client(app, PROXY) as proxy:
        for _ in range(3):
            await proxy.get("/secret", headers={"Authorization": "Bearer wrong", "X-Forwarded-For": "203.0.113.7"})
        blocked = await proxy.get("/secret", headers={"X-Forwarded-For": "203.0.113.7"})
        # a client cannot escape by adding its own X-Forwarded-For entry: the proxy appends the real address
        spoofed = await proxy.get("/secret", headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
        other = await proxy.get("/secret", headers={"X-Forwarded-For": "198.51.100.2"})
    assert (blocked.status_code, spoofed.status_code, other.status_code) == (429, 429, 200)


async def test_without_trusted_proxies_x_forwarded_for_is_ignored() -> None:
    app, _ = _app()
    async with _client(app) as client:
        for n in range(4):
            last = await client.get(
                "/secret", headers={"Authorization": "Bearer wrong", "X-Forwarded-For": f"198.51.100.{n}"}
            )
    assert last.status_code == 429


async def test_a_body_the_server_marked_late_is_answered_408_in_the_services_shape() -> None:
    app, calls = _app()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/secret",
        "raw_path": b"/secret",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", b"Bearer good"), (b"content-length", b"100")],
        "client": ("203.0.113.7", 50000),
        "server": ("svc", 80),
    }

    async def receive() -> dict[str, Any]:
        scope[BODY_LATE] = 30.0  # what DeadlineProtocol does when the body's deadline passes, then wakes receive
        return {"type": "http.request", "body": b'{"events": [', "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert calls == ["203.0.113.7"]  # the route ran and was reading its body
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"]) == {
        "detail": {"field": "body", "reason": "the request body did not arrive within 30 s"}
    }
