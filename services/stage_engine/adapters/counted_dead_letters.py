"""The dead-letter sink of a replay: counts and keeps a few examples; nothing reaches the live dead-letter topic."""

from __future__ import annotations


class CountedDeadLetters:
    """Stands in for the dead-letter topic: a replay counts what would be dead-lettered and sends nothing."""

    def __init__(self, keep: int = 5) -> None:
        self.examples: list[str] = []
        self._keep = keep

    async def stop(self) -> None:
        pass

    async def send(
        self, value: bytes, key: bytes | None, reason: str, origin: tuple[str, int, int], event_id: str | None = None
    ) -> None:
        if len(self.examples) < self._keep:
            self.examples.append(f"  dead letter {origin[0]}/{origin[1]}/{origin[2]}: {reason}")
