"""`stagetrack privacy rewrite-topic --to TOPIC`: the Kafka side of the data stored before sealing. The events topic
is copied into a new topic with every record the ingest wrote before it sealed personal fields sealed now, exactly
as the door seals them (the email's hash, the person's data key found or created by their identities); records
already sealed, and records that are no envelope, are copied byte for byte. Keys, partitions, order and timestamps
are kept, so a replay of the copy is a replay of the original. Resumable (adapters/topic_copy.py). Switching the
engine to the copy is an operator's step (docs/privacy.md "Data stored before")."""

from __future__ import annotations

from aiokafka import ConsumerRecord

from services.common.envelope import EnvelopeError, Event, decode, encode
from services.ingest.adapters.topic_copy import Record, TopicCopy
from services.ingest.app.sealer import Sealer


async def rewrite(copy: TopicCopy, sealer: Sealer) -> int:
    """Records written to the target by this run."""
    written = 0
    for partition in await copy.start():
        async for records in copy.remaining(partition):
            await copy.write(partition, await _sealed(records, sealer))
            written += len(records)
    return written


async def _sealed(records: list[ConsumerRecord], sealer: Sealer) -> list[Record]:
    """The records with each unsealed envelope sealed; everything else as it was, byte for byte."""
    unsealed: dict[int, Event] = {}
    for n, record in enumerate(records):
        try:
            event = decode(record.value or b"")
        except EnvelopeError:
            continue
        if event.sealed is None and event.email_hash is None:
            unsealed[n] = event
    done = dict(zip(unsealed, await sealer.seal(list(unsealed.values())), strict=True))
    return [
        (r.key, encode(done[n]) if n in done and done[n] is not unsealed[n] else r.value, r.timestamp, r.headers or ())
        for n, r in enumerate(records)
    ]
