"""AES-GCM (the `cryptography` package) for two things: a person's personal fields under their data key, and a
data key under a master key. Nothing here is hand-written cryptography: a random 96-bit nonce per message, the
associated data binds each ciphertext to what it belongs to (the event id; the data key's id)."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
DATA_KEY_BYTES = 32


class Unreadable(Exception):
    """A ciphertext whose key is gone (erased) or that does not open under it."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)


def seal_values(data_key: bytes, event_id: str, values: list[object]) -> str:
    nonce = os.urandom(NONCE_BYTES)
    box = AESGCM(data_key).encrypt(nonce, orjson.dumps(values), event_id.encode())
    return base64.b64encode(nonce + box).decode()


def open_values(data_key: bytes, event_id: str, box: str) -> list[object]:
    try:
        raw = base64.b64decode(box)
        values = orjson.loads(AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], event_id.encode()))
    except (InvalidTag, ValueError, orjson.JSONDecodeError) as exc:
        raise Unreadable("the sealed fields do not open under their key") from exc
    if not isinstance(values, list):
        raise Unreadable("the sealed fields are not a list")
    return values


class MasterKeys:
    """The master keys from settings: `current` wraps every new data key; every listed key still unwraps what
    it wrapped, so a rotation adds a key, makes it current, re-wraps (`stagetrack keys rewrap`), then drops
    the old one (docs/privacy.md "Key management")."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current master key {current!r} is not among the master keys")
        for key_id, key in keys.items():
            if len(key) != DATA_KEY_BYTES:
                raise ValueError(f"master key {key_id!r} is {len(key)} bytes, not {DATA_KEY_BYTES}")
        self._keys = dict(keys)
        self.current = current

    def wrap(self, data_key_id: str, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self.current, nonce + AESGCM(self._keys[self.current]).encrypt(nonce, data_key, data_key_id.encode())

    def unwrap(self, master_id: str, data_key_id: str, wrapped: bytes) -> bytes:
        key = self._keys.get(master_id)
        if key is None:
            raise Unreadable(f"data key {data_key_id} is wrapped by master key {master_id!r}, which is not configured")
        try:
            return AESGCM(key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], data_key_id.encode())
        except InvalidTag as exc:
            raise Unreadable(f"data key {data_key_id} does not unwrap under master key {master_id!r}") from exc
