"""Slices in SQL: the slice key of a row and the filter on it, from a request's `by=` and `<dimension>=` values.

A row belongs to a lead (a column holding its id); the lead's value of dimension D is its person's, in
kpi_lead_values ('' when it has none: the "none" slice). `Scope.key(lead)` is the SQL of the row's slice
(NULL when there is no `by`: one answer), `Scope.where(lead)` the SQL that keeps the rows the filters allow
("true" without filters). Both are correlated lookups by kpi_lead_values' key, one per row; a stay of a bounded
dimension reads its own copy instead (`stay=`), which the batches keep equal.
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

    def key(self, lead: str, stay: str | None = None) -> str:
        return "NULL::text" if self.by is None else _value(lead, stay, self.by, "scope_by")

    def where(self, lead: str, stay: str | None = None) -> str:
        parts = [
            f"{_value(lead, stay, dimension, f'scope_f{i}')} = ANY(:scope_v{i})"
            for i, (dimension, _) in enumerate(self.filters)
        ]
        return " AND ".join(parts) if parts else "true"

    def sql(self, template: str, lead: str, *, stay: str | None = None) -> TextClause:
        """`template` with `{key}` and `{where}` for rows whose lead id is the column `lead`. `stay`: the rows are
        stays (that alias), which carry their own copy of the bounded dimensions' values: only the summaries'
        reads pass it (they serve bounded dimensions only)."""
        return text(template.format(key=self.key(lead, stay), where=self.where(lead, stay)))

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, **self.params}


def _value(lead: str, stay: str | None, dimension: str, param: str) -> str:
    if stay is not None:  # kpi_stays.slices, kept equal to kpi_lead_values; names are the model's [a-z0-9_]
        return f"coalesce({stay}.slices->>'{dimension}', '')"
    return _VALUE.format(lead=lead, param=param)


WHOLE = Scope()
