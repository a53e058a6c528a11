"""Standard Webhooks signatures (checked with the spec's reference library), destinations' ranges, the retry
schedule and its verdicts, and the bodies' shapes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import pytest
from standardwebhooks.webhooks import Webhook

from services.dispatch.domain.destinations import AllowList, address_problem, url_problem
from services.dispatch.domain.endpoint_health import EndpointHealth, PausePolicy
from services.dispatch.domain.moments import Moment
from services.dispatch.domain.payloads import render
from services.dispatch.domain.retry_policy import RetryPolicy, retry_after, verdict
from services.dispatch.domain.signing import Secret, signature_headers, webhook_id

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_signature_verifies_with_the_reference_library_and_the_id_is_stable() -> None:
    text = "whsec_" + base64.b64encode(b"s" * 32).decode()
    body = '{"type":"stage_entered","data":{"lead_id":"リード"}}'.encode()
    stamp = int(datetime.now(UTC).timestamp())
    headers = signature_headers(Secret.parse(text), webhook_id("stage_entered:7", "crm"), stamp, body)
    assert Webhook(text).verify(body, headers) == json.loads(body)
    assert headers["webhook-id"] == webhook_id("stage_entered:7", "crm") != webhook_id("stage_entered:7", "slack")
    assert signature_headers(None, "msg_1", stamp, body).keys() == {"webhook-id", "webhook-timestamp"}


@pytest.mark.parametrize("text", ["nope", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_malformed_secret_is_refused_without_being_quoted(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        Secret.parse(text)
    assert text[6:] not in str(caught.value) or not text[6:]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "private"),
    ],
)
def test_non_public_addresses_are_refused_unless_allowed(address: str, kind: str) -> None:
    problem = address_problem(ip_address(address), "h", AllowList())
    assert problem is not None and f"a {kind} address" in problem, problem
    assert address_problem(ip_address(address), "h", AllowList.parse("h")) is None
    assert address_problem(ip_address("93.184.215.14"), "example.com", AllowList()) is None


def test_urls_are_checked_for_scheme_credentials_and_literal_hosts() -> None:
    allowed = AllowList()
    assert url_problem("https://hooks.example.com/a", https_only=True, allowed=allowed) is None
    assert "https" in (url_problem("http://hooks.example.com/a", https_only=True, allowed=allowed) or "")
    assert url_problem("http://hooks.example.com/a", https_only=False, allowed=allowed) is None
    assert "loopback" in (url_problem("https://app.localhost/a", https_only=True, allowed=allowed) or "")
    assert "Port out of range" in (url_problem("https://h:99999/a", https_only=True, allowed=allowed) or "")


def test_backoff_doubles_with_jitter_honours_retry_after_and_stops_at_the_horizon() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=5), max_delay=timedelta(minutes=10))
    expires = NOW + timedelta(hours=24)
    waits = [policy.next_attempt(n, NOW, expires, 0.999999, None) for n in (1, 2, 3, 20)]
    assert [round((w - NOW).total_seconds()) for w in waits if w] == [5, 10, 20, 600]
    assert policy.next_attempt(1, NOW, expires, 0.0, None) == NOW + timedelta(seconds=2.5)  # jitter: half at least
    assert policy.next_attempt(1, NOW, expires, 0.0, timedelta(seconds=90)) == NOW + timedelta(seconds=90)
    assert policy.next_attempt(9, NOW, NOW + timedelta(seconds=30), 0.5, None) == NOW + timedelta(seconds=30)
    assert policy.next_attempt(9, expires, expires, 0.5, None) is None


def test_verdicts_and_retry_after() -> None:
    assert [verdict(s) for s in (200, 204, None, 408, 429, 500, 503, 301, 400, 404, 410)] == [
        "delivered", "delivered", "retry", "retry", "retry", "retry", "retry",
        "give_up", "give_up", "give_up", "give_up",
    ]  # fmt: skip
    assert retry_after("120", NOW) == timedelta(seconds=120)
    assert retry_after("Tue, 01 Dec 2026 09:01:00 GMT", NOW) == timedelta(seconds=60)
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None


def test_an_endpoint_failing_for_long_is_paused_then_probed() -> None:
    health = EndpointHealth(
        PausePolicy(pause_after_failures=3, pause_after=timedelta(minutes=1), pause_for=timedelta(minutes=5))
    )
    assert not any(health.failed(NOW + timedelta(seconds=s)) for s in (0, 1, 2))  # many failures, but not for long
    assert health.failed(NOW + timedelta(minutes=2)) and health.paused(NOW + timedelta(minutes=3))
    assert not health.paused(NOW + timedelta(minutes=8))  # probe time
    health.succeeded()
    assert health.failures == 0 and not health.paused(NOW + timedelta(minutes=8))


def test_bodies() -> None:
    moment = Moment(
        "stage_entered", "stage_entered:7", "L/1", NOW, NOW, "e1", "mql", "marketing", ("<crm&1>",),
        {"from_stage": "lead", "to_stage": "mql", "rule": "score_mql"},
    )  # fmt: skip
    standard = json.loads(render(moment, "standard-webhooks", "https://st.example.com/"))
    assert (
        standard["type"] == "stage_entered" and standard["data"]["lead_url"] == "https://st.example.com/v1/leads/L%2F1"
    )
    assert standard["data"]["crm_ids"] == ["<crm&1>"] and standard["data"]["rule"] == "score_mql"
    slack = json.loads(render(moment, "slack", "https://st.example.com"))
    link = "<https://st.example.com/v1/leads/L%2F1|&lt;crm&amp;1&gt;>"  # Slack's escapes in the text
    assert slack["text"] == f"Lead {link} entered *mql* (marketing) from lead (rule score_mql)"
