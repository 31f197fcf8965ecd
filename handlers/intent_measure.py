"""How well typed intents are read: right flow, wrong flow and asked, over a labelled corpus."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from handlers.intents import Reading, read


@dataclass
class Measure:
    right: int = 0
    wrong: int = 0
    asked: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (label, read as, message)

    @property
    def total(self) -> int:
        return self.right + self.wrong + self.asked

    def rate(self, count: int) -> float:
        return count / self.total if self.total else 0.0


def flow_of(reading: Reading) -> str:
    """The flow a reading goes to ("none": no flow; "?": a question comes back)."""
    if reading.flow is not None:
        return "relative" if reading.relative else reading.flow
    return "?" if reading.candidates else "none"


def measure(path: Path) -> Measure:
    result = Measure()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, message = line.split("\t", 1)
        got = flow_of(read(message))
        if got == label:
            result.right += 1
            continue
        if got in ("?", "none"):
            result.asked += 1
        else:
            result.wrong += 1
        result.misses.append((label, got, message))
    return result
