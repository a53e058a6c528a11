"""Finding the one record that fails a projection batch: bisection by store position. Pure: no I/O.

A batch that fails because of a record (a data error, not a lost connection) holds at least one record the
projections refuse. `Suspects` are the positions of such a batch, all after the checkpoint. The projector
tries the first part on its own (one transaction, up to `probe()`): when it commits, the culprit is in the
rest; when it fails, in the part. Each step halves the suspects, until one record is left: that one is set
aside. Every other record is projected by exactly one of the committed parts.

A part never ends between the two halves of a merge (the survivor's LeadsMerged and the absorbed lead's,
which follows it) unless the pair is all that is left: readers never see the person twice, or nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Suspect:
    position: int
    merge_head: bool  # a survivor's LeadsMerged: the absorbed half comes next and belongs with it


@dataclass(frozen=True, slots=True)
class Suspects:
    """The positions of a failed attempt, in order; the checkpoint sits right before the first."""

    records: tuple[Suspect, ...]

    def __post_init__(self) -> None:
        if not self.records:
            raise ValueError("no suspects")

    @classmethod
    def of(cls, records: Sequence[Suspect]) -> Suspects:
        return cls(tuple(records))

    @property
    def single(self) -> bool:
        return len(self.records) == 1

    @property
    def first(self) -> int:
        return self.records[0].position

    def probe(self) -> int:
        """The last position of the part to try next: about half, never between a merge's halves when avoidable."""
        n = len(self.records)
        if n == 1:
            return self.records[0].position
        cuts = [k for k in range(1, n) if not self.records[k - 1].merge_head] or [n // 2]
        k = min(cuts, key=lambda k: (abs(2 * k - n), k))
        return self.records[k - 1].position

    def after_commit(self, upto: int) -> Suspects | None:
        """The part up to `upto` committed: the culprit is among the rest (None when nothing is left)."""
        rest = tuple(r for r in self.records if r.position > upto)
        return Suspects(rest) if rest else None
