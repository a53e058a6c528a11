"""The webhook sender verifies a receiver's TLS certificate against the system's trust store and the host's name:
a self-signed certificate is refused until the trust store holds it (`SSL_CERT_FILE` names another bundle), and
then only for the name it carries."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.dispatch.adapters.http_sender import Answer, WebhookSender
from services.dispatch.domain.destinations import AllowList
from services.dispatch.domain.signing import Secret
from services.dispatch.domain.subscriptions import Endpoint
from tests.integration.dispatch.receiver import new_secret
from tests.integration.dispatch.test_http_sender import RawServer, ok


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextlib.asynccontextmanager
async def serving_tls(certificate: tuple[Path, Path], host: str) -> AsyncIterator[tuple[RawServer, Endpoint]]:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*certificate)
    raw = RawServer(ok)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    endpoint = Endpoint("crm", f"https://{host}:{port}/hook", "standard-webhooks", Secret.parse(new_secret()))
    try:
        yield raw, endpoint
    finally:
        server.close()


async def post(endpoint: Endpoint, allowed: str) -> Answer:
    sender = WebhookSender(
        AllowList.parse(allowed), connect_timeout_seconds=5, read_timeout_seconds=5, max_response_bytes=64
    )
    try:
        return await sender.post(endpoint, {}, b"{}")
    finally:
        await sender.close()


async def test_an_untrusted_self_signed_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    async with serving_tls(certificate, "localhost") as (raw, endpoint):
        answer = await post(endpoint, "localhost")
    assert answer.status is None and not answer.refused, answer  # retried: the receiver may fix its certificate
    assert answer.error is not None and answer.error.startswith("ConnectError"), answer
    assert "certificate verify failed" in answer.error and raw.requests == [], answer


async def test_a_trusted_certificate_is_accepted_for_its_name_only(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    async with serving_tls(certificate, "localhost") as (raw, endpoint):
        answer = await post(endpoint, "localhost")
    assert answer.status == 204 and len(raw.requests) == 1, answer
    async with serving_tls(certificate, "127.0.0.1") as (raw, endpoint):  # the certificate names localhost only
        answer = await post(endpoint, "127.0.0.1")
    assert answer.status is None and answer.error is not None and "mismatch" in answer.error, answer
    assert raw.requests == [], answer
