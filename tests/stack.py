"""Helpers for tests that use the real stack: unique names, deadline polls, free ports."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
STACK = REPO / "deploy" / "local" / "stack.sh"
T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """Polls `check` until it returns something other than None/False, or fails naming `what`."""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = await check()
            if result is not None and result is not False:
                return result
        except Exception as exc:  # keep polling; report the last error at the deadline
            last_error = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within} s (last error: {last_error!r})")
