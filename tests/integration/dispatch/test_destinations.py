"""A webhook sender is a server-side request forgery vector: a subscription pointing at a private, loopback or
link-local address is refused when the file is loaded (`stagetrack serve dispatch` does not start, naming the
subscription and the destination) unless the allow-list names it; a host name is checked again on every send,
against each address it resolves to."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from services.dispatch.adapters.http_sender import WebhookSender
from services.dispatch.domain.destinations import AllowList
from services.dispatch.domain.signing import Secret, signature_headers
from services.dispatch.domain.subscriptions import Endpoint
from tests.integration.dispatch.receiver import Receiver, new_secret, serving
from tests.stack import REPO, free_port

ENV = "STAGETRACK_TEST_SECRET"


def subscriptions_file(path: Path, url: str) -> Path:
    endpoint = {"name": "crm", "url": url, "secret_env": ENV}
    subscription = {"name": "new-mql", "moments": ["stage_entered"], "stages": ["mql"], "endpoints": ["crm"]}
    path.write_text(yaml.safe_dump({"endpoints": [endpoint], "subscriptions": [subscription]}))
    return path


def serve(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        ENV: new_secret(),
        "STAGETRACK_DISPATCH_SUBSCRIPTIONS": str(path),
        "STAGETRACK_DISPATCH_PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [str(REPO / ".venv/bin/stagetrack"), "serve", "dispatch"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://10.1.2.3/hooks/T0/SECRET", "a private"),
        ("https://127.0.0.1:8443/hook", "a loopback"),
        ("https://169.254.169.254/latest/meta-data", "a link-local"),
        ("https://[::1]/hook", "a loopback"),
        ("https://localhost/hook", "a loopback"),
    ],
)
def test_a_private_destination_is_refused_at_start_naming_the_subscription_and_the_url(
    tmp_path: Path, url: str, kind: str
) -> None:
    result = serve(subscriptions_file(tmp_path / "subscriptions.yaml", url), STAGETRACK_ENVIRONMENT="development")
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("stagetrack serve dispatch: ") and "subscriptions.yaml line 4" in line, line
    assert "endpoint 'crm' (subscriptions 'new-mql')" in line and f"{kind} address" in line, line
    assert url.split("/")[2] in line and "SECRET" not in line and "meta-data" not in line, line  # host, not path
    assert "STAGETRACK_DISPATCH_ALLOWED_DESTINATIONS" in line, line


def test_outside_development_only_https_is_allowed(tmp_path: Path) -> None:
    path = subscriptions_file(tmp_path / "subscriptions.yaml", "http://hooks.example.com/stagetrack")
    result = serve(
        path,
        STAGETRACK_ENVIRONMENT="production",
        STAGETRACK_DATABASE_URL="postgresql+asyncpg://svc:not-a-placeholder@db.internal:5432/stagetrack",
    )
    assert result.returncode == 2
    assert "only https destinations are allowed outside development" in result.stderr, result.stderr


async def test_a_host_name_is_checked_on_every_send_against_what_it_resolves_to() -> None:
    """The machine's own name passes the load-time check (a name, not an address) but resolves to a loopback or
    private address: refused at send, unless the allow-list names the host."""
    receiver = Receiver(secret=new_secret())
    host = socket.gethostname()
    receiver.host = "0.0.0.0"  # wherever the name resolves to on this machine
    url = f"http://{host}:{receiver.port}/hook"
    endpoint = Endpoint("crm", url, "standard-webhooks", Secret.parse(receiver.secret))
    body = b'{"type":"stage_entered"}'
    headers = signature_headers(endpoint.secret, "msg_1", int(time.time()), body)
    async with serving(receiver):
        for allowed, refused in ((AllowList(), True), (AllowList.parse(host), False)):
            sender = WebhookSender(allowed, connect_timeout_seconds=2, read_timeout_seconds=2, max_response_bytes=100)
            try:
                answer = await sender.post(endpoint, headers, body)
            finally:
                await sender.close()
            assert answer.refused is refused, answer
    assert len(receiver.got) == 1 and receiver.refused == []
