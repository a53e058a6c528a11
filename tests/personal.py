"""Personal-data secrets of a deployment's own, for tests that start a service in production."""

from __future__ import annotations

import base64

from pydantic import SecretStr

OWN_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
PRODUCTION_PERSONAL = {
    "identity_hash_key": SecretStr("k3y-of-this-deployment-0f1e2d3c4b5a"),
    "master_keys": {"2026-12": SecretStr(OWN_MASTER_KEY)},
    "master_key_id": "2026-12",
}
PRODUCTION_PERSONAL_ENV = {
    "STAGETRACK_IDENTITY_HASH_KEY": "k3y-of-this-deployment-0f1e2d3c4b5a",
    "STAGETRACK_MASTER_KEYS": f'{{"2026-12": "{OWN_MASTER_KEY}"}}',
    "STAGETRACK_MASTER_KEY_ID": "2026-12",
}
