import re

from handlers.catalogue import LANGUAGES, Catalogue


def test_every_key_exists_in_both_languages():
    catalogue = Catalogue.load()
    swedish, english = catalogue.keys("sv"), catalogue.keys("en")
    assert swedish - english == set(), "missing in English"
    assert english - swedish == set(), "missing in Swedish"


def test_placeholders_match_between_languages():
    catalogue = Catalogue.load()
    for key in catalogue.keys("sv"):
        names = [set(re.findall(r"{(\w+)}", catalogue.text(language, key))) for language in LANGUAGES]
        assert names[0] == names[1], key


def test_no_text_tells_anyone_to_text_112():
    catalogue = Catalogue.load()
    for language in LANGUAGES:
        for key in catalogue.keys(language):
            text = catalogue.text(language, key).lower()
            assert not re.search(r"(sms|text|skicka).{0,15}112", text), key
