"""What a typed message asks for, anywhere in a sentence: the rules of handlers/intents.toml over the triage matcher."""

# The words are data (intents.toml, for social workers to extend); the matching is handlers/lexicon.py's Vocabulary,
# the same stems, typo tolerance and phrases that danger triage uses, so the two never disagree on what a word is.

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from handlers.lexicon import Vocabulary, _near, fold

INTENTS_PATH = Path(__file__).with_name("intents.toml")
FLOWS = ("call", "apply", "ask", "relative", "about", "menu")
QUESTION_WORDS = 5  # a question typed with this many words or more is itself the question to send
LONG_QUESTION = 7
MINOR = ("about", "menu")  # give way to any other sure intent ("fråga om sekretess" → a question)


@dataclass(frozen=True)
class Rule:
    intent: str
    groups: tuple[str, ...]
    window: int
    sure: bool
    unless: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """What a message means: a flow to go to when sure, the flows to offer when not, and whether it is for someone else."""

    flow: str | None = None  # call, apply, ask, relative, about, menu: go there
    candidates: tuple[str, ...] = ()  # not sure: ask which of these (one: "Vill du att vi ringer dig?")
    relative: bool = False
    words: int = 0  # how many words the message had


class IntentMatcher:
    def __init__(self, data: dict) -> None:  # type: ignore[type-arg]
        self.vocabulary = Vocabulary(data["words"])
        self.rules = tuple(Rule(rule["intent"], tuple(rule["all"]), int(rule.get("window", 0)), bool(rule.get("sure", False)),
                                tuple(rule.get("unless", ()))) for rule in data["rule"])  # fmt: skip
        for rule in self.rules:
            unknown = [group for group in (*rule.groups, *rule.unless) if group not in data["words"]]
            if rule.intent not in (*FLOWS, "help") or unknown:
                raise ValueError(f"intents.toml: rule {rule} names an unknown intent or word group {unknown}")
        self.needs = Vocabulary(data.get("needs", {}))
        self.need_order = tuple(data.get("needs", {}))
        self.whole = {fold(phrase): intent for intent, phrases in data.get("whole", {}).items() for phrase in phrases}
        self.language_words = {language: {fold(word) for word in words} for language, words in data.get("language", {}).items()}

    def matches(self, text: str) -> dict[str, bool]:
        """Each intent the text matches, with whether a sure rule matched it."""
        tokens = fold(text).split()
        positions = self.vocabulary.positions(tokens)
        found: dict[str, bool] = {}
        for rule in self.rules:
            if any(group in positions for group in rule.unless) or not _near(positions, rule.groups, rule.window):
                continue
            found[rule.intent] = found.get(rule.intent, False) or rule.sure
        return found

    def read(self, text: str) -> Reading:
        count = len(fold(text).split())
        if fold(text) in self.whole:
            flow = self.whole[fold(text)]
            return Reading(flow=flow, relative=flow == "relative", words=count)
        found = self.matches(text)
        relative = found.get("relative", False)
        if relative:
            # for someone close: a call or a question goes to that flow for them; anything else shows what relatives can do
            for flow in ("call", "ask", "apply"):
                if found.get(flow):
                    return Reading(flow=flow, relative=True, words=count)
            return Reading(flow="relative", relative=True, words=count)
        if found.get("help") and "apply" not in found:
            found["apply"] = True  # "jag behöver hjälp": applying is what a wish for help leads to
        found.pop("help", None)
        maybe_relative = "relative" in found
        found.pop("relative", None)
        if found.get("ask") and found.get("apply"):
            del found["apply"]  # "undrar hur man ansöker": a question about applying is a question
        sure = [flow for flow in FLOWS if found.get(flow)]
        if sure == ["about"] and count >= LONG_QUESTION and self._questioning(text):
            sure = ["ask"]  # a long, particular question about us is for staff, not for the common answers
        major = [flow for flow in sure if flow not in MINOR]
        if len(major) == 1:
            return Reading(flow=major[0], words=count)
        if len(major) > 1:
            return Reading(candidates=tuple(major), words=count)
        if sure:
            return Reading(flow=sure[0], words=count)
        if maybe_relative:
            return Reading(candidates=("relative",), words=count)
        unsure = tuple(flow for flow in FLOWS if flow in found)
        if not unsure and count >= QUESTION_WORDS and self._questioning(text):
            return Reading(flow="ask", words=count)  # a question typed at the menu is the question to send
        return Reading(candidates=unsure, words=count)

    def _questioning(self, text: str) -> bool:
        tokens = fold(text).split()
        return "?" in text or (bool(tokens) and "how" in self.vocabulary.groups_of(tokens[0]))

    def needs_in(self, text: str) -> list[str]:
        """The needs an application message names, in the order of [needs]."""
        found = self.needs.positions(fold(text).split())
        return [need for need in self.need_order if need in found]

    def language_votes(self, text: str) -> dict[str, int]:
        tokens = fold(text).split()
        return {language: sum(token in words for token in tokens) for language, words in self.language_words.items()}


@lru_cache(maxsize=1)
def matcher(path: Path = INTENTS_PATH) -> IntentMatcher:
    with path.open("rb") as file:
        return IntentMatcher(tomllib.load(file))


def read(text: str) -> Reading:
    return matcher().read(text)
