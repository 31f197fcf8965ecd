"""Harm lexicon: word groups and the rules that combine them, read from handlers/triage.toml."""

# The words are data (triage.toml, for social workers to read and extend); this module only matches them. A token
# meets a word when it is that word, shares its Snowball stem (Swedish or English, words of five letters or more),
# is one edit away from a word of six letters or more (rapidfuzz), or starts with a "word*" prefix.

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import snowballstemmer
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extractOne

LEXICON_PATH = Path(__file__).with_name("triage.toml")
URGENT = "urgent"
CHECK = "check"
LEVELS = (URGENT, CHECK)
NUMBER = "#"  # a count of 5 or more
AMOUNT = "#k"  # an amount of money
_COUNT = re.compile(r"(\d+)")
_MONEY = re.compile(r"\d+(?:k|kr|kronor|tusen|lax|000)")
STEM_FROM = 5  # shorter words are compared whole: "jagar" (hunts) must not become "jag" (I)
FUZZY_FROM = 6  # one letter wrong in "tabeletter" is a typo; in "hota" it is another word
_COMBINING = re.compile(r"[\u0300-\u036f]+")
_STEMMERS = (snowballstemmer.stemmer("swedish"), snowballstemmer.stemmer("english"))


def fold(text: str) -> str:
    """Lower case without accents, words split on anything that is not a letter or digit: the form tokens have."""
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.lower()))
    return " ".join(re.findall(r"[^\W_]+", text))


def _stems(word: str) -> set[str]:
    """Swedish and English stems of a long enough word; stems shorter than four letters say too little ("tiden" and
    "tidigare" share "tid")."""
    if len(word) < STEM_FROM:
        return set()
    return {stem for stemmer in _STEMMERS if len(stem := stemmer.stemWord(word)) >= 4}


@dataclass(frozen=True)
class Rule:
    kind: str
    level: str
    groups: tuple[str, ...]
    window: int
    unless: tuple[str, ...] = ()  # groups that set this rule's match aside (like a kind's set_aside, for one rule)


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    set_aside: tuple[str, ...]
    kept_by: tuple[str, ...] = ("now",)  # groups that say it is live after all: the set-aside does not hold


class Vocabulary:
    """Which word groups a token, or a run of tokens starting at a position, belongs to."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.exact: dict[str, set[str]] = {}
        self.stems: dict[str, set[str]] = {}
        self.prefixes: list[tuple[str, str]] = []
        self.phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self.numbers: set[str] = set()
        self.amounts: set[str] = set()
        for group, words in groups.items():
            for entry in words:
                if entry == NUMBER:
                    self.numbers.add(group)
                elif entry == AMOUNT:
                    self.amounts.add(group)
                elif entry.endswith("*"):
                    self.prefixes.append((fold(entry[:-1]), group))
                elif " " in fold(entry):
                    tokens = tuple(fold(entry).split())
                    self.phrases.setdefault(tokens[0], []).append((tokens, group))
                else:
                    word = fold(entry)
                    self.exact.setdefault(word, set()).add(group)
                    for stem in _stems(word):
                        self.stems.setdefault(stem, set()).add(group)
        self.long_words = [word for word in self.exact if len(word) >= FUZZY_FROM]

    @lru_cache(maxsize=20000)  # noqa: B019 - one vocabulary for the life of the process
    def groups_of(self, token: str) -> frozenset[str]:
        found = set(self.exact.get(token, ()))
        count = _COUNT.match(token)
        if count and int(count.group(1)[:6]) >= 5:
            found |= self.numbers
        if _MONEY.fullmatch(token):
            found |= self.amounts
        found.update(group for prefix, group in self.prefixes if token.startswith(prefix))
        for stem in _stems(token):
            found |= self.stems.get(stem, set())
        if not found and len(token) >= FUZZY_FROM:
            near = extractOne(token, self.long_words, scorer=Levenshtein.distance, score_cutoff=1)
            if near is not None:
                found |= self.exact[near[0]]
            # "tabeletter" for "tablett*": the start of the token one edit from a long enough prefix
            found.update(group for prefix, group in self.prefixes if len(prefix) >= FUZZY_FROM - 1 and _starts_near(token, prefix))
        return frozenset(found)

    def positions(self, tokens: list[str]) -> dict[str, list[int]]:
        """Where in a sentence each group has a word."""
        found: dict[str, list[int]] = {}
        for index, token in enumerate(tokens):
            for group in self.groups_of(token):
                found.setdefault(group, []).append(index)
            for phrase, group in self.phrases.get(token, ()):
                if tuple(tokens[index : index + len(phrase)]) == phrase:
                    found.setdefault(group, []).append(index)
        return found


class Lexicon:
    def __init__(self, data: dict) -> None:  # type: ignore[type-arg]
        self.vocabulary = Vocabulary(data["words"])
        self.kinds = {name: Kind(name, spec["label"], tuple(spec.get("set_aside", ())), tuple(spec.get("kept_by", ("now",))))
                      for name, spec in data["kinds"].items()}  # fmt: skip
        self.rules = tuple(Rule(rule["kind"], rule["level"], tuple(rule["all"]), int(rule.get("window", 0)), tuple(rule.get("unless", ())))
                           for rule in data["rule"])  # fmt: skip
        self.idioms = tuple(fold(phrase) for phrase in data["idioms"]["phrases"])
        named = {group for kind in self.kinds.values() for entry in (*kind.set_aside, *kind.kept_by) for group in entry.split("+")}
        named |= {group for rule in self.rules for entry in rule.unless for group in entry.split("+")}
        if named - set(data["words"]):
            raise ValueError(f"triage.toml: [kinds] name unknown word groups {sorted(named - set(data['words']))}")
        for rule in self.rules:
            unknown = [group for group in rule.groups if group not in data["words"]]
            if rule.kind not in self.kinds or rule.level not in LEVELS or unknown:
                raise ValueError(f"triage.toml: rule {rule} names an unknown kind, level or word group {unknown}")
        alternatives = "|".join(re.escape(idiom) for idiom in self.idioms) or r"(?!)"  # no idioms: match nothing
        self._idiom_re = re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)")

    def mask_idioms(self, text: str) -> str:
        """Everyday phrases become "#", so neither rules nor phrase patterns read them."""
        return self._idiom_re.sub("#", text)

    def find(self, text: str) -> dict[str, str]:
        """The kinds of harm in a normalised, masked text, each with the highest level a rule gave it."""
        found: dict[str, str] = {}
        for sentence in _sentences(text):
            tokens = sentence.split()
            positions = self.vocabulary.positions(tokens)
            for rule in self.rules:
                if found.get(rule.kind) == URGENT or not _near(positions, rule.groups, rule.window):
                    continue
                if self.sets_aside(sentence, rule.kind, positions) or _present(positions, rule.unless, self.kinds[rule.kind].kept_by):
                    continue
                found[rule.kind] = URGENT if URGENT in (rule.level, found.get(rule.kind)) else CHECK
        return found

    def sets_aside(self, sentence: str, kind: str, positions: dict[str, list[int]] | None = None) -> bool:
        """Whether the sentence places a match of this kind at work, behind the person, or in the resolved past."""
        spec = self.kinds.get(kind)
        if spec is None or not spec.set_aside:
            return False
        if positions is None:
            positions = self.vocabulary.positions(sentence.split())
        return _present(positions, spec.set_aside, spec.kept_by)


def _starts_near(token: str, prefix: str) -> bool:
    """Whether the token starts with the prefix give or take one letter (wrong, missing or extra)."""
    return any(Levenshtein.distance(token[:size], prefix, score_cutoff=1) <= 1 for size in (len(prefix) - 1, len(prefix), len(prefix) + 1))


def _present(positions: dict[str, list[int]], set_aside: tuple[str, ...], kept_by: tuple[str, ...]) -> bool:
    """Whether a set-aside group is in the sentence ("a+b": both) and no group says it is live after all."""
    if not any(all(group in positions for group in entry.split("+")) for entry in set_aside):
        return False
    return not any(group in positions for group in kept_by)


def _sentences(text: str) -> Iterable[str]:
    return (part for part in text.split(" . ") if part.strip(" ."))


def _near(positions: dict[str, list[int]], groups: tuple[str, ...], window: int) -> bool:
    """Whether every group has a word, all of them within `window` words of the first (window 0: anywhere)."""
    if any(group not in positions for group in groups):
        return False
    if window == 0 or len(groups) == 1:
        return True
    for start in sorted({index for group in groups for index in positions[group]}):
        if all(any(start <= index <= start + window for index in positions[group]) for group in groups):
            return True
    return False


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    with path.open("rb") as file:
        return Lexicon(tomllib.load(file))
