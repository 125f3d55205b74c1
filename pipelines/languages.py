"""Language codes Wegweiser accepts, and the script rules that make detection robust on short questions."""

from __future__ import annotations

import re

# ISO 639-1 codes: a request may ask for any real language; we answer from memory, argos or in German.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el
en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it
iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my
na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm
sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za
zh zu
""".split()) | {"ckb", "prs"}

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
UKRAINIAN_LETTERS = re.compile(r"[іїєґІЇЄҐ]")
RUSSIAN_LETTERS = re.compile(r"[ыэъёЫЭЪЁ]")
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
PERSIAN_LETTERS = re.compile(r"[پچژگکی]")
ARABIC_ONLY_LETTERS = re.compile(r"[ةيكى]")


#: Codes that name a language Wegweiser serves under another code: Dari (Afghanistan) reads the Farsi texts,
#: which use words both understand or give the Dari word too.
ALIASES = {"prs": "fa", "fa-af": "fa", "fa-ir": "fa", "pes": "fa", "uk-ua": "uk", "ar-sy": "ar"}


_TAG = re.compile(r"^([a-z]{2,3})(?:-(?:[a-z]{2}|[a-z]{4}|\d{3}))?$")


def normalize_language(code: str) -> str:
    """The code Wegweiser serves a requested language under: a language tag with a region or script counts as
    its language (``de-AT`` → ``de``), Dari as Farsi (``prs``, ``fa-AF`` → ``fa``). Anything else is returned
    as it is (and then refused by :func:`is_language_code`)."""
    code = code.strip().lower().replace("_", "-")
    if code in ALIASES:
        return ALIASES[code]
    match = _TAG.match(code)
    if not match:
        return code
    return ALIASES.get(match.group(1), match.group(1))


def is_language_code(code: str) -> bool:
    """True for an ISO 639-1 code (and a few ISO 639-3 codes used for Kurdish Sorani and Dari)."""
    return code in ISO_639_1
