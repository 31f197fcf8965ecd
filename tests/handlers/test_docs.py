from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "conversations.md"


def test_the_conversations_social_workers_review_are_generated_and_current():
    text = DOC.read_text(encoding="utf-8")
    for flow in ("Anonym fråga", "Ansökan om stöd", "Anhörig ansöker", "Bli uppringd (Telegram)", "Bli uppringd (SMS)",
                 "Fara mitt i en ansökan", "Kanske fara: frågan och JA", "Kanske fara: NEJ", "Radera", "Utanför kontorstid",
                 "Om SIG", "SLUTA och STARTA (SMS)"):  # fmt: skip
        assert f"## {flow}\n" in text, f"run `make docs`: {flow} is missing"
