"""The bodies a moment is sent as: Standard Webhooks JSON, or a Slack incoming-webhook message.

Standard Webhooks (the spec's suggested shape, `{"type", "timestamp", "data"}`; docs/dispatch.md lists every
field):
    {"type": "stage_entered", "timestamp": "2026-12-08T09:30:00.120000+00:00",
     "data": {"moment_id": "stage_entered:1234", "lead_id": "...", "crm_ids": ["L1"], "stage": "mql",
              "division": "marketing", "occurred_at": "...", "recorded_at": "...", "cause_event_id": "...",
              "lead_url": "https://.../v1/leads/...", "from_stage": "lead", "to_stage": "mql", "rule": "...", ...}}
The body is rendered once, when the moment is found, and stored: every attempt and a resend send the same bytes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from services.dispatch.domain.moments import Moment
from services.dispatch.domain.subscriptions import Format


def lead_url(base: str, lead_id: str) -> str:
    return f"{base.rstrip('/')}/v1/leads/{quote(lead_id, safe='')}"


def standard_body(moment: Moment, base_url: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "moment_id": moment.key,
        "lead_id": moment.lead_id,
        "crm_ids": list(moment.crm_ids),
        "stage": moment.stage,
        "division": moment.division,
        "source": moment.source,
        "occurred_at": moment.occurred_at.isoformat(),
        "recorded_at": moment.recorded_at.isoformat(),
        "cause_event_id": moment.cause_event_id,
        "lead_url": lead_url(base_url, moment.lead_id),
        **moment.details,
    }
    return {"type": moment.kind, "timestamp": moment.recorded_at.isoformat(), "data": data}


def slack_body(moment: Moment, base_url: str) -> dict[str, Any]:
    """A message for a Slack incoming webhook (`text`, mrkdwn); the lead links to its history."""
    who = _escape(moment.crm_ids[0] if moment.crm_ids else moment.lead_id)
    link = f"<{lead_url(base_url, moment.lead_id)}|{who}>"
    return {"text": f"{_summary(moment, link)}", "unfurl_links": False}


def render(moment: Moment, format: Format, base_url: str) -> bytes:
    body = standard_body(moment, base_url) if format == "standard-webhooks" else slack_body(moment, base_url)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _summary(moment: Moment, lead: str) -> str:
    d = {key: _escape(str(value)) for key, value in moment.details.items() if value is not None}
    stage = _escape(moment.stage or "?")
    division = f" ({_escape(moment.division)})" if moment.division else ""
    match moment.kind:
        case "stage_entered":
            came = f" from {d['from_stage']}" if "from_stage" in d else ""
            return f"Lead {lead} entered *{stage}*{division}{came} (rule {d.get('rule', '?')})"
        case "sla_breached":
            return f"Lead {lead} is past its SLA {d.get('sla', '?')} in *{stage}*{division}: due {d.get('due_at')}"
        case "score_crossed":
            return f"Lead {lead} scored {d.get('score')} (crossed {d.get('threshold')}) in *{stage}*"
        case "opportunity_won":
            what = f"opportunity {d['opportunity_id']}" if "opportunity_id" in d else "an opportunity"
            return f"Lead {lead} won {what}: {d.get('amount')} {d.get('currency', '')}".rstrip()
        case "opportunity_lost":
            return f"Lead {lead} lost an opportunity and moved to *{stage}*"
        case "customer_churned":
            return f"Customer {lead} churned (now *{stage}*)"
        case "customer_renewed":
            return f"Customer {lead} renewed: {d.get('amount')} {d.get('currency', '')}".rstrip()
        case "feedback_submitted":
            about = f"{d.get('from_division')} → {d.get('to_division')} about {d.get('about')}"
            return f"Feedback on lead {lead}, {about}: {d.get('rating')}/5"
    return f"Lead {lead}: {moment.kind}"


def _escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
