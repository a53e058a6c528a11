"""Kafka's security settings turned into aiokafka's arguments (the same for every client), the combinations that
would promise more than the connection gives refused at start naming the setting, and the replication the topics
get from the settings and the cluster's size."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.kafka import security_options
from services.common.kafka_replication import Replication, planned, shortfalls
from services.common.settings import ServiceSettings


@pytest.fixture(autouse=True)
def _no_kafka_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("STAGETRACK_KAFKA_", "STAGETRACK_TOPIC_"))]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, and a client certificate it signed whose key is encrypted with the passphrase `secret`."""
    folder = tmp_path_factory.mktemp("kafka-tls")
    files = {name: folder / name for name in ("ca.crt", "ca.key", "client.crt", "client.key", "client.csr")}

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    openssl("req", "-x509", *ec, "-nodes", "-keyout", files["ca.key"], "-out", files["ca.crt"], "-days", "1",
            "-subj", "/CN=test ca")  # fmt: skip
    openssl("req", "-new", *ec, "-passout", "pass:secret", "-keyout", files["client.key"], "-out", files["client.csr"],
            "-subj", "/CN=stagetrack")  # fmt: skip
    openssl("x509", "-req", "-in", files["client.csr"], "-CA", files["ca.crt"], "-CAkey", files["ca.key"],
            "-CAcreateserial", "-out", files["client.crt"], "-days", "1")  # fmt: skip
    return files


def test_plaintext_is_the_default_and_adds_no_argument() -> None:
    settings = ServiceSettings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert security_options(settings.kafka_security) == {}  # the clients are built exactly as before


def test_sasl_ssl_with_scram_and_a_client_certificate(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, Path]
) -> None:
    for name, value in {
        "SECURITY_PROTOCOL": "SASL_SSL",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "stagetrack",
        "SASL_PASSWORD": "pw",
        "SSL_CA_FILE": str(tls_files["ca.crt"]),
        "SSL_CERT_FILE": str(tls_files["client.crt"]),
        "SSL_KEY_FILE": str(tls_files["client.key"]),
        "SSL_KEY_PASSWORD": "secret",
    }.items():
        monkeypatch.setenv(f"STAGETRACK_KAFKA_{name}", value)
    options = security_options(ServiceSettings().kafka_security)
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "stagetrack",
        "sasl_plain_password": "pw",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test ca"),),)]


def test_ssl_without_a_ca_file_trusts_the_systems_store() -> None:
    options = security_options(ServiceSettings(kafka_security_protocol="SSL").kafka_security)
    assert options.keys() == {"security_protocol", "ssl_context"}
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_an_encrypted_key_without_its_passphrase_fails_instead_of_prompting(tls_files: dict[str, Path]) -> None:
    settings = ServiceSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=tls_files["client.crt"],
        kafka_ssl_key_file=tls_files["client.key"],
    )
    with pytest.raises(ssl.SSLError):
        security_options(settings.kafka_security)


def test_the_passwords_stay_out_of_reprs_and_errors() -> None:
    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="u",
        kafka_sasl_password="hunter2",
    )
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(settings.kafka_security)
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(kafka_security_protocol="SSL", kafka_sasl_password="hunter2")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "SASL_SSL needs kafka_sasl_mechanism"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"}, "needs kafka_sasl_username"),
        ({"kafka_security_protocol": "SSL", "kafka_sasl_username": "u"}, "kafka_sasl_username is set but"),
        ({"kafka_sasl_mechanism": "SCRAM-SHA-256"}, "PLAINTEXT does not authenticate with SASL"),
        ({"kafka_ssl_key_password": "k"}, "kafka_ssl_key_password is set but kafka_security_protocol=PLAINTEXT"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "k"}, "need kafka_ssl_cert_file"),
        ({"topic_replication_factor": 2, "topic_min_insync_replicas": 3}, "is more than topic_replication_factor"),
        ({"topic_replication_factor": 0}, "topic_replication_factor"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_contradictory_settings_are_refused_naming_the_setting(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        ServiceSettings(**settings)  # type: ignore[arg-type]


def test_a_ca_file_on_a_plaintext_protocol_is_refused(tls_files: dict[str, Path]) -> None:
    with pytest.raises(ValidationError, match="kafka_ssl_ca_file is set but kafka_security_protocol=SASL_PLAINTEXT"):
        ServiceSettings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-256",
            kafka_sasl_username="u",
            kafka_sasl_password="p",
            kafka_ssl_ca_file=tls_files["ca.crt"],
        )


@pytest.mark.parametrize(
    ("brokers", "factor", "insync", "expected", "warned"),
    [
        (3, None, None, Replication(3, 2), []),
        (5, None, None, Replication(3, 2), []),
        (2, None, None, Replication(2, 1), ["replication factor 2 (2 broker(s))"]),
        (1, None, None, Replication(1, 1), ["replication factor 1 (1 broker(s))"]),
        (5, 5, None, Replication(5, 2), []),
        (3, 3, 1, Replication(3, 1), ["topic_min_insync_replicas=1"]),
        (3, 3, 3, Replication(3, 3), ["one broker down refuses every write"]),
    ],
)
def test_the_replication_of_new_topics(
    brokers: int, factor: int | None, insync: int | None, expected: Replication, warned: list[str]
) -> None:
    chosen, warnings = planned(brokers, factor, insync)
    assert chosen == expected
    assert len(warnings) == len(warned) and all(w in text for w, text in zip(warned, warnings, strict=True))


def test_a_replication_the_cluster_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="topic_replication_factor=3 but the cluster has 1 broker"):
        planned(1, 3, None)
    with pytest.raises(ValueError, match="topic_min_insync_replicas=3 is more than the replication factor 2"):
        planned(2, None, 3)


def test_existing_topics_that_fall_short_are_named_with_the_remedy() -> None:
    existing = {"t.events": Replication(1, 1), "t.lead-events": Replication(3, 1), "t.dead-letter": Replication(3, 2)}
    found = shortfalls(existing, Replication(3, 2))
    assert len(found) == 3
    assert found[0].startswith("topic t.events has replication factor 1, less than 3")
    assert "topic t.events has min.insync.replicas=1, less than 2" in found[1]
    assert "--entity-name t.lead-events --add-config min.insync.replicas=2" in found[2]
    assert shortfalls(existing, Replication(1, 1)) == []
