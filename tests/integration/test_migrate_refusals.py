"""`stagetrack migrate` refuses a replication the cluster cannot give in one line, before creating anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.common.settings import ServiceSettings

STAGETRACK = Path(sys.executable).with_name("stagetrack")


def test_a_replication_factor_above_the_broker_count_is_one_line(settings: ServiceSettings) -> None:
    env = {**os.environ, "STAGETRACK_TOPIC_REPLICATION_FACTOR": "3"}
    result = subprocess.run([str(STAGETRACK), "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == "stagetrack migrate: topic_replication_factor=3 but the cluster has 1 broker(s)"
