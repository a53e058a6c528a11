"""The engine's fixtures: a real engine in-process on the test's own topics and schema, and a producer."""

from __future__ import annotations

from tests.integration.engine.conftest import engine_client, engine_settings, producer

__all__ = ["engine_client", "engine_settings", "producer"]
