"""Settings of the dispatcher (env prefix STAGETRACK_; its port is STAGETRACK_DISPATCH_PORT; docs/dispatch.md).

The subscriptions file is loaded and checked here, with the settings: a file the dispatcher cannot send from
(a refused destination, a missing secret, a stage the model lacks) stops `stagetrack serve dispatch` before it
starts, with one line naming the file, the line and the reason.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, PrivateAttr, model_validator

from services.common.settings import ServiceSettings
from services.common.stage_model.model import model_or_default
from services.common.stage_model.model_types import StageModel
from services.dispatch.adapters.subscriptions_file import load_subscriptions
from services.dispatch.domain.destinations import AllowList
from services.dispatch.domain.endpoint_health import PausePolicy
from services.dispatch.domain.model_rules import ModelRules
from services.dispatch.domain.retry_policy import RetryPolicy
from services.dispatch.domain.subscriptions import NO_SUBSCRIPTIONS, Subscriptions


class DispatchSettings(ServiceSettings):
    port: int = Field(default=8003, validation_alias="STAGETRACK_DISPATCH_PORT")
    # The same model file as the engine's (STAGETRACK_STAGE_MODEL); None: the shipped `the-model`.
    stage_model: Path | None = None
    # The subscriptions (YAML, schemas/subscriptions.schema.json); None: no subscription, nothing is sent (the
    # dispatcher still follows the leads and their SLA deadlines, so a file added later starts from the truth).
    dispatch_subscriptions: Path | None = None
    # Host names, addresses and networks a destination may be in although private, loopback or link-local.
    dispatch_allowed_destinations: str = ""
    dispatch_consumer_group: str = "stagetrack-dispatch"
    # Where a consumer group with no stored offset starts: `latest` sends only what happens from now on (a new
    # dispatcher does not replay the history to the receivers); `earliest` reads the whole topic.
    dispatch_start_from: Literal["earliest", "latest"] = "latest"
    # The bodies link to the lead's history: this base + /v1/leads/{lead_id} (the engine's read route).
    dispatch_lead_url_base: str = "http://127.0.0.1:8001"
    dispatch_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    dispatch_read_timeout_seconds: float = Field(default=10.0, gt=0)
    dispatch_max_response_bytes: int = Field(default=4096, ge=0)
    dispatch_retry_first_seconds: float = Field(default=5.0, gt=0)
    dispatch_retry_max_seconds: float = Field(default=3600.0, gt=0)
    dispatch_retry_horizon_seconds: float = Field(default=86400.0, gt=0)
    dispatch_pause_after_failures: int = Field(default=10, ge=1)
    dispatch_pause_after_seconds: float = Field(default=300.0, ge=0)
    dispatch_pause_seconds: float = Field(default=300.0, gt=0)
    # Attempts at once: 200 webhooks a second to a receiver answering in 100 ms need 20 in flight.
    dispatch_max_in_flight: int = Field(default=256, ge=1)
    dispatch_max_in_flight_per_endpoint: int = Field(default=32, ge=1)
    # A deadline fires once passed by this much and its partition has been read up to then (domain/breaches.py).
    dispatch_sla_grace_seconds: float = Field(default=10.0, ge=0)
    # How often the deliverer and the SLA watch look for work nobody woke them for (retries, deadlines).
    dispatch_poll_seconds: float = Field(default=1.0, gt=0)
    max_batch_records: int = Field(default=500, ge=1, le=10_000)
    metrics_cache_seconds: float = Field(default=5.0, ge=0)

    _model: StageModel | None = PrivateAttr(default=None)
    _subscriptions: Subscriptions = PrivateAttr(default=NO_SUBSCRIPTIONS)

    @model_validator(mode="after")
    def _load_subscriptions(self) -> Self:
        self._model = model_or_default(self.stage_model)
        if self.dispatch_subscriptions is not None:
            self._subscriptions = load_subscriptions(
                self.dispatch_subscriptions,
                ModelRules.of(self._model),
                development=self.environment == "development",
                allowed=self.allowed_destinations,
            )
        return self

    @property
    def model(self) -> StageModel:
        assert self._model is not None
        return self._model

    @property
    def subscriptions(self) -> Subscriptions:
        return self._subscriptions

    @property
    def allowed_destinations(self) -> AllowList:
        return AllowList.parse(self.dispatch_allowed_destinations)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=timedelta(seconds=self.dispatch_retry_first_seconds),
            max_delay=timedelta(seconds=self.dispatch_retry_max_seconds),
            horizon=timedelta(seconds=self.dispatch_retry_horizon_seconds),
        )

    @property
    def pause_policy(self) -> PausePolicy:
        return PausePolicy(
            pause_after_failures=self.dispatch_pause_after_failures,
            pause_after=timedelta(seconds=self.dispatch_pause_after_seconds),
            pause_for=timedelta(seconds=self.dispatch_pause_seconds),
        )
