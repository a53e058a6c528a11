"""A request's slicing (`by=<dimension>`, `<dimension>=<value>` filters) and the answer's shape. Pure.

- No `by`: today's answer, over the leads the filters allow (`filters` echoed when there are any).
- `by=D`: `all` (exactly the answer without `by`, same filters) and `slices`, one per value of D among the
  leads allowed, each with the same fields, in value order, the slice of leads without a value (`value`
  null) last. A filter's empty value (`source=`) asks for the leads without one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.common.stage_model.model_types import StageModel

Slice = str | None
Body = dict[str, Any]


class SlicingError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Slicing:
    by: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (dimension, values) in the model's order

    @property
    def dimensions(self) -> set[str]:
        return ({self.by} if self.by else set()) | {d for d, _ in self.filters}


def parse_slicing(model: StageModel, by: str | None, query: Callable[[str], Sequence[str]]) -> Slicing:
    """`query(name)` gives the values of a query parameter. A `by` the model does not declare is refused."""
    names = [d.name for d in model.dimensions]
    if by is not None and by not in names:
        known = ", ".join(names) or "none declared"
        raise SlicingError("by", f"{by!r} is not a dimension of the model (dimensions: {known})")
    filters = tuple((name, tuple(sorted(set(values)))) for name in names if (values := query(name)))
    return Slicing(by, filters)


def answer(
    header: Mapping[str, Any], slicing: Slicing, whole: Body, slices: Mapping[Slice, Body] | None
) -> dict[str, Any]:
    echoed = {"filters": {d: list(values) for d, values in slicing.filters}} if slicing.filters else {}
    if slicing.by is None or slices is None:
        return {**header, **echoed, **whole}
    ordered = sorted(slices.items(), key=lambda kv: (kv[0] in (None, ""), kv[0] or ""))
    return {
        **header,
        "by": slicing.by,
        **echoed,
        "all": whole,
        "slices": [{"value": value or None, **body} for value, body in ordered],
    }
