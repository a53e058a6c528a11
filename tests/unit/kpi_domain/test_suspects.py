"""Bisection by position (domain/suspects.py), driven the way the projector drives it: whatever records fail,
each one is set aside and every other record is committed exactly once, in order, in few transactions."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from services.kpi.domain.suspects import Suspect, Suspects


def project_all(positions: list[int], bad: set[int], heads: set[int], batch: int) -> tuple[list[int], list[int], int]:
    """The projector's loop over an in-memory store: a transaction fails when it reads a bad record. Returns
    the committed positions (in commit order), the set-aside ones and the number of transactions."""
    committed: list[int] = []
    aside: list[int] = []
    checkpoint, suspects, transactions = 0, None, 0

    def read(upto: int | None) -> list[int]:
        after = [p for p in positions if p > checkpoint and (upto is None or p <= upto)]
        part = after[:batch]
        while len(part) == batch and part[-1] in heads and len(after) > len(part):  # a merge's halves together
            part = after[: len(part) + 1]
        return part

    while True:
        part = read(None if suspects is None else suspects.probe())
        transactions += 1
        if not part:
            return committed, aside, transactions
        if bad & set(part):
            if len(part) == 1:
                aside.append(part[0])
                checkpoint, suspects = part[0], None
                transactions += 1
            else:
                suspects = Suspects.of([Suspect(p, p in heads) for p in part])
            continue
        committed += part
        checkpoint = part[-1]
        if suspects is not None:
            suspects = suspects.after_commit(checkpoint)


@given(
    st.integers(1, 300).flatmap(
        lambda n: st.tuples(
            st.just(n), st.sets(st.integers(1, n), max_size=5), st.sets(st.integers(1, n)), st.integers(1, 400)
        )
    )
)
def test_every_failing_record_is_set_aside_and_every_other_committed_once(
    case: tuple[int, set[int], set[int], int],
) -> None:
    n, bad, heads, batch = case
    positions = [p * 3 for p in range(1, n + 1)]  # gaps between positions (rolled-back appends) change nothing
    bad, heads = {p * 3 for p in bad}, {p * 3 for p in heads}
    committed, aside, transactions = project_all(positions, bad, heads, batch)
    assert aside == sorted(bad)
    assert committed == [p for p in positions if p not in bad]  # each once, in order
    batches = math.ceil(n / batch) + 1
    assert transactions <= batches + len(bad) * (2 * math.ceil(math.log2(min(n, batch) + 1)) + 4)


def test_a_part_never_ends_between_a_merges_halves_unless_they_are_all_that_is_left() -> None:
    suspects = Suspects.of([Suspect(1, False), Suspect(2, True), Suspect(3, False), Suspect(4, False)])
    assert suspects.probe() == 1  # not 2: 2 and 3 are a merge's halves
    rest = suspects.after_commit(1)
    assert rest is not None and rest.probe() == 3  # [2, 3] then [4]
    pair = Suspects.of([Suspect(2, True), Suspect(3, False)])
    assert pair.probe() == 2  # the pair alone: split to find which half fails
    assert Suspects.of([Suspect(9, False)]).single and Suspects.of([Suspect(9, False)]).probe() == 9
    assert pair.after_commit(3) is None
