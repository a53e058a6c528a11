"""How one consumed batch tells the next when it may append: two batches overlap, never their commits.

Batch N+1 runs in a transaction of its own (another connection) while batch N appends and commits: it
claims its ids, resolves identities, locks and loads its leads (waiting in PostgreSQL for those N holds),
decides and writes identities and snapshots. Then it waits here until N committed before it takes the append
lock and stores its offsets, so positions and offsets still follow the log: no batch commits before the one
in front of it. N+1 starts only once N is appending (N then needs nothing N+1 could hold), and if an attempt
of N rolls back, N+1 rolls back too (N's retry may need the locks N+1 holds) and retries after N committed.

N's outcome is handed over with it: N+1 takes the leads N changed and the identities N created from it (they
are not visible to N+1's transaction before N commits; N+1 would otherwise create those leads again). It
appends only if the attempt of N that committed is the one whose outcome it used. The leads N changed are
locked by N+1 when it upserts their snapshots (after N's commit); a change by another engine in between
fails N+1's append on the (lead, version) key and the batch is retried.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.stage_engine.domain.batch import BatchOutcome


class PredecessorRolledBack(Exception):
    """The batch in front rolled back an attempt: this one rolls back too and retries once it committed."""


class Handoff:
    def __init__(self) -> None:
        self.appending = asyncio.Event()  # set once this batch's writes before the append are done
        self.rolled_back = asyncio.Event()  # set when an attempt of this batch rolled back (stays set)
        self.outcome: BatchOutcome | None = None  # of the current attempt, set before `appending`
        self.committed: asyncio.Future[BatchOutcome | None] = asyncio.get_running_loop().create_future()

    def commit_done(self) -> None:
        if not self.committed.done():
            self.committed.set_result(self.outcome)

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
