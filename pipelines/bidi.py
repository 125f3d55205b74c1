"""Keep left-to-right pieces in order inside right-to-left text.

In an Arabic or Farsi sentence, ``03641-492637`` is displayed as ``492637-03641`` and ``Mo 9–12`` as
``12–9 Mo``: the Unicode bidi algorithm reorders digits and neutral characters around them. Wrapping each such
piece in a first-strong/left-to-right isolate (U+2066 … U+2069) keeps it as written, in any renderer.
"""

from __future__ import annotations

import re

LRI, PDI = "\u2066", "\u2069"
RTL_LANGUAGES = ("ar", "fa")

_PIECE = re.compile(
    r"(?:https?://|www\.)[^\s\u2066\u2069]+[^\s.,;:!?)\]\u2066\u2069]"      # web addresses
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"                                         # e-mail addresses
    r"|\+?\d[\d\s/().:–-]*\d"                                                # phone numbers, dates, times, ranges
    r"|[A-Za-zÄÖÜäöüßÉéÈèàçâêîôû][A-Za-zÄÖÜäöüßÉéÈèàçâêîôû0-9.,'’„“\"()/&+–\s-]*[A-Za-zÄÖÜäöüßéèàçâêîôû0-9)“\"]"
)
_MARKER_DIGITS = re.compile(r"^\d{1,2}$")


def isolate_ltr(text: str) -> str:
    """``text`` with every web address, e-mail address, number run and Latin-script run isolated as LTR.

    Citation markers (``[3]``) are left alone: they are bracketed numbers the widget turns into buttons.
    """
    def wrap(match: re.Match[str]) -> str:
        piece = match.group(0)
        start, end = match.start(), match.end()
        if _MARKER_DIGITS.match(piece) and text[start - 1:start] == "[" and text[end:end + 1] == "]":
            return piece
        return f"{LRI}{piece}{PDI}"

    return _PIECE.sub(wrap, text)


def strip_isolates(text: str) -> str:
    """The text without the isolate marks (for comparisons and plain-text exports)."""
    return text.replace(LRI, "").replace(PDI, "")
