from pathlib import Path

import pytest

from handlers.intent_measure import measure
from handlers.intents import IntentMatcher, read

HERE = Path(__file__).parent


@pytest.mark.parametrize("part", ["intents_tuning.tsv", "intents_heldout.tsv"])
def test_typed_messages_reach_the_right_flow_and_almost_never_a_wrong_one(part):
    result = measure(HERE / part)
    assert result.total >= 100
    assert result.rate(result.right) >= 0.95, result.misses
    assert result.rate(result.wrong) <= 0.02, result.misses


def test_the_corpus_has_three_hundred_messages_and_some_that_mean_nothing():
    lines = [line for part in ("intents_tuning.tsv", "intents_heldout.tsv")
             for line in (HERE / part).read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]  # fmt: skip
    assert len(lines) >= 300
    assert sum(line.startswith("none\t") for line in lines) >= 50
    tuning = set((HERE / "intents_tuning.tsv").read_text(encoding="utf-8").splitlines()[2:])
    held = set((HERE / "intents_heldout.tsv").read_text(encoding="utf-8").splitlines()[2:])
    assert not tuning & held


@pytest.mark.parametrize(("message", "flow"), [
    ("kan någon ringa mig", "call"),
    ("kan ni ringa mig imorgon", "call"),
    ("jag vill söka hjälp", "apply"),
    ("hur ansöker man", "apply"),
    ("hur ansoker man", "apply"),
    ("jag vill ansoak", "apply"),  # a typo in a long word
    ("jag har en fråga", "ask"),
    ("meny plz", "menu"),
])  # fmt: skip
def test_an_intent_is_found_anywhere_in_a_sentence_with_inflections_typos_and_no_diacritics(message, flow):
    assert read(message).flow == flow


def test_a_relative_asking_for_someone_close_is_read_as_a_relative():
    reading = read("min son behöver hjälp")
    assert (reading.flow, reading.relative) == ("relative", True)
    call = read("kan ni ringa mig om min son")
    assert (call.flow, call.relative) == ("call", True)


def test_a_negated_wish_is_not_acted_on_but_asked_about():
    reading = read("ring inte mig")
    assert reading.flow is None and reading.candidates == ("call",)


def test_ordinary_chatter_goes_nowhere():
    for message in ("hej", "tack för hjälpen", "ok", "jag vet inte"):
        reading = read(message)
        assert reading.flow is None and not reading.candidates, message


def test_a_rule_naming_an_unknown_word_group_is_refused_at_start():
    with pytest.raises(ValueError, match="unknown"):
        IntentMatcher({"words": {"call": ["ring"]}, "rule": [{"intent": "call", "all": ["call", "me"]}]})
