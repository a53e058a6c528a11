"""PostgreSQL over TLS: a cluster of the test's own (deploy/local/postgres.sh with STAGETRACK_PG_TLS_DIR, its own
folder and port; the shared cluster is never touched), certificates made here with openssl, and the services'
database settings (STAGETRACK_DATABASE_SSLMODE and the files) proved against it: verify-full connects and
migrates, a name or a CA the server's certificate does not match is refused, the client certificate is what
authenticates, and `prefer` falls back to plain text without a word (why production sets verify-full)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.common import db
from services.common.database_tls import SslMode
from services.common.kafka import delete_topics
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.stack import REPO, free_port, unique

POSTGRES_SH = REPO / "deploy" / "local" / "postgres.sh"


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def _key(path: Path) -> Path:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", path)
    return path


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = _key(folder / f"{name}.key"), folder / f"{name}.crt"
    _openssl(
        "req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return key, cert


def _signed(folder: Path, name: str, subject: str, extensions: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    key, csr, cert, ext = _key(folder / f"{name}.key"), folder / f"{name}.csr", folder / f"{name}.crt", folder / name
    ext.write_text(extensions + "\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", subject)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial", "-out", cert,
        "-days", "2", "-extfile", ext,
    )  # fmt: skip
    return key, cert


@dataclass(frozen=True)
class TlsCluster:
    port: int
    ca: Path  # signed the server's certificate (for the name localhost only) and the client's
    other_ca: Path  # signed nothing of this cluster
    client_cert: Path  # CN=stagetrack: PostgreSQL's `cert` authentication takes the role from it
    client_key: Path

    def settings(self, host: str, mode: SslMode, ca: Path | None, client: bool = True) -> ServiceSettings:
        return ServiceSettings(
            database_url=f"postgresql+asyncpg://stagetrack@{host}:{self.port}/stagetrack",
            database_sslmode=mode,
            database_ssl_ca_file=ca,
            database_ssl_cert_file=self.client_cert if client else None,
            database_ssl_key_file=self.client_key if client else None,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    root = tmp_path_factory.mktemp("postgres-tls")
    certs, server = root / "certs", root / "server-tls"
    certs.mkdir()
    server.mkdir()
    ca, other_ca = _ca(certs, "stagetrack-test-ca"), _ca(certs, "another-ca")
    server_key, server_cert = _signed(
        certs, "server", "/CN=localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth", ca
    )
    client_key, client_cert = _signed(certs, "client", "/CN=stagetrack", "extendedKeyUsage=clientAuth", ca)
    for source, name in ((server_cert, "server.crt"), (server_key, "server.key"), (ca[1], "root.crt")):
        (server / name).write_bytes(source.read_bytes())
    port = free_port()
    env = {
        **os.environ,
        "STAGETRACK_LOCAL": str(root / "local"),
        "STAGETRACK_PG_PORT": str(port),
        "STAGETRACK_PG_TLS_DIR": str(server),
    }
    started = subprocess.run([str(POSTGRES_SH), "start"], env=env, capture_output=True, text=True, timeout=240)
    try:
        assert started.returncode == 0, started.stderr
        assert "with TLS" in started.stderr, started.stderr
        yield TlsCluster(port, ca[1], other_ca[1], client_cert, client_key)
    finally:
        subprocess.run([str(POSTGRES_SH), "stop"], env=env, capture_output=True, timeout=120)


async def _session(settings: ServiceSettings) -> dict[str, Any]:
    """What the server says of this connection: TLS or not, its version, the client certificate's subject."""
    engine = db.create_engine(settings.database_url, pool_size=1, tls=settings.database_tls)
    try:
        async with engine.connect() as conn:
            row = await conn.execute(
                text("SELECT ssl, version, client_dn, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
            return dict(row.mappings().one())
    finally:
        await engine.dispose()


async def _refusal(settings: ServiceSettings) -> str:
    with pytest.raises(Exception) as refused:  # asyncpg's, ssl's or SQLAlchemy's, as it comes
        await _session(settings)
    return str(refused.value)


async def test_verify_full_connects_over_tls_and_migrates(cluster: TlsCluster) -> None:
    settings = cluster.settings("localhost", "verify-full", cluster.ca)
    session = await _session(settings)
    assert session["ssl"] is True and session["version"] in ("TLSv1.2", "TLSv1.3"), session
    assert session["client_dn"] == "/CN=stagetrack" and session["current_user"] == "stagetrack", session
    schema = unique("tls")
    await upgrade(settings.database_url, schema, tls=settings.database_tls)
    engine = db.create_engine(settings.database_url, schema, pool_size=1, tls=settings.database_tls)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        await engine.dispose()


async def test_verify_full_refuses_a_name_the_certificate_does_not_carry(cluster: TlsCluster) -> None:
    refusal = await _refusal(cluster.settings("127.0.0.1", "verify-full", cluster.ca))
    assert "certificate is not valid for '127.0.0.1'" in refusal, refusal
    # verify-ca checks the chain only; require checks nothing (TLS without a CA file)
    assert (await _session(cluster.settings("127.0.0.1", "verify-ca", cluster.ca)))["ssl"] is True
    assert (await _session(cluster.settings("127.0.0.1", "require", None)))["ssl"] is True


async def test_a_server_certificate_from_another_ca_is_refused(cluster: TlsCluster) -> None:
    for mode in ("verify-ca", "verify-full"):
        assert "certificate verify failed" in await _refusal(cluster.settings("localhost", mode, cluster.other_ca))


async def test_the_client_certificate_authenticates(cluster: TlsCluster) -> None:
    refusal = await _refusal(cluster.settings("localhost", "verify-full", cluster.ca, client=False))
    assert "requires a valid client certificate" in refusal, refusal


async def test_prefer_falls_back_to_plain_text_when_tls_is_refused(cluster: TlsCluster) -> None:
    session = await _session(cluster.settings("localhost", "prefer", None, client=False))
    assert session["ssl"] is False, session


async def test_stagetrack_migrate_reads_the_tls_settings(cluster: TlsCluster, stack: None) -> None:
    """The command an operator runs, configured only by environment variables."""
    schema = unique("tls_cli")
    topics = [f"{schema}.events", f"{schema}.lead-events", f"{schema}.dead-letter"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGETRACK_")}
    env.update(
        STAGETRACK_DATABASE_URL=f"postgresql+asyncpg://stagetrack@localhost:{cluster.port}/stagetrack",
        STAGETRACK_DATABASE_SCHEMA=schema,
        STAGETRACK_DATABASE_SSLMODE="verify-full",
        STAGETRACK_DATABASE_SSL_CA_FILE=str(cluster.ca),
        STAGETRACK_DATABASE_SSL_CERT_FILE=str(cluster.client_cert),
        STAGETRACK_DATABASE_SSL_KEY_FILE=str(cluster.client_key),
        STAGETRACK_EVENTS_TOPIC=topics[0],
        STAGETRACK_LEAD_EVENTS_TOPIC=topics[1],
        STAGETRACK_DEAD_LETTER_TOPIC=topics[2],
        STAGETRACK_TOPIC_PARTITIONS="1",
    )
    stagetrack = str(REPO / ".venv" / "bin" / "stagetrack")
    try:
        done = subprocess.run([stagetrack, "migrate"], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0 and "database at head" in done.stdout, done.stderr[-3000:]
        wrong = {**env, "STAGETRACK_DATABASE_SSL_CA_FILE": str(cluster.other_ca)}
        refused = subprocess.run([stagetrack, "migrate"], env=wrong, capture_output=True, text=True, timeout=180)
        assert refused.returncode != 0 and "certificate verify failed" in refused.stderr, refused.stderr[-3000:]
    finally:
        await delete_topics(ServiceSettings().kafka_bootstrap_servers, topics)
