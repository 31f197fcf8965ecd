"""Resume codes for the web chat: four everyday words a person can write down, and their normal form."""

from __future__ import annotations

import re
import secrets

# 256 short Swedish words without å, ä or ö, so any keyboard can type them: four give 32 bits, and guesses are
# limited per address, so a code cannot be found by trying.
WORDS = tuple(
    """
alg apa arm ask bad bag bal bana bank bar bas ben berg bil bit blad blixt blod blom bok bord borg bro brev
bris bulle buss by dag dal dans deg dike dimma dis docka dragon dusch ek eld ena falk fax fest fil film
fisk fjord flagga fluga flod fot fras frukt fyr gata get glas glass gran gris grus gul hage hals hamn hand
hare hatt hav hem hink hjort hus huva id igel is jord juni kaka kam kanel kanot kant karta katt kista klock
klubb knapp ko kol kompis kor kork kran krok kudde kula kung kust lada lampa land lax lera linje lo lok lucka
lunch lur mal mast matta melon mil mink mjol moln mos mur mus nagel natt nav nebb nod norr nos not nyckel
oliv orm oxe paj palm papp park pil pinne pizza plan plats plog post potta prins puck pump radio ram ras
regn ring ris ros rot rum ruta sadel saft salt sand sax scen sill sjal sko skog skor sky sol sopp spik
sport stad stam sten stol storm strand strut sula svamp tak tall tand tavla taxi te tid tiger topp torg
tom tork tramp trumma tuba tult tupp tvar uggla ugn ulv vagn val vals varg vas vatten vecka vik vind vinter
vrak vulkan yxa zebra akter anka bagge blyg bock bulldog cykel degel elva fena fika gnista hylla jacka
kappa kex kobra lakan limpa loppa mango mussla nalle orgel padda panna pelikan penna piano rabarber hallon citron tomat gurka banan
""".split()
)
PATTERN = re.compile(r"^[a-z]+(?: [a-z]+){3}$")


def new_code() -> str:
    return "-".join(secrets.choice(WORDS) for _ in range(4))


def normalise(typed: str) -> str | None:
    """The code as stored: lower case, words joined by '-'; None when it cannot be a code."""
    words = " ".join(re.split(r"[\s\-_.,]+", typed.strip().lower())).strip()
    return words.replace(" ", "-") if PATTERN.match(words) and len(words) <= 80 else None
