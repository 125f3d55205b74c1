"""GET /api/languages: German as the source, the translation-memory languages by their own names."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pipelines.settings import SUPPORTED_LANGUAGES

pytestmark = pytest.mark.integration

OWN_NAMES = {"de": "Deutsch", "en": "English", "uk": "Українська", "ru": "Русский", "ar": "العربية",
             "fa": "فارسی", "tr": "Türkçe", "fr": "Français"}


def test_german_is_the_source_and_the_seven_memory_languages_follow(client: TestClient) -> None:
    response = client.get("/api/languages")
    assert response.status_code == 200
    languages = response.json()["languages"]
    assert languages[0] == {"code": "de", "label": "Deutsch", "dir": "ltr", "level": "source"}
    memory = {item["code"]: item for item in languages if item["level"] == "memory"}
    assert set(memory) == set(SUPPORTED_LANGUAGES) - {"de"}
    assert len(memory) == 7


def test_languages_carry_their_own_names_and_direction(client: TestClient) -> None:
    languages = {item["code"]: item for item in client.get("/api/languages").json()["languages"]}
    for code, name in OWN_NAMES.items():
        assert languages[code]["label"] == name
        assert languages[code]["dir"] == ("rtl" if code in {"ar", "fa"} else "ltr")


def test_other_languages_are_explained(client: TestClient) -> None:
    fallback = client.get("/api/languages").json()["fallback"]
    assert "German" in fallback and "ISO 639-1" in fallback
