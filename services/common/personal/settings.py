"""The settings of personal data, for the services that seal it (the ingest) or erase and export it (the engine)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Self

from pydantic import Field, SecretStr, model_validator

from services.common.environment import is_development_secret
from services.common.personal.sealing import DATA_KEY_BYTES, MasterKeys
from services.common.settings import ServiceSettings

DEVELOPMENT_KEY = "stagetrack-local-development-only"
DEVELOPMENT_MASTER_ID = "development"
DEVELOPMENT_MASTER_KEY = base64.b64encode(hashlib.sha256(DEVELOPMENT_KEY.encode()).digest()).decode()


class PersonalDataSettings(ServiceSettings):
    # Key of the HMAC that turns an email into an identity; a production deployment must set its own, and keep it.
    identity_hash_key: SecretStr = SecretStr(DEVELOPMENT_KEY)
    # The master keys that wrap people's data keys, as a JSON object {"id": "32 bytes, base64"}; `master_key_id`
    # names the one that wraps new keys. Rotation: add a key, make it current, `stagetrack privacy rewrap`, then
    # drop the old one (docs/privacy.md "Key management").
    master_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {DEVELOPMENT_MASTER_ID: SecretStr(DEVELOPMENT_MASTER_KEY)}
    )
    master_key_id: str = DEVELOPMENT_MASTER_ID
    # How long a person's key, once found, is reused without a query (an erasure is seen within this time).
    person_key_cache_seconds: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _master_keys_usable(self) -> Self:
        """A key that is no 32 bytes of base64 is refused (naming it, never its value); a placeholder is left to
        `development_secrets`, which names every secret left unset at once."""
        if not any(is_development_secret(s.get_secret_value()) for s in self.master_keys.values()):
            _ = self.master
        return self

    @property
    def master(self) -> MasterKeys:
        keys: dict[str, bytes] = {}
        for key_id, secret in self.master_keys.items():
            if is_development_secret(secret.get_secret_value()):
                raise ValueError(f"STAGETRACK_MASTER_KEYS: key {key_id!r} is a placeholder")
            try:
                keys[key_id] = base64.b64decode(secret.get_secret_value(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"STAGETRACK_MASTER_KEYS: key {key_id!r} is not base64") from exc
            if len(keys[key_id]) != DATA_KEY_BYTES:
                raise ValueError(f"STAGETRACK_MASTER_KEYS: key {key_id!r} is not {DATA_KEY_BYTES} bytes")
        if self.master_key_id not in keys:
            raise ValueError(f"STAGETRACK_MASTER_KEY_ID {self.master_key_id!r} is not in STAGETRACK_MASTER_KEYS")
        return MasterKeys(keys, self.master_key_id)

    @property
    def hash_key(self) -> bytes:
        return self.identity_hash_key.get_secret_value().encode()

    def development_secrets(self) -> list[str]:
        found = super().development_secrets()
        if is_development_secret(self.identity_hash_key.get_secret_value(), DEVELOPMENT_KEY):
            found.append(
                "STAGETRACK_IDENTITY_HASH_KEY is the development key or a placeholder: set a secret of your own"
            )
        if any(is_development_secret(s.get_secret_value(), DEVELOPMENT_MASTER_KEY) for s in self.master_keys.values()):
            found.append(
                "STAGETRACK_MASTER_KEYS holds the development master key or a placeholder: set keys of your own"
            )
        return found
