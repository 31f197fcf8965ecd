"""Triage measured on the corpus beside these tests: recall by kind of harm, false alarms, tuning and held-out parts."""

from pathlib import Path

import pytest

from handlers.evaluation import Example, describe, evaluate, read_corpus
from handlers.lexicon import load_lexicon
from handlers.triage import REASONS, assess

CORPUS = read_corpus(Path(__file__).with_name("triage_corpus.tsv"))
NORMAL_CATEGORIES = {"idiom", "work", "past", "everyday", "question"}


def test_the_corpus_is_large_split_and_labelled_with_known_categories():
    assert len(CORPUS) >= 400
    assert sum(example.expect == "normal" for example in CORPUS) >= 150
    assert {example.split for example in CORPUS} == {"tune", "held"}
    assert sum(example.split == "held" for example in CORPUS) >= 120
    assert len({example.text for example in CORPUS}) == len(CORPUS), "a message is in the corpus twice"
    for example in CORPUS:
        allowed = NORMAL_CATEGORIES if example.expect == "normal" else set(REASONS)
        assert example.category in allowed, example
    danger_kinds = {example.category for example in CORPUS if example.expect != "normal"}
    assert danger_kinds == set(REASONS), "every kind of harm has messages"


def test_on_the_tuning_part_explicit_danger_is_always_urgent_and_false_alarms_are_rare():
    report = evaluate(CORPUS, "tune")
    print("\n" + "\n".join(describe(report)))
    assert report.explicit.rate == 1.0, report.misses
    assert report.danger.rate >= 0.97
    assert report.false_alarms.rate <= 0.03


def test_the_held_out_part_is_measured_not_tuned():
    # Never tuned on, so it can only hold a floor: a change that makes it worse than when it was written fails here.
    report = evaluate(CORPUS, "held")
    print("\n" + "\n".join(describe(report)))
    assert report.explicit.rate >= 0.95
    assert report.danger.rate >= 0.90
    assert report.false_alarms.rate <= 0.03


@pytest.mark.parametrize("text", [e.text for e in CORPUS if e.split == "tune" and e.expect == "explicit"])
def test_explicit_danger_in_the_tuning_part_is_urgent(text):
    assert assess(text).urgent


# Known false alarms, kept in the corpus so the figure stays honest; strict, so fixing one is noticed.
KNOWN_FALSE_ALARMS = {
    "han slog mej när ja var liten men nu bor ja själv": "'nu' keeps old violence live, and safety wins",
    "min mamma står utanför skolan": "someone standing outside the school reads as acute danger",
    "han följer efter mig överallt som en valp": "being followed is danger unless the comparison is understood",
    "ja tog hela kartan till skolan": "a whole 'karta' (blister pack, or a map) taken reads as an overdose",
    "min mamma letar efter mig hela tiden haha": "someone close looking for the person gets the question",
}


@pytest.mark.parametrize(
    "text",
    [pytest.param(e.text, marks=pytest.mark.xfail(reason=KNOWN_FALSE_ALARMS[e.text], strict=True)) if e.text in KNOWN_FALSE_ALARMS
     else e.text for e in CORPUS if e.split == "tune" and e.expect == "normal"],
)  # fmt: skip
def test_what_must_not_alarm_in_the_tuning_part_is_normal(text):
    assert assess(text).level == "normal"


def test_a_check_example_counts_as_caught_when_asked_about_and_explicit_only_when_urgent():
    report = evaluate([Example("tune", "check", "threat", "dom sa ja har till fredag annars"),
                       Example("tune", "explicit", "threat", "dom sa ja har till fredag annars")])  # fmt: skip
    assert (report.danger.caught, report.danger.total) == (1, 2)
    assert (report.explicit.caught, report.explicit.total) == (0, 1)


def test_the_lexicon_file_is_checked_when_it_is_read(tmp_path):
    bad = tmp_path / "triage.toml"
    bad.write_text('[words]\nme = ["jag"]\nnow = ["nu"]\n[idioms]\nphrases = []\n[kinds]\nthreat = { label = "Hot" }\n'
                   '[[rule]]\nkind = "threat"\nlevel = "urgent"\nall = ["me", "nobody"]\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ValueError, match="nobody"):
        load_lexicon(bad)
    bad.write_text('[words]\nme = ["jag"]\nnow = ["nu"]\n[idioms]\nphrases = []\n'
                   '[kinds]\nweapon = { label = "Vapen", set_aside = ["kitchen"] }\n'
                   '[[rule]]\nkind = "weapon"\nlevel = "urgent"\nall = ["me"]\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ValueError, match="kitchen"):
        load_lexicon(bad)


def test_a_weapon_left_behind_is_set_aside_but_one_left_at_the_door_is_a_threat():
    assert assess("ja har lämnat knivarna bakom mej o vill ha ett jobb").level == "normal"
    assert assess("left knives behind and want a job").level == "normal"
    assert assess("dom har lämnat en kula i brevlådan").reasons == ("threat",)
    assert assess("someone left a gun in my mailbox").urgent



@pytest.mark.parametrize(
    "text",
    [
        "han hotar att döda mig om jag inte betalar hyran",  # rent sets a debt question aside, never a threat
        "dom ska skjuta mej, ja spelade fifa med dom förut",  # a game alone does not make a threat a joke
        "hjälper ni mig? dom ska döda mig",  # a question to us does not make a threat hypothetical
        "ja har betalat, det e löst, men dom hotar mig ändå",  # "ändå" keeps it live
        "jag jobbar som kock och han vill döda mig med kniven",  # work sets a knife aside, not a threat
    ],
)
def test_what_sets_a_match_aside_never_hides_a_threat_that_is_live(text):
    assert assess(text).urgent


@pytest.mark.parametrize(
    "text, kind",
    [
        ("ja har tagit 30 tabeletter", "overdose"),  # one letter extra, in a "tablett*" word
        ("min lillebror e kidnapad", "held"),  # one letter missing
        ("dom har min syrra o vill ha 50k", "held"),  # an amount of money
        ("ja har svalt alla sömtabletter", "overdose"),  # one letter missing in a long word
    ],
)
def test_typos_inflections_and_amounts_are_read(text, kind):
    assert kind in assess(text).reasons


def test_a_count_is_five_or_more_and_a_short_stem_matches_nothing():
    assert assess("ja har tagit 2 alvedon för huvudvärken").level == "normal"
    assert assess("ja har tagit 12 alvedon").reasons == ("overdose",)
    assert assess("min mamma letar efter mig hela tiden").level != "urgent"  # "tiden" is not "tidigare"
