"""How the services reach Kafka: the security protocol, the SASL mechanism and credentials, the TLS files. Standard
library only: the settings build it, `services.common.kafka.security_options` turns it into aiokafka's arguments
(the same for every producer, consumer and admin client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TLS_PROTOCOLS: tuple[SecurityProtocol, ...] = ("SSL", "SASL_SSL")
SASL_PROTOCOLS: tuple[SecurityProtocol, ...] = ("SASL_PLAINTEXT", "SASL_SSL")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None  # the CA the brokers' certificates must lead to (None: the system's trust store)
    cert_file: Path | None = None  # a client certificate, for brokers that require one (ssl.client.auth)
    key_file: Path | None = None  # its private key (None: in cert_file)
    key_password: str | None = field(default=None, repr=False)  # the key's passphrase, when it is encrypted

    @property
    def uses_tls(self) -> bool:
        return self.protocol in TLS_PROTOCOLS

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in SASL_PROTOCOLS

    def problems(self) -> list[str]:
        """Settings missing for the protocol, or set where the protocol would ignore them (a CA file that verifies
        nothing on PLAINTEXT), one sentence each, named as settings."""
        found = []
        sasl = (
            ("kafka_sasl_mechanism", self.sasl_mechanism),
            ("kafka_sasl_username", self.sasl_username),
            ("kafka_sasl_password", self.sasl_password),
        )
        for setting, value in sasl:
            if self.uses_sasl and not value:
                found.append(f"kafka_security_protocol={self.protocol} needs {setting}")
            elif not self.uses_sasl and value:
                found.append(
                    f"{setting} is set but kafka_security_protocol={self.protocol} does not authenticate with SASL: "
                    f"use {' or '.join(SASL_PROTOCOLS)}"
                )
        tls = (
            ("kafka_ssl_ca_file", self.ca_file),
            ("kafka_ssl_cert_file", self.cert_file),
            ("kafka_ssl_key_file", self.key_file),
            ("kafka_ssl_key_password", self.key_password),
        )
        for setting, given in tls:
            if not self.uses_tls and given:
                found.append(
                    f"{setting} is set but kafka_security_protocol={self.protocol} does not use TLS: "
                    f"use {' or '.join(TLS_PROTOCOLS)}"
                )
        if self.uses_tls and self.cert_file is None and (self.key_file is not None or self.key_password):
            found.append("kafka_ssl_key_file and kafka_ssl_key_password need kafka_ssl_cert_file")
        return found


PLAINTEXT = KafkaSecurity()
