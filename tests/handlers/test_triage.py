"""Danger triage: a labelled corpus, the guard idioms, the judgement calls and awkward input."""

import time
from dataclasses import FrozenInstanceError

import pytest

from handlers.triage import REASONS, Assessment, assess

# Unambiguous, explicit danger: every one of these must be caught.
EXPLICIT = [
    # threats, Swedish
    "de ska döda mig",
    "DE SKA DÖDA MIG!!!",
    "de ska doda mig",
    "de kommer döda mej om jag inte betalar",
    "han hotar att skjuta mig",
    "han hotade att skjuta min bror",
    "jag blir hotad",
    "jag har blivit hotad av några killar från området",
    "Jag är hotad och vet inte vad jag ska göra",
    "de hotar min familj",
    "han hotar att döda mamma",
    "han sa att han ska mörda mig",
    "jag har fått dödshot på snap",
    "gänget ska skjuta ihjäl mig",
    "de ska slå ihjäl mig",
    "de e ute efter mig",
    "det finns ett kontrakt på mig",
    "de har satt ett pris på mitt huvud",
    "ja vet att dom ska doda mej snart",
    "han hotade mig med kniv igår",
    # weapons
    "han har en pistol",
    "han har en kniv och står i hallen",
    "blatte med puffra utanför porten",
    "de har puffran i bilen",
    "han viftade med en bössa",
    "min son har en pistol hemma",
    "han drog kniv på mig",
    "han har en glock",
    "he has a gun",
    "someone is after me with a knife",
    "there's a guy outside my door with a knife",
    "de ska spränga min dörr",
    "det var skottlossning utanför, jag är rädd",
    # violence
    "min bror blev knivhuggen igår",
    "jag blev skjuten i benet",
    "han slår mig",
    "pappa slår mamma",
    "de misshandlar honom just nu",
    "jag blir slagen hemma",
    "min dotters pojkvän slår henne",
    "de sköt min kompis igår",
    "de har knivat min bror",
    "de shottade honom utanför skolan",
    "jag blev knivhuggen för två veckor sen och de hotar mig igen",
    "han dödade min kusin",
    "han ströp mig tills jag svimmade",
    "jag blev våldtagen i helgen",
    "vi blev beskjutna i bilen",
    "my boyfriend beats me",
    "i was stabbed",
    "he got shot last night",
    "he is beating my mom right now",
    "my brother got jumped and stabbed",
    # self-harm
    "jag vill dö",
    "jag vill döööö",
    "asså ja vill bara dö",
    "jag vill inte leva längre",
    "ja vill ta livet av mej",
    "jag tänker ta mitt liv ikväll",
    "jag har skurit mig igen",
    "jag ska skära mig",
    "tänker på självmord hela tiden",
    "har sjävmordstankar",
    "jag tänker hänga mig",
    "hon har tagit en överdos",
    "min son pratar om att ta livet av sig",
    "jag vill ta livet av mig 💀💀",
    "jag vill dö 😭😭",
    "jag\u200b vill\u200b dö",
    "vill   inte    leva",
    "I want to kill myself",
    "KILL MYSELF",
    "i want to end it all",
    "i dont want to live anymore",
    "I don't want to live anymore",
    "thinking about suicide",
    "I wanna dieeee",
    "im gonna kms",
    "she's cutting herself again",
    # acute danger
    "jag är i fara",
    "ja e i fara",
    "jag ar i fara",
    "de står utanför min dörr",
    "hjälp mig de kommer",
    "hjäääälp de kommer",
    "hjalp mig de kommer",
    "HJÄLP!! de kommer",
    "I'm in danger",
    "they are coming for me",
    "they're going to kill me",
    "i'm scared for my life",
    "they said they'll shoot me",
    "he threatened to stab me",
    "jag är rädd för mitt liv",
    # more, in the words people use
    "jag e rädd dom kmr döda mig",
    "dom har lagt ut att jag ska dö",
    "han sa att han ska skjuta ner mig",
    "det finns folk som vill se mig död",
    "han knivskar min kompis",
    "jag blev rånad på kniv",
    "min son har blivit misshandlad av några killar",
    "min son säger att han inte vill leva",
    "han är beväpnad",
    "orkar inte leva längre",
    "jag vill typ inte finnas",
    "nån har lagt en bomb vid vår dörr",
    "jag har blivit hotad med pistol",
    "han tog strypgrepp på mig",
    "de tvingade in mig i en bil",
    "Hjälp! Dom har en pistol och står i trapphuset",
    "han satte en kniv mot min hals",
    "jag har inte ätit på dagar och vill bara dö",
    "jag tänker ta en överdos ikväll",
    "jag klarar inte av det här längre, jag ska ta mitt liv",
    "han slog ner mig på gatan",
    "dom slog sönder mig",
    "han sparkade mig i huvudet",
    "jag blev överfallen på väg hem",
    "jag fick ett sms: du är död",
    "nån har skjutit min bror",
    "det small flera skott utanför",
    "jag skär mig varje natt",
    "han har slagit mig flera gånger den här veckan",
    "min man misshandlar mig",
    "jag har fått hot från gänget",
    "min lillebror har fått en puffra av nån äldre",
    "snälla hjälp mig, han slår mig",
    "ring polisen!!",
    "de har kidnappat min son",
    "he put a gun to my head",
    "they said they will find me and kill me",
    "I'm thinking of ending my life",
    "I feel like killing myself",
    "he choked me last night",
    "my girlfriend's ex is threatening us",
    "there are men outside with guns",
    "they gonna smoke me",
    "he pulled a strap on me",
    "my life is in danger",
    "I took all my pills",
    "dad is hitting mom",
    "someone broke into my flat and threatened me",
    "please help they are breaking in",
]

# Softer signs: most should be caught (at least 80 %).
IMPLICIT = [
    "jag orkar inte mer.",
    "jag vill bara försvinna för alltid",
    "ingen skulle sakna mig om jag var borta",
    "det vore bättre för alla om jag inte fanns",
    "det är ingen mening med att leva",
    "jag vill sova och aldrig vakna",
    "jag vill inte dö men jag vet inte hur länge jag orkar",
    "de vet var jag bor",
    "jag vågar inte gå hem ikväll",
    "någon följer efter mig",
    "jag gömmer mig hos en kompis",
    "de sa att jag är död om jag inte betalar",
    "de sa att jag ska få betala med mitt liv",
    "de tror att jag har golat",
    "jag är rädd för min pappa",
    "hjälp snabbt",
    "de vill ha hämnd",
    "de bankar på dörren",
    "jag kommer dö om ni inte hjälper mig",
    "det är akut",
    "min kille blir arg och jag är rädd för honom",
    "my mom is going to kill me",  # usually a figure of speech, but can be honour-related violence: a human reads it
    "they know where I live",
    "someone is following me home",
    "i cant do this anymore",
    "nobody would miss me",
    "i'm hiding in the bathroom",
    "I think they want revenge",
    "mina killar har börjat bli konstiga mot mig, jag litar inte på nån",  # known miss: no danger word at all
    "allt känns meningslöst",
    "de har hittat mig",
    "jag är jagad",
    "I'm being followed",
    "dom sa jag e död",
    "jag är så rädd, de står utanför och väntar på mig",
    "idk what to do they have my address and said theyre coming",
    "opps are looking for me",
    "min son har varit inblandad i en skjutning enligt polisen",
    "de ska klippa mig",  # known miss: "klippa" is slang for attacking someone, and also a haircut
]

# Ordinary speech containing a danger word, and other tricky sentences: each must stay normal.
IDIOMS = [
    "kan vi skjuta upp mötet?",
    "jag sköt upp det till nästa vecka",
    "kan vi skjuta på mötet till fredag?",
    "kan ni skjuta in en tid på fredag?",
    "kan du skjutsa mig till mötet?",
    "2024 var ett skottår",
    "vi dödade tiden med att spela fifa",
    "jag satt och dödade tid på stationen",
    "filmen var mördande tråkig",
    "maten var livsfarligt god",
    "kakan var livsfarligt gott",
    "han slog sig ner bredvid mig",
    "jag dog av skratt",
    "jag dör av skratt 😂",
    "jag dog",
    "jag håller på att dö av tristess här",
    "jag är dödstrött idag",
    "pizzan var dödsgod",
    "hans svar var knivskarpt",
    "sidan har massa döda länkar",
    "jag slog upp ordet i ordboken",
    "jag ska slå in presenten",
    "kan du slå på datorn?",
    "vi slog oss ner i parken",
    "det slog mig att jag borde ringa er",
    "det var bomben!",
    "det här är bombsäkert",
    "jag är död efter jobbet",
    "jag är död",
    "sköt om dig!",
    "ingen fara, jag kan vänta",
    "vad gör ni om någon blir hotad?",
    "vad händer om jag blir hotad?",
    "hjälper ni folk som blivit misshandlade?",
    "för två år sedan blev jag knivhuggen, därför vill jag sluta",
    "min kompis blev skjuten för tre år sedan och det fick mig att vilja ändra mitt liv",
    "jag dömdes för grov misshandel 2019",
    "jag har suttit inne för rån",
    "min bror sitter inne för mord",
    "jag vill sluta bära kniv",
    "jag har aldrig haft vapen",
    "hyresvärden hotar att vräka mig",
    "jag spöade honom i fifa igår",
    "pistolskytte som sport, är det okej?",
    "datorn hänger sig hela tiden",
    "I'm dying to know when you open",
    "I was just killing time",
    "you killed it today",
    "this traffic is killing me",
    "that's a killer idea",
    "shoot me a text when you can",
    "hit me up tomorrow",
    "beats me",
    "i cut myself shaving lol",
    "i bombed the interview",
    "the food was the bomb",
    "give it a shot",
    "she stabbed me in the back at work",
    "I'll take a stab at the form",
    "don't jump the gun",
    "i'm in danger of failing my course",
    "I'm dead tired",
    "we shot a music video yesterday",
    "what do you do if someone is threatened?",
    "jag har slagit vad med min kompis",
    "vi slog ihop våra pengar",
    "jag skjuter upp allt hela tiden",
    "kan vi skjuta upp samtalet en timme?",
    "jag har skjutit upp att ringa er länge",
    "det är mördande tråkigt att sitta hemma",
    "jag dog nästan av skratt när jag såg det",
    "jag spelar skjutspel ibland",
    "min bror jobbar med sprängningar på ett bygge",
    "jag jobbar i köket, vi använder knivar hela dagen",
    "mina skulder dödar mig typ",
    "jag skar mig på ett papper lol",
    "kniven i köket är slö",
    "min bror är en mördare på fifa",
    "skolan är tråkig som döden",
    "jag har skött mig bra",
    "hon skjutsade mig till jobbet",
    "vi ska slå på stort på min födelsedag",
    "det här spelet är sjukt våldsamt",
    "det är ingen fara med mig",
    "jag orkar inte mer med skolan",
    "kommer ni att ringa polisen om jag berättar?",
    "I'm killing it at my new job",
    "my feet are killing me",
    "I could kill for a coffee",
    "he's a big shot lawyer",
    "I used to carry a knife but I stopped",
    "I was arrested for possession of a knife two years ago",
    "they shot down my idea",
    "I'm so bored I could die",
    "I've been dying to talk to someone",
    "i'll beat you at fifa lol",
    "I have a gun license for hunting",
    "do you guys work with people who've been threatened?",
    "the weather is killing me",
    "I am not in danger, just want advice",
]

# Ordinary messages to the service.
ORDINARY = [
    "hej",
    "Hej!",
    "hur lång är väntetiden?",
    "jag behöver hjälp med skulder",
    "kan ni ringa mig imorgon?",
    "min son har hamnat i dåligt sällskap",
    "jag vill ansöka",
    "vad kostar det?",
    "jag vill sluta med kriminalitet",
    "jag har skulder till fel personer",  # a known risk, but no danger in the sentence itself
    "är det anonymt?",
    "kan polisen se vad jag skriver?",
    "tack för hjälpen",
    "jag vill hoppa av gänget",
    "jag har inget jobb och ingen bostad",
    "hur funkar det här?",
    "kan ni hjälpa mig med en lägenhet?",
    "min dotter kommer hem sent och jag är orolig",
    "jag vet inte vem jag ska prata med",
    "när har ni öppet?",
    "jag vill byta liv",
    "mina polare håller på med grejer jag inte vill vara med på",
    "min mamma vet inte att jag skriver",
    "kan jag få prata med någon i telefon",
    "jag har en tid hos soc på tisdag",
    "hello, can I apply anonymously?",
    "I want to quit the gang",
    "how long does it take?",
    "I need help finding a job",
    "my son is hanging out with the wrong crowd",
    "jag har varit kriminell i många år och vill sluta nu",
    "min son har suttit i fängelse och kommer ut nästa månad, hur kan vi förbereda oss?",
    "jag har knarkskulder men det är lugnt just nu",
    "jag har hört att ni hjälper folk att hoppa av",
    "jag har fått ett brev från kronofogden",
    "det är svårt att säga nej till mina gamla vänner",
    "jag har slutat röka gräs",
    "jag bor i Rinkeby",
    "hur gammal måste man vara?",
    "jag vill inte vara med i gänget längre",
    "jag är rädd att jag ska hamna i fängelse igen",
    "kan jag få hjälp fast jag har en dom för rån?",
    "min pappa slog mig när jag var liten",
    "jag har gjort mycket dumt, misshandel och sånt, för flera år sen",
    "jag dömdes för olaga hot förra året",
    "jag fick två år för grovt rån",
    "jag är skyldig pengar",
    "jag har svårt att sova på grund av mardrömmar",
    "jag är rädd för framtiden",
    "min bror dog för två år sedan",
    "i got locked up for armed robbery when i was 17",
    "my cousin was shot years ago and it changed me",
    "I did time for assault",
    "I have anger issues and want help",
    "my brother keeps getting into trouble with the police",
    "I have a court date next week",
    "I was in a gang but I left",
    "sorry for writing so late",
    # honest false alarms, kept so the figure stays honest
    "jag vill döda min gamla vana att röka",
    "jag har sålt knark och burit kniv förut men vill sluta",
    "jag har varit med om skjutningar i området, det är därför jag vill flytta",
    "mina kompisar har blivit skjutna och jag vill inte sluta som dem",
]


def _label(items, label, kind):
    return [(label, kind, text) for text in items]


CORPUS = (
    _label(EXPLICIT, "urgent", "explicit")
    + _label(IMPLICIT, "urgent", "implicit")
    + _label(IDIOMS, "normal", "idiom")
    + _label(ORDINARY, "normal", "ordinary")
)


def _rate(texts, urgent):
    return sum(assess(text).urgent == urgent for text in texts) / len(texts)


def test_the_corpus_is_large_and_varied_enough():
    assert len(CORPUS) >= 170
    assert len(EXPLICIT) >= 60 and len(IMPLICIT) >= 20
    assert len(IDIOMS) + len(ORDINARY) >= 80 and len(IDIOMS) >= 40
    assert len({text for _, _, text in CORPUS}) == len(CORPUS), "a message is in the corpus twice"


def test_recall_and_false_alarms_on_the_corpus():
    normal = IDIOMS + ORDINARY
    explicit_recall = _rate(EXPLICIT, True)
    implicit_recall = _rate(IMPLICIT, True)
    urgent_recall = _rate(EXPLICIT + IMPLICIT, True)
    false_alarms = _rate(normal, True)
    print(f"\ntriage corpus: {len(EXPLICIT)} explicit, {len(IMPLICIT)} implicit, {len(normal)} normal")
    print(f"  recall on explicit danger: {explicit_recall:.1%}")
    print(f"  recall on implicit danger: {implicit_recall:.1%}")
    print(f"  recall on all urgent:      {urgent_recall:.1%}")
    print(f"  false-alarm rate (normal): {false_alarms:.1%}")
    for text in EXPLICIT + IMPLICIT:
        if not assess(text).urgent:
            print(f"  missed: {text!r}")
    for text in normal:
        if assess(text).urgent:
            print(f"  false alarm: {text!r} {assess(text).reasons}")
    assert explicit_recall == 1.0
    assert implicit_recall >= 0.8
    assert false_alarms <= 0.05


@pytest.mark.parametrize("text", EXPLICIT)
def test_explicit_danger_is_urgent(text):
    assert assess(text).urgent


@pytest.mark.parametrize("text", IDIOMS)
def test_guard_idioms_are_normal(text):
    assert assess(text) == Assessment("normal", ())


@pytest.mark.parametrize("label, kind, text", CORPUS)
def test_reasons_are_stable_names_in_a_fixed_order(label, kind, text):
    result = assess(text)
    assert result.level in ("urgent", "check", "normal")
    assert result.urgent == (result.level == "urgent")
    assert isinstance(result.reasons, tuple)
    assert set(result.reasons) <= set(REASONS)
    assert list(result.reasons) == sorted(result.reasons, key=REASONS.index)
    assert bool(result.reasons) == (result.level != "normal")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("jag vill dö", "self_harm"),
        ("I want to kill myself", "self_harm"),
        ("de ska döda mig", "threat"),
        ("han hotar att skjuta mig", "threat"),
        ("han har en pistol", "weapon"),
        ("blatte med puffra", "weapon"),
        ("han slår mig", "violence"),
        ("i was stabbed", "violence"),
        ("jag är i fara", "acute_danger"),
        ("they are coming for me", "acute_danger"),
    ],
)
def test_each_kind_of_danger_has_its_reason(text, reason):
    assert reason in assess(text).reasons


def test_the_reason_names_are_the_documented_ones():
    assert REASONS == ("self_harm", "overdose", "threat", "held", "ordered", "hunted", "weapon", "injury", "violence", "acute_danger")
    assert assess("jag vill dö").reasons == ("self_harm",)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "😀👍🎉❤️",
        "🔫",
        "مرحبا، أحتاج إلى مساعدة في العثور على عمل",
        "\u202bשלום, אני צריך עזרה\u202c",
        "\u200b\u200c\u200d\ufeff\u2060",
        "hej " * 2500,
        "a" * 10_000,
        "!?.,;:" * 1000,
    ],
)
def test_awkward_input_is_normal_without_error(text):
    assert assess(text) == Assessment("normal", ())


def test_danger_is_found_in_a_long_text_and_through_zero_width_characters():
    assert assess("hej " * 2500 + "de ska döda mig").urgent
    assert assess("de ska d\u200bö\u200bd\u200ba mig").urgent
    assert assess("ｄｅ ｓｋａ ｄöｄａ ｍｉｇ").urgent  # full-width letters


@pytest.mark.parametrize(
    "variant",
    ["jag vill dö", "JAG VILL DÖ", "jag vill do", "jag vill döööö", "ja vill döö", "jag villll dö", "jag, vill... dö!!!", "jag vill dö 😭"],
)
def test_spelling_variants_of_one_message_agree(variant):
    assert assess(variant).reasons == ("self_harm",)


@pytest.mark.parametrize(
    "variant", ["I'm in danger", "I’m in danger", "Im in danger", "i m in danger", "I AM IN DANGER!!", "im in dangerrr"]
)
def test_english_spelling_variants_agree(variant):
    assert assess(variant).reasons == ("acute_danger",)


def test_judgement_calls():
    # negated self-harm still goes to a human: a false alarm is cheap, a missed one is not
    assert assess("jag vill inte dö").urgent
    # self-harm is never set aside as hypothetical
    assert assess("vad gör ni om någon vill ta livet av sig?").urgent
    # a question about the service is not danger, but the same words as a statement are
    assert not assess("vad gör ni om någon blir hotad?").urgent
    assert not assess("vad händer om jag blir hotad?").urgent
    assert assess("jag blir hotad").urgent
    assert assess("vad händer om jag blir hotad? de hotar mig nu").urgent
    assert assess("hur gör man när man blir hotad, för jag blir hotad").urgent
    assert assess("what do you do if someone has a gun, because my brother has one now").urgent
    # violence reported as clearly old history is normal, recent or ongoing violence is urgent
    assert not assess("för två år sedan blev jag knivhuggen").urgent
    assert assess("jag blev knivhuggen förra veckan").urgent
    assert assess("han slog mig när jag var liten och han slår mig fortfarande").urgent
    # old threats are still threats
    assert assess("för två år sedan hotade de att döda mig").urgent
    # debts to the wrong people are a known risk: the sentence alone is worth a question, not the alarm
    assert assess("jag har skulder till fel personer") == Assessment("check", ("threat",))
    assert assess("jag har skulder och nu hotar de mig").urgent


def test_assessment_is_frozen_and_assess_is_pure():
    result = assess("de ska döda mig")
    with pytest.raises(FrozenInstanceError):
        result.level = "normal"
    assert assess("de ska döda mig") == result


def test_it_is_fast_enough_to_run_on_every_message():
    texts = [text for _, _, text in CORPUS]
    started = time.perf_counter()
    for _ in range(5):
        for text in texts:
            assess(text)
    elapsed = time.perf_counter() - started
    print(f"\ntriage speed: {elapsed / (5 * len(texts)) * 1e6:.0f} µs per message over {len(texts)} messages")
