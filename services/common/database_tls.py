"""PostgreSQL TLS as libpq names it (sslmode, root certificate, client certificate and key), turned into the
`ssl` argument of asyncpg's connect. Standard library only: the settings build it, db.py hands it to asyncpg."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
# The modes where TLS is mandatory and the context is ours; the others are asyncpg's (and libpq's) fallbacks.
MANDATORY: tuple[SslMode, ...] = ("require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class DatabaseTls:
    mode: SslMode = "prefer"
    ca_file: Path | None = None  # the root certificate(s) the server's chain must lead to
    cert_file: Path | None = None  # a client certificate, for `hostssl ... cert` authentication
    key_file: Path | None = None  # its private key (None: in cert_file)

    def problems(self) -> list[str]:
        """Settings that would promise more than the connection gives, one sentence each (named as settings)."""
        found = []
        if self.mode not in MANDATORY:
            for setting, value in (("database_ssl_ca_file", self.ca_file), ("database_ssl_cert_file", self.cert_file)):
                if value is not None:
                    found.append(
                        f"{setting} is set but database_sslmode={self.mode} may connect without TLS and verifies "
                        f"nothing: use {', '.join(MANDATORY)}"
                    )
        if self.key_file is not None and self.cert_file is None:
            found.append("database_ssl_key_file is set without database_ssl_cert_file")
        return found

    def ssl_argument(self) -> ssl.SSLContext | str:
        """asyncpg's `ssl`. disable, allow and prefer go by name: asyncpg tries TLS or not and falls back as
        libpq does, verifying nothing. The mandatory modes get a context of ours, TLS 1.2 or newer:
        verify-full checks the chain and the host name, verify-ca the chain only (against the CA file, else the
        system's trust store), require nothing, unless a CA file is given, which makes it verify-ca (as libpq)."""
        if self.mode not in MANDATORY:
            return self.mode
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.mode == "verify-full"
        if self.mode == "require" and self.ca_file is None:
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_file is not None:
            context.load_verify_locations(cafile=self.ca_file)
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, keyfile=self.key_file)
        return context
