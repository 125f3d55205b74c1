"""The message catalog: UI strings and answer templates per language (ICU-style JSON, ``{name}`` arguments).

One catalog serves the answer builder and the widget (``/widget/messages/<lang>.json``). A language either has a
complete catalog or none at all: a missing key is an error, never a silent fallback to English.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

MESSAGES_DIR = Path(__file__).resolve().parent / "messages"
_ARGUMENT = re.compile(r"\{([a-z_]+)\}")
_LANG = re.compile(r"^[a-z]{2,3}$")


class MissingMessageError(KeyError):
    """A catalog lacks a key that the master catalog (German) has."""


@lru_cache(maxsize=32)
def catalog(language: str) -> dict[str, str]:
    """The whole catalog of a language (keys starting with ``@`` are metadata).

    :raises FileNotFoundError: when the language has no catalog.
    """
    if not _LANG.match(language):
        raise FileNotFoundError(f"no message catalog for {language!r}")
    path = MESSAGES_DIR / f"{language}.json"
    if not path.exists():
        raise FileNotFoundError(f"no message catalog for {language!r}")
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _catalog_languages() -> tuple[str, ...]:
    # Read once per process, like the catalogs themselves: the answer translator asks on every question, and a
    # directory listing there costs system calls (each a chance for another thread to take the interpreter).
    found = sorted(p.stem for p in MESSAGES_DIR.glob("*.json"))
    return tuple(sorted(found, key=lambda lang: (lang != "de", lang)))


def catalog_languages() -> list[str]:
    """Languages with a catalog, German first (the catalogs ship with the package: read once per process)."""
    return list(_catalog_languages())


def has_catalog(language: str) -> bool:
    """True when the language has its own catalog."""
    return language in _catalog_languages()


def message(language: str, key: str, **arguments: object) -> str:
    """A formatted message.

    :raises MissingMessageError: when the language's catalog lacks the key.
    :raises FileNotFoundError: when the language has no catalog at all.
    """
    messages = catalog(language)
    if key not in messages:
        raise MissingMessageError(f"message {key!r} is missing in the {language} catalog")
    return _ARGUMENT.sub(lambda m: str(arguments.get(m.group(1), m.group(0))), messages[key])


def direction(language: str) -> str:
    """``rtl`` or ``ltr`` for a language."""
    return "rtl" if language in ("ar", "fa", "he", "ur", "ps", "ckb") else "ltr"


def label(language: str) -> str:
    """The language's own name (from its catalog, else the code)."""
    try:
        return catalog(language).get("@label", language)
    except FileNotFoundError:
        return NATIVE_NAMES.get(language, language)


# Own names of languages that may be served through argostranslate or the German fallback.
NATIVE_NAMES = {
    "de": "Deutsch", "en": "English", "uk": "Українська", "ru": "Русский", "ar": "العربية", "fa": "فارسی",
    "tr": "Türkçe", "fr": "Français", "es": "Español", "it": "Italiano", "pl": "Polski", "ro": "Română",
    "bg": "Български", "sq": "Shqip", "ku": "Kurdî", "ps": "پښتو", "ti": "ትግርኛ", "so": "Soomaali",
    "sw": "Kiswahili", "vi": "Tiếng Việt", "zh": "中文", "hi": "हिन्दी", "ur": "اردو", "pt": "Português",
    "nl": "Nederlands", "cs": "Čeština", "hu": "Magyar", "el": "Ελληνικά", "sr": "Српски", "hr": "Hrvatski",
    "ka": "ქართული", "hy": "Հայերեն", "az": "Azərbaycanca", "am": "አማርኛ", "ja": "日本語", "ko": "한국어",
    "id": "Bahasa Indonesia", "th": "ไทย", "he": "עברית", "ckb": "کوردی",
}
