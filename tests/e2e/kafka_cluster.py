"""A three-broker Kafka cluster of a test's own (deploy/local/kafka-cluster.sh: KRaft, SASL_SSL with SCRAM, client
certificates required), its certificates made here with openssl, and the services' settings that reach it."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from services.common.settings import ServiceSettings
from tests.stack import REPO, free_port

SCRIPT = REPO / "deploy" / "local" / "kafka-cluster.sh"
ACTIVE = re.compile(r"\[QuorumController id=(\d+)\] Becoming the active controller at epoch (\d+)")
USER = "stagetrack"


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def _signed(folder: Path, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (folder / f"{name}.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", key)  # PKCS#8
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", subject)
    ext.write_text(extensions + "\n")
    _openssl("x509", "-req", "-in", csr, "-CA", folder / "ca.crt", "-CAkey", folder / "ca.key", "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", ext)  # fmt: skip
    return key, cert


def certificates(folder: Path) -> None:
    """ca.crt, broker.pem (the brokers' key and certificate, for 127.0.0.1, used to serve and to connect to each
    other), client.crt and client.key (the services')."""
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", folder / "ca.key")
    _openssl("req", "-x509", "-new", "-key", folder / "ca.key", "-out", folder / "ca.crt", "-days", "2",
             "-subj", "/CN=stagetrack-test-kafka-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    broker_extensions = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth"
    key, cert = _signed(folder, "broker", "/CN=localhost", broker_extensions)
    (folder / "broker.pem").write_bytes(key.read_bytes() + cert.read_bytes())
    _signed(folder, "client", f"/CN={USER}", "extendedKeyUsage=clientAuth")


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@dataclass
class Cluster:
    root: Path
    ports: list[int]
    env: dict[str, str]  # kafka-cluster.sh's
    password: str
    started_in: float = 0.0  # seconds `start` took

    @classmethod
    def create(cls, root: Path) -> Cluster:
        tls = root / "tls"
        tls.mkdir(parents=True)
        certificates(tls)
        ports = _distinct_free_ports(6)
        password = secrets.token_urlsafe(16)
        env = {
            **os.environ,
            "STAGETRACK_KAFKA_CLUSTER_DIR": str(root / "cluster"),
            "STAGETRACK_KAFKA_CLUSTER_PORTS": ",".join(map(str, ports[:3])),
            "STAGETRACK_KAFKA_CLUSTER_CONTROLLER_PORTS": ",".join(map(str, ports[3:])),
            "STAGETRACK_KAFKA_CLUSTER_TLS_DIR": str(tls),
            "STAGETRACK_KAFKA_CLUSTER_BROKER_PASSWORD": secrets.token_urlsafe(16),
            "STAGETRACK_KAFKA_CLUSTER_USER": USER,
            "STAGETRACK_KAFKA_CLUSTER_PASSWORD": password,
        }
        return cls(root, ports[:3], env, password)

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"kafka-cluster.sh {' '.join(args)}: {done.stderr}"
        return done.stderr

    def kill(self, node: int) -> float:
        """SIGKILL broker `node` (1-3); returns when it is gone, with the monotonic time it was killed."""
        killed = time.monotonic()
        self.run("kill", str(node))
        return killed

    def active_controller(self) -> int | None:
        """The node that last became the active controller (the highest epoch), from the brokers' logs."""
        found = []
        for log in sorted((self.root / "cluster").glob("node-*/kafka.log")):
            found += [(int(m[2]), int(m[1])) for m in ACTIVE.finditer(log.read_text(errors="replace"))]
        return max(found)[1] if found else None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def service_env(self, mechanism: str = "SCRAM-SHA-256") -> dict[str, str]:
        """The STAGETRACK_ settings that reach this cluster: SASL_SSL, SCRAM, the CA and the client certificate."""
        tls = Path(self.env["STAGETRACK_KAFKA_CLUSTER_TLS_DIR"])
        return {
            "STAGETRACK_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "STAGETRACK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "STAGETRACK_KAFKA_SASL_MECHANISM": mechanism,
            "STAGETRACK_KAFKA_SASL_USERNAME": USER,
            "STAGETRACK_KAFKA_SASL_PASSWORD": self.password,
            "STAGETRACK_KAFKA_SSL_CA_FILE": str(tls / "ca.crt"),
            "STAGETRACK_KAFKA_SSL_CERT_FILE": str(tls / "client.crt"),
            "STAGETRACK_KAFKA_SSL_KEY_FILE": str(tls / "client.key"),
        }

    def settings(self, base: ServiceSettings, **overrides: object) -> ServiceSettings:
        """`base` (the test's schema and topics) aimed at this cluster."""
        fields = {name.removeprefix("STAGETRACK_").lower(): value for name, value in self.service_env().items()}
        return ServiceSettings(**{**base.model_dump(), **fields, **overrides})
