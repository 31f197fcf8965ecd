"""Which language a message is plainly in: Lingua restricted to Swedish and English, checked against the words of
handlers/intents.toml."""

# Lingua (lingua-language-detector) built for only the two languages the catalogues have, in its low-accuracy mode
# (trigram models only): that adds about 8 MB to the process, where the high-accuracy models of the same two languages
# added about 100 MB (measured as VmRSS of a process that has imported the whole bot; docs/intents.md). Short
# messages are where any detector guesses, so a message counts as plain only when it has two words or more and the
# detector is confident and not contradicted by the everyday words of intents.toml [language], or fairly confident
# and those words agree ("min son behover hjalp"). Otherwise the person gets the language question.

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from handlers.intents import matcher
from handlers.lexicon import fold

if TYPE_CHECKING:
    from lingua import LanguageDetector

SURE = 0.85  # the detector alone
FAIR = 0.55  # the detector, with the everyday words agreeing
MIN_WORDS = 2  # "hej" or "ok" alone says too little: those get the language question


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    from lingua import Language, LanguageDetectorBuilder  # loaded on the first message that needs it

    return LanguageDetectorBuilder.from_languages(Language.SWEDISH, Language.ENGLISH).with_low_accuracy_mode().build()


def plain_language(text: str) -> str | None:
    """"sv" or "en" when the message is plainly in that language, else None."""
    words = fold(text).split()
    if len(words) < MIN_WORDS or not any(len(word) > 1 for word in words):
        return None
    values = {value.language.iso_code_639_1.name.lower(): value.value for value in _detector().compute_language_confidence_values(text)}
    best = max(values, key=lambda language: values[language], default=None)
    if best not in ("sv", "en"):
        return None
    votes = matcher().language_votes(text)
    other = "en" if best == "sv" else "sv"
    if values[best] >= SURE and votes.get(other, 0) <= votes.get(best, 0) + 1:
        return best
    if values[best] >= FAIR and votes.get(best, 0) > votes.get(other, 0):
        return best
    return None
