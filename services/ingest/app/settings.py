"""Settings of the ingest service (env prefix STAGETRACK_; its port is STAGETRACK_INGEST_PORT)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from services.common.environment import is_development_secret
from services.common.personal.settings import PersonalDataSettings
from services.ingest.domain.hubspot import DEFAULT_DEAL_STAGES, DEFAULT_LIFECYCLE_STAGES
from services.ingest.domain.personal_keys import PersonalKeys
from services.ingest.domain.salesforce import DEFAULT_LEAD_STATUSES, DEFAULT_OPPORTUNITY_STAGES
from services.ingest.domain.validation import DEFAULT_MAX_EVENT_BYTES

# aiokafka's max_request_size, which services.common.kafka.durable_producer keeps: a larger record is never sent.
KAFKA_MAX_REQUEST_BYTES = 1024 * 1024


class IngestSettings(PersonalDataSettings):
    port: int = Field(default=8000, validation_alias="STAGETRACK_INGEST_PORT")
    max_events_per_request: int = Field(default=1000, ge=1)
    # Applies to the JSON document after gzip decompression as well, so a gzip bomb is cut off early.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The largest event, encoded as its Kafka record: a larger one is refused with 413 (docs/ingest-validation.md).
    # Below the producer's largest request, with room for what the engine wraps around an event downstream.
    max_event_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, ge=1024, le=KAFKA_MAX_REQUEST_BYTES - 4096)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    kafka_send_timeout_seconds: float = Field(default=5.0, gt=0)
    retry_after_seconds: int = Field(default=5, ge=1)
    reporting_currency: str = Field(default="JPY", pattern="^[A-Z]{3}$")
    # Units of the reporting currency per unit of another, e.g. {"USD": "150.25"}; empty refuses others.
    currency_rates: dict[str, Decimal] = Field(default_factory=dict)
    # Key names refused on anonymous tracking events besides the built-in ones, as a JSON list such as
    # ["member_no", "会員番号"]; each is read as words, however a key writes it (docs/ingest-validation.md). On
    # identified events they are sealed with the built-in ones (docs/privacy.md).
    personal_keys: list[str] = Field(default_factory=list)
    # The deployment's stage model (the engine's setting): its `personal:` list is sealed like `personal_keys`.
    stage_model: Path | None = None
    # The ingest's URL as browsers reach it (e.g. https://track.example.jp): analytics.js is told to post there
    # (docs/ingest-http.md, "analytics.js"). Unset: the scheme and host each settings request was addressed to.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    # The dist/umd folder of @segment/analytics-next, served as the site's analytics.js CDN (the bundle and its
    # chunks). Unset: in development the copy deploy/local/browser.sh fetched, if any; otherwise not served.
    analytics_js_dir: Path | None = None
    # HubSpot connector (docs/connectors.md): unset secret = the route answers 404 "connector not configured".
    hubspot_app_secret: SecretStr | None = None
    # The URL HubSpot posts to, as signed (set it behind a proxy); unset = the URL of the request as received.
    hubspot_webhook_url: str | None = None
    hubspot_lifecycle_stages: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LIFECYCLE_STAGES))
    hubspot_deal_stages: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DEAL_STAGES))
    # Salesforce connector: unset organization id = the route answers a SOAP fault "connector not configured".
    salesforce_organization_id: str | None = Field(default=None, pattern="^[0-9A-Za-z]{15}([0-9A-Za-z]{3})?$")
    salesforce_lead_statuses: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LEAD_STATUSES))
    salesforce_opportunity_stages: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_OPPORTUNITY_STAGES))

    @field_validator("personal_keys")
    @classmethod
    def _personal_keys_have_words(cls, names: list[str]) -> list[str]:
        PersonalKeys(names)  # a name without a letter or digit would match no key: refused at start-up
        return names

    def development_secrets(self) -> list[str]:
        found = super().development_secrets()
        secret = self.hubspot_app_secret
        if secret is not None and is_development_secret(secret.get_secret_value()):
            found.append(
                "STAGETRACK_HUBSPOT_APP_SECRET is empty or a placeholder while the HubSpot connector is configured: "
                "set the app's client secret, or unset it to turn the connector off"
            )
        return found
