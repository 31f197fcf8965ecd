"""SMS rendering and segment counting, and a segment report over every catalogue text."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from bot.channels.sms import MAX_BODY, is_gsm7, render_sms, segments
from handlers.catalogue import Catalogue
from handlers.menu import NEXT
from handlers.turn import Option


def test_options_become_numbered_lines():
    options = (Option("lang:sv", "Svenska"), Option("lang:en", "English"))
    assert render_sms("Välj språk.", options) == "Välj språk.\n1 Svenska\n2 English"
    assert render_sms("Bara text") == "Bara text"


def test_typography_is_made_plain_so_texts_stay_gsm7():
    rendered = render_sms("Det är ‘lugnt’ – “helt” … okej\u00a0—\u00a0eller hur? – Éva")
    assert rendered == "Det är 'lugnt' - \"helt\" ... okej - eller hur? - Éva"
    assert is_gsm7(rendered)


def test_swedish_letters_are_gsm7_and_emoji_are_left_alone():
    assert is_gsm7("åäöÅÄÖé")
    assert render_sms("Hej 🙂") == "Hej 🙂" and not is_gsm7("Hej 🙂")


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("å" * 160, 1),
     ("€" * 80, 1), ("€" * 81, 2), ("a" * 158 + "[", 1), ("a" * 159 + "[", 2),
     ("a" * 152 + "{" + "a" * 10, 2),  # the escape pair is not split: 152 + 2 would not fit 153
     ("ä" * 69 + "’", 1), ("’" * 70, 1), ("’" * 71, 2), ("’" * 134, 2), ("’" * 135, 3),
     ("🙂" * 35, 1), ("🙂" * 36, 2), ("a" * 69 + "🙂", 2),
     ("a" * 66 + "🙂" + "a" * 66, 3)],  # an emoji is two UTF-16 units, never split across parts
)  # fmt: skip
def test_segments(text, count):
    assert segments(text) == count


def test_a_body_over_1600_is_cut_with_an_ellipsis():
    assert render_sms("a" * 2000) == "a" * (MAX_BODY - 3) + "..."
    long_unicode = render_sms("🙂" * 1000)  # counted in UTF-16 units: 799 emoji and the ellipsis
    assert long_unicode == "🙂" * 799 + "…"


def test_every_catalogue_text_as_sms():
    catalogue = Catalogue.load()
    dummies = defaultdict(lambda: "12")
    counts: Counter[int] = Counter()
    rendered: list[tuple[int, int, str, str]] = []
    not_gsm7: list[str] = []
    for language in ("sv", "en"):
        for key in sorted(catalogue.keys(language)):
            body = render_sms(catalogue.text(language, key).format_map(dummies))
            parts = segments(body)
            counts[parts] += 1
            rendered.append((parts, len(body), language, key))
            if not is_gsm7(body):
                not_gsm7.append(f"{language}:{key}")
    total = sum(counts.values())
    single = counts[1] / total
    print(f"\nSMS segment report: {total} texts")
    for parts in sorted(counts):
        print(f"  {parts} segment(s): {counts[parts]}")
    print(f"  one segment: {single:.1%}")
    print("  longest:")
    for parts, length, language, key in sorted(rendered, reverse=True)[:10]:
        print(f"    {parts} seg, {length:4} chars  {language}:{key}")
    if not_gsm7:
        print(f"  not GSM-7 (UCS-2): {', '.join(not_gsm7)}")
    assert max(counts) <= 3, [f"{lang}:{key}" for parts, _, lang, key in rendered if parts > 3]
    assert single >= 0.9, [f"{lang}:{key} ({parts})" for parts, _, lang, key in sorted(rendered, reverse=True) if parts > 1]


def test_the_next_steps_at_the_end_of_a_flow_fit_one_plain_sms():
    catalogue = Catalogue.load()
    for language in ("sv", "en"):
        options = [Option(key, catalogue.text(language, label)) for key, label in NEXT]
        safety = catalogue.text(language, "safety.line")
        for text in (catalogue.text(language, "next.prompt"), catalogue.text(language, "checkin.thanks"),
                     f"{catalogue.text(language, 'checkin.will_contact')}\n{safety}"):  # fmt: skip
            body = render_sms(text, options)
            assert is_gsm7(body) and segments(body) == 1, body
