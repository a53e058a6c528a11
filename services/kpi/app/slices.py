"""One answer's two passes, `all` and the slices, in one snapshot (so the slices always sum to `all`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kpi.adapters.scope import Scope
from services.kpi.adapters.snapshot import snapshot
from services.kpi.domain.slicing import Body, Slice, Slicing

Build = Callable[[AsyncConnection, Scope], Awaitable[dict[Slice, Body]]]


def scope_of(slicing: Slicing) -> Scope:
    return Scope(slicing.by, slicing.filters)


async def sliced(engine: AsyncEngine, slicing: Slicing, build: Build) -> tuple[Body, dict[Slice, Body] | None]:
    """(the answer over the leads the filters allow, the same per value of `by`; None without `by`)."""
    scope = scope_of(slicing)
    async with snapshot(engine) as conn:
        whole = (await build(conn, scope.unsliced()))[None]
        parts = await build(conn, scope) if scope.sliced else None
    return whole, parts


def keys(*found: dict[Slice, Any]) -> set[Slice]:
    """Every slice any of the queries found (the whole answer: None, always one)."""
    return set().union(*(f.keys() for f in found))


def whole(scope: Scope) -> set[Slice]:
    """The one key an answer without `by` always has (even with nothing to count)."""
    return set() if scope.sliced else {None}
