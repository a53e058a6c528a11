"""Settings shared by every service; each service subclasses `ServiceSettings` in its bootstrap."""

from __future__ import annotations

import ipaddress
from typing import Literal, Self

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.database_tls import DatabaseTls, SslMode
from services.common.environment import database_url_problem
from services.common.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol

LOCAL_DATABASE_URL = "postgresql+asyncpg://stagetrack@127.0.0.1:55432/stagetrack"
OPERATIONAL_PATHS = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")


class ServiceSettings(BaseSettings):
    """What every service needs: where Kafka and PostgreSQL are, and the topic names.

    Defaults point at the local stack started by `make up` (deploy/local/).
    """

    # Errors never echo the input: it holds the secrets (a database URL's password among them).
    model_config = SettingsConfigDict(env_prefix="STAGETRACK_", extra="ignore", hide_input_in_errors=True)

    # Outside development a service refuses to start with a development or placeholder secret, naming the
    # setting (`development_secrets`, docs/security.md "Production secrets").
    environment: Literal["development", "production"] = "development"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # Kafka's security, for every producer, consumer and admin client (services/common/kafka_security.py): the
    # protocol; with SASL_* the mechanism and credentials; with SSL/SASL_SSL the CA the brokers' certificates
    # must lead to (none: the system's trust store), and a client certificate and key for brokers that require
    # one (the key's passphrase if it is encrypted).
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_file: FilePath | None = None
    kafka_ssl_cert_file: FilePath | None = None
    kafka_ssl_key_file: FilePath | None = None
    kafka_ssl_key_password: SecretStr | None = None
    database_url: str = LOCAL_DATABASE_URL
    database_schema: str = "public"
    # PostgreSQL TLS, libpq's sslmode: disable, allow, prefer (TLS when offered, unverified: asyncpg's default),
    # require, verify-ca, verify-full. The CA file is what verify-ca/verify-full check the server's chain against
    # (none: the system's trust store); a client certificate and key for `hostssl ... cert` authentication.
    database_sslmode: SslMode = "prefer"
    database_ssl_ca_file: FilePath | None = None
    database_ssl_cert_file: FilePath | None = None
    database_ssl_key_file: FilePath | None = None
    events_topic: str = "stagetrack.events"
    lead_events_topic: str = "stagetrack.lead-events"
    dead_letter_topic: str = "stagetrack.dead-letter"
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    # The copies of each partition of the topics `stagetrack migrate` creates, and how many of them an acks=all
    # write waits for. Unset: 3 and 2, or every broker of a smaller cluster and 1 (with a warning)
    # (services/common/kafka_replication.py).
    topic_replication_factor: int | None = Field(default=None, ge=1)
    topic_min_insync_replicas: int | None = Field(default=None, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    log_level: str = "INFO"
    # A background loop (engine consumer, KPI projector) that has not advanced for this long while work waits
    # is reported stalled: /readyz 503 naming it, stagetrack_loop_stalled 1 (services/common/loop_health.py).
    stall_after_seconds: float = Field(default=120.0, gt=0)
    # After this many events set aside in a row the loop stops and says so (a bug, not bad data, is likelier).
    set_aside_brake_run: int = Field(default=100, ge=1)
    # A failure repeated identically is logged once per this many seconds, with a count.
    failure_log_interval_seconds: float = Field(default=60.0, gt=0)
    # Failed authentications (401/403 answers): `auth_failure_limit` within `auth_failure_window_seconds` from
    # one client address, or with one API key, and its requests are answered 429 for `auth_block_seconds`
    # without reaching the service. At most `auth_tracked_clients` addresses and as many keys are tracked
    # (the least recently failing are forgotten first). docs/security.md "Limits".
    auth_failure_limit: int = Field(default=20, ge=1)
    auth_failure_window_seconds: float = Field(default=10.0, gt=0)
    auth_block_seconds: float = Field(default=60.0, gt=0)
    auth_tracked_clients: int = Field(default=10_000, ge=1)
    # Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For names the client
    # (e.g. "10.0.0.0/8"); empty: none, the client is the peer of the connection.
    trusted_proxies: str = ""
    # A connection that has not sent a request's complete headers within this many seconds (from its opening,
    # or from the first byte after the previous answer) is closed; a request whose body has not fully
    # arrived within `body_timeout_seconds` of its headers is answered 408 and the connection closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    # The operational paths that answer without a key, comma-separated, from OPERATIONAL_PATHS ("/docs" covers
    # /redoc too); empty: none. A closed /healthz, /readyz or /metrics needs a key with the `read:kpi` scope
    # (monitoring's scope), a closed /docs or /openapi.json any live key. docs/security.md "Reads".
    open_paths: str = ",".join(OPERATIONAL_PATHS)
    # API keys: a key's answer (live, revoked, unknown) is reused for this many seconds without a query, and a
    # key confirmed live within `key_fallback_seconds` is still served while PostgreSQL is out of reach.
    key_cache_seconds: float = Field(default=5.0, ge=0)
    key_fallback_seconds: float = Field(default=60.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_only(cls, value: str) -> str:
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("database_url must use the asyncpg driver: postgresql+asyncpg://user@host:port/db")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from exc
        return value

    @field_validator("open_paths")
    @classmethod
    def _operational_paths_only(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            if entry not in OPERATIONAL_PATHS:
                raise ValueError(f"open_paths: {entry!r} is not one of {', '.join(OPERATIONAL_PATHS)}")
        return value

    @model_validator(mode="after")
    def _database_tls_as_meant(self) -> Self:
        if found := self.database_tls.problems():
            raise ValueError("; ".join(found))
        return self

    @model_validator(mode="after")
    def _kafka_as_meant(self) -> Self:
        found = self.kafka_security.problems()
        factor, insync = self.topic_replication_factor, self.topic_min_insync_replicas
        if factor is not None and insync is not None and insync > factor:
            found.append(f"topic_min_insync_replicas={insync} is more than topic_replication_factor={factor}")
        if found:
            raise ValueError("; ".join(found))
        return self

    @model_validator(mode="after")
    def _no_development_secrets_outside_development(self) -> Self:
        if self.environment != "development" and (found := self.development_secrets()):
            raise ValueError(
                f"STAGETRACK_ENVIRONMENT={self.environment} refuses development secrets: " + "; ".join(found)
            )
        return self

    def development_secrets(self) -> list[str]:
        """What a production deployment must not run with, one sentence per setting naming it; a service's
        settings add their own secrets to the list."""
        problem = database_url_problem(self.database_url, LOCAL_DATABASE_URL)
        return [problem] if problem else []

    @property
    def database_tls(self) -> DatabaseTls:
        return DatabaseTls(
            self.database_sslmode, self.database_ssl_ca_file, self.database_ssl_cert_file, self.database_ssl_key_file
        )

    @property
    def kafka_security(self) -> KafkaSecurity:
        password, key_password = self.kafka_sasl_password, self.kafka_ssl_key_password
        return KafkaSecurity(
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            password.get_secret_value() if password is not None else None,
            self.kafka_ssl_ca_file,
            self.kafka_ssl_cert_file,
            self.kafka_ssl_key_file,
            key_password.get_secret_value() if key_password is not None else None,
        )

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def open_path_set(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.open_paths.split(",") if part.strip())

    @property
    def topics(self) -> list[str]:
        return [self.events_topic, self.lead_events_topic, self.dead_letter_topic]
