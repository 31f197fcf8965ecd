"""Measures triage on a labelled corpus: recall per kind of harm and the false-alarm rate, per split."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from handlers.triage import NORMAL, URGENT, Assessment, assess

EXPECTATIONS = ("explicit", "implicit", "check", "normal")


@dataclass(frozen=True)
class Example:
    split: str  # tune or held
    expect: str  # one of EXPECTATIONS
    category: str
    text: str

    def caught(self, assessment: Assessment) -> bool:
        """Explicit danger must be urgent; implicit danger and "might be" must at least be asked about."""
        if self.expect == "explicit":
            return assessment.level == URGENT
        return assessment.level != NORMAL


def read_corpus(path: Path) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4 or parts[1] not in EXPECTATIONS:
            raise ValueError(f"{path}:{number}: expected split, expect, category and text, tab-separated")
        examples.append(Example(*parts))
    return examples


@dataclass
class Score:
    caught: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.caught / self.total if self.total else 1.0


@dataclass
class Report:
    split: str
    recall: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))  # by category
    explicit: Score = field(default_factory=Score)
    danger: Score = field(default_factory=Score)  # explicit, implicit and check together
    false_alarms: Score = field(default_factory=Score)  # caught = alarmed, over the normal messages
    misses: list[tuple[Example, Assessment]] = field(default_factory=list)
    alarms: list[tuple[Example, Assessment]] = field(default_factory=list)


def evaluate(examples: Iterable[Example], split: str = "all") -> Report:
    report = Report(split)
    for example in examples:
        if split != "all" and example.split != split:
            continue
        assessment = assess(example.text)
        if example.expect == "normal":
            alarmed = assessment.level != NORMAL
            _count(report.false_alarms, alarmed)
            if alarmed:
                report.alarms.append((example, assessment))
            continue
        caught = example.caught(assessment)
        _count(report.recall[example.category], caught)
        _count(report.danger, caught)
        if example.expect == "explicit":
            _count(report.explicit, caught)
        if not caught:
            report.misses.append((example, assessment))
    return report


def _count(score: Score, hit: bool) -> None:
    score.total += 1
    score.caught += hit


def describe(report: Report) -> Iterator[str]:
    """The report as lines for a person: recall per category, then the totals, then every miss and false alarm."""
    yield f"{report.split}: {report.danger.total} danger messages, {report.false_alarms.total} that must not alarm"
    for category in sorted(report.recall):
        score = report.recall[category]
        yield f"  recall {category:<14} {score.rate:7.1%}  ({score.caught}/{score.total})"
    yield f"  recall explicit (urgent) {report.explicit.rate:7.1%}  ({report.explicit.caught}/{report.explicit.total})"
    yield f"  recall overall           {report.danger.rate:7.1%}  ({report.danger.caught}/{report.danger.total})"
    yield f"  false alarms             {report.false_alarms.rate:7.1%}  ({report.false_alarms.caught}/{report.false_alarms.total})"
    for example, assessment in report.misses:
        yield f"  missed ({example.expect} {example.category}, got {assessment.level}): {example.text}"
    for example, assessment in report.alarms:
        yield f"  false alarm ({assessment.level} {','.join(assessment.reasons)}): {example.text}"
