"""How one consumed batch tells the ones behind it when they may write: three batches overlap, never their writes.

Batch N+1 runs in a transaction of its own (another connection) while batches N and N-1 write and commit: it
claims its ids, resolves identities, locks and loads its leads (the ones N and N-1 did not change) and decides.
It starts once N has decided, and claims once N-2 committed (at most three transactions hold locks). It sends
its write at once; in PostgreSQL the write waits for the `token`s of N-1 and N (advisory locks their
transactions hold to their end) before it writes anything they may write too (identities, the snapshots of
their leads, the append and its offsets), and N+1 commits only once N committed (`wait_committed`), which N did
only once N-1 committed. So positions and offsets follow the log (no batch commits before the one in front of
it) and no batch waits for a lock a batch behind it holds. If an attempt of N (or N-1) rolls back, N+1 rolls
back too (the retry may need the leads N+1 locked) and retries after N committed.

The outcomes of the batches in front are handed over with them: N+1 takes the leads N and N-1 changed and the
identities they created from them (they are not visible to N+1's transaction before those commit; N+1 would
otherwise create those leads again), and the leads they locked without changing them (locking them again
would wait for their commit), N's state first. It writes only if the attempt of N that committed is the one
whose outcome it used. A change by another engine to one of those leads after they committed fails N+1's
append on the (lead, version) key; the batch is retried, taking every lead from the store. A lead N+1 takes
from a batch in front and does not change is passed on to nobody: the batch behind N+1 takes it from N if N
holds it, else locks it itself. A hand-over drops its link to the batch in front once its batch committed,
so at most three stay linked.

A batch the store refuses because of one of its events is taken apart and committed piece by piece, alone
(`app/processor.py`): it counts as rolled back, so N+1 waits until all of N's pieces committed and then goes
alone too. A batch that stops the loop (the set-aside brake) fails `committed`, and so every batch behind it.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from services.stage_engine.domain.batch import BatchOutcome
from services.stage_engine.domain.lead import Lead


def new_token() -> int:
    """A bigint advisory lock key of one attempt: random, so engines never share one."""
    return random.getrandbits(63)


class PredecessorRolledBack(Exception):
    """The batch in front rolled back an attempt: this one rolls back too and retries once it committed."""


class Handoff:
    def __init__(self, in_front: Handoff | None = None) -> None:
        # The batch in front, dropped once this one committed (so no chain of hand-overs outlives its batches).
        # The batch behind this one carries from both: at most three transactions hold locks (`claim_after`).
        self.front = in_front
        self.decided = asyncio.Event()  # set once this batch decided (its outcome is set); it then only writes
        self.rolled_back = asyncio.Event()  # set when an attempt of this batch rolled back (stays set)
        self.outcome: BatchOutcome | None = None  # of the current attempt, set before `decided`
        # The current attempt's token, an advisory lock its transaction holds from its claim to its end: the batch
        # behind waits for it in PostgreSQL before its append (`StoreTransaction.write`). Set before `decided`.
        self.token: int | None = None
        # The leads the current attempt locked or changed, in their state after it, set before `decided`.
        self.held: dict[str, Lead] = {}
        self.set_asides = 0  # events the current attempt sets aside (the batch behind counts them for the brake)
        # Once the batch is taken apart: how many of its records are committed (a retry goes on from there).
        self.alone_from: int | None = None
        self.committed: asyncio.Future[BatchOutcome | None] = asyncio.get_running_loop().create_future()

    def claim_after(self) -> asyncio.Future[BatchOutcome | None] | None:
        """For the batch behind this one: the commit it claims after, that of the batch two in front of this one
        (so at most three transactions hold locks, and it sees everything but the writes of the two in front)."""
        older = self.front
        oldest = older.front if older is not None else None
        return oldest.committed if oldest is not None else None

    def fronts(self) -> list[Handoff]:
        """For the batch behind this one, the batches it carries from, oldest first: the one in front of this one
        (while it has not committed) and this one."""
        older = self.front
        return [older, self] if older is not None and not older.committed.done() else [self]

    def commit_done(self) -> None:
        self.front = None
        if not self.committed.done():
            self.committed.set_result(self.outcome)

    def fail(self, exc: BaseException) -> None:
        """This batch will never commit (the loop stopped): the batches behind it raise `exc` too."""
        self.front = None
        if not self.committed.done():
            self.committed.set_exception(exc)
            self.committed.exception()  # retrieved here: no "never retrieved" warning when nothing is behind

    async def wait_committed(self, used: BatchOutcome | None) -> None:
        """For the batch behind, which used the outcome `used`: returns once this batch committed that outcome;
        raises PredecessorRolledBack if an attempt rolled back first or another attempt's outcome committed."""
        while not self.committed.done():
            if self.rolled_back.is_set():
                raise PredecessorRolledBack()
            rolled_back = asyncio.ensure_future(self.rolled_back.wait())
            either: list[asyncio.Future[Any]] = [self.committed, rolled_back]
            try:
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                rolled_back.cancel()
        if self.committed.result() is not used:
            raise PredecessorRolledBack()
