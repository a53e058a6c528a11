"""How many copies of each record the topics keep: the replication factor and `min.insync.replicas` that
`stagetrack migrate` creates topics with, chosen from the settings and the cluster's size, and the existing topics
that fall short of them. Pure: `services.common.kafka` asks the cluster and creates the topics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SAFE_FACTOR = 3  # one broker may fail, or be restarted, while acks=all still means two copies
SAFE_MIN_INSYNC = 2


@dataclass(frozen=True)
class Replication:
    factor: int  # copies of each partition
    min_insync: int  # copies an acks=all write waits for; fewer in sync and producers are refused


def planned(brokers: int, factor: int | None, min_insync: int | None) -> tuple[Replication, list[str]]:
    """The replication for new topics and warnings, one sentence each. Unset factor: 3, or every broker of a
    smaller cluster; unset min.insync.replicas: 2, or 1 under a factor of 3 (so one broker down still takes
    writes). Raises ValueError for what the cluster cannot hold or a setting that refuses every write."""
    chosen = factor if factor is not None else min(SAFE_FACTOR, brokers)
    if chosen > brokers:
        raise ValueError(f"topic_replication_factor={chosen} but the cluster has {brokers} broker(s)")
    insync = min_insync if min_insync is not None else min(SAFE_MIN_INSYNC, max(1, chosen - 1))
    if insync > chosen:
        raise ValueError(
            f"topic_min_insync_replicas={insync} is more than the replication factor {chosen}: every write refused"
        )
    warnings = []
    if chosen < SAFE_FACTOR:
        warnings.append(
            f"topics get replication factor {chosen} ({brokers} broker(s)): an acknowledged event is kept on "
            f"{chosen} broker(s) only; production wants {SAFE_FACTOR} brokers or more"
        )
    elif insync < SAFE_MIN_INSYNC:
        warnings.append(
            f"topic_min_insync_replicas={insync}: an acknowledged event may be on one broker only until the others "
            "catch up"
        )
    if insync == chosen and chosen > 1:
        warnings.append(
            f"min.insync.replicas equals the replication factor ({chosen}): one broker down refuses every write "
            "(the ingest answers 503)"
        )
    return Replication(chosen, insync), warnings


def shortfalls(existing: Mapping[str, Replication], wanted: Replication) -> list[str]:
    """Existing topics with fewer copies, or a lower min.insync.replicas, than new topics get; one sentence each
    with the tool that raises it (migrate changes no existing topic)."""
    found = []
    for topic, has in sorted(existing.items()):
        if has.factor < wanted.factor:
            found.append(
                f"topic {topic} has replication factor {has.factor}, less than {wanted.factor}: raise it with "
                "kafka-reassign-partitions"
            )
        if has.min_insync < wanted.min_insync:
            found.append(
                f"topic {topic} has min.insync.replicas={has.min_insync}, less than {wanted.min_insync}: "
                f"kafka-configs --alter --entity-type topics --entity-name {topic} "
                f"--add-config min.insync.replicas={wanted.min_insync}"
            )
    return found
