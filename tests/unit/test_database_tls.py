"""The PostgreSQL TLS settings: libpq's sslmode turned into asyncpg's `ssl` argument, and the combinations that
would promise more than the connection gives refused at start, naming the setting."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.db import connect_args
from services.common.settings import ServiceSettings


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ca")
    cert, key = folder / "ca.crt", folder / "ca.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=test ca"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert


def test_the_default_is_asyncpgs_own_prefer() -> None:
    assert ServiceSettings().database_tls.ssl_argument() == "prefer"
    assert connect_args(tls=ServiceSettings(database_sslmode="disable").database_tls) == {"ssl": "disable"}


def _context(**settings: object) -> ssl.SSLContext:
    argument = ServiceSettings(**settings).database_tls.ssl_argument()  # type: ignore[arg-type]
    assert isinstance(argument, ssl.SSLContext)
    assert argument.minimum_version == ssl.TLSVersion.TLSv1_2
    return argument


def test_the_mandatory_modes_verify_what_libpq_verifies(ca_file: Path) -> None:
    require = _context(database_sslmode="require")
    assert require.verify_mode == ssl.CERT_NONE and not require.check_hostname
    require_with_ca = _context(database_sslmode="require", database_ssl_ca_file=ca_file)  # libpq: as verify-ca
    assert require_with_ca.verify_mode == ssl.CERT_REQUIRED and not require_with_ca.check_hostname
    verify_ca = _context(database_sslmode="verify-ca", database_ssl_ca_file=ca_file)
    assert verify_ca.verify_mode == ssl.CERT_REQUIRED and not verify_ca.check_hostname
    verify_full = _context(database_sslmode="verify-full", database_ssl_ca_file=ca_file)
    assert verify_full.verify_mode == ssl.CERT_REQUIRED and verify_full.check_hostname
    assert [c["subject"] for c in verify_full.get_ca_certs()] == [((("commonName", "test ca"),),)]


def test_without_a_ca_file_the_systems_trust_store_is_used() -> None:
    context = _context(database_sslmode="verify-full")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, ca_file: Path) -> None:
    monkeypatch.setenv("STAGETRACK_DATABASE_SSLMODE", "verify-full")
    monkeypatch.setenv("STAGETRACK_DATABASE_SSL_CA_FILE", str(ca_file))
    tls = ServiceSettings().database_tls
    assert (tls.mode, tls.ca_file) == ("verify-full", ca_file)


@pytest.mark.parametrize(
    "settings,named",
    [
        ({"database_sslmode": "prefer", "database_ssl_ca_file": "CA"}, "database_ssl_ca_file is set but"),
        ({"database_sslmode": "allow", "database_ssl_cert_file": "CA"}, "database_ssl_cert_file is set but"),
        ({"database_sslmode": "verify-full", "database_ssl_key_file": "CA"}, "database_ssl_key_file is set without"),
        ({"database_sslmode": "verify-full", "database_ssl_ca_file": "/nowhere/ca.crt"}, "database_ssl_ca_file"),
        ({"database_sslmode": "verify_full"}, "database_sslmode"),
    ],
)
def test_settings_that_promise_more_than_they_give_are_refused(
    settings: dict[str, str], named: str, ca_file: Path
) -> None:
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(**{k: str(ca_file) if v == "CA" else v for k, v in settings.items()})  # type: ignore[arg-type]
    assert named in str(refused.value)
