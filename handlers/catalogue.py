"""Texts people read, in Swedish and English, from TOML files a social worker can edit."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

TEXTS = Path(__file__).parent / "texts"
LANGUAGES = ("sv", "en")


class Catalogue:
    def __init__(self, texts: dict[str, dict[str, str]], default_language: str = "sv") -> None:
        self._texts = texts
        self.default_language = default_language

    @classmethod
    def load(cls, folder: Path = TEXTS) -> Catalogue:
        texts: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            path = folder / f"{language}.toml"
            with path.open("rb") as file:
                texts[language] = _flatten(tomllib.load(file))
        return cls(texts)

    def keys(self, language: str) -> set[str]:
        return set(self._texts[language])

    def text(self, language: str, key: str, **values: Any) -> str:
        table = self._texts.get(language) or self._texts[self.default_language]
        template = table.get(key) or self._texts[self.default_language][key]
        return template.format(**values) if values else template


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value).strip("\n")  # keep deliberate spaces, as in " (till {name})"
    return flat
