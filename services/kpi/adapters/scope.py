"""Slices in SQL: the slice key of a row and the filter on it, from a request's `by=` and `<dimension>=` values.

A row belongs to a lead (a column holding its id); the lead's value of dimension D is its person's, in
kpi_lead_values ('' when it has none: the "none" slice). `Scope.key(lead)` is the SQL of the row's slice
(NULL when there is no `by`: one answer), `Scope.where(lead)` the SQL that keeps the rows the filters allow
("true" without filters). Both are correlated lookups by kpi_lead_values' key, one per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, text

_VALUE = "coalesce((SELECT sv.value FROM kpi_lead_values sv WHERE sv.lead_id = {lead} AND sv.dimension = :{param}), '')"


@dataclass(frozen=True, slots=True)
class Scope:
    by: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (dimension, allowed values; '' = none)
    params: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.params["scope_by"] = self.by
        for i, (dimension, values) in enumerate(self.filters):
            self.params[f"scope_f{i}"] = dimension
            self.params[f"scope_v{i}"] = list(values)

    @property
    def sliced(self) -> bool:
        return self.by is not None

    @property
    def whole(self) -> bool:
        """No slicing and no filter: the unsliced queries (and summaries) answer as they are."""
        return self.by is None and not self.filters

    def unsliced(self) -> Scope:
        """The same filters, no `by`: the answer's `all`."""
        return Scope(None, self.filters)

    def key(self, lead: str) -> str:
        return "NULL::text" if self.by is None else _VALUE.format(lead=lead, param="scope_by")

    def where(self, lead: str) -> str:
        parts = [
            f"{_VALUE.format(lead=lead, param=f'scope_f{i}')} = ANY(:scope_v{i})" for i in range(len(self.filters))
        ]
        return " AND ".join(parts) if parts else "true"

    def sql(self, template: str, lead: str, **more: str) -> TextClause:
        """`template` with `{key}` and `{where}` for rows whose lead id is the column `lead`."""
        return text(template.format(key=self.key(lead), where=self.where(lead), **more))

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, **self.params}


WHOLE = Scope()
