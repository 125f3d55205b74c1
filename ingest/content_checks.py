"""Checks that a derived text (Einfache Sprache, a translation) says what its German source says.

A content review found the commonest ways a plain-language or translated text misleads a resident:

* **modality** — a measure or goal (the city's plan) turned into a present fact or a guarantee, or "soll"
  turned into "must";
* **restriction** — "only by appointment", "only for Jena", "not for private persons" dropped;
* **contact** — a phone number or e-mail address of the source dropped (the victims' hotline 116 006);
* **dated** — the label "possibly outdated" dropped.

These checks are deliberately simple word lists per language: they catch a missing intention word, a missing
"only", a missing number. They cannot judge a translation; they make the commonest errors visible at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.units import Unit

FINDING_CLASSES = ("modality", "obligation", "restriction", "contact", "dated")

#: The fixed "possibly outdated" label in every language (corpus/README.md).
DATED_LABELS = {
    "de": "möglicherweise veraltet",
    "de-simple": "möglicherweise veraltet",
    "en": "may be out of date",
    "uk": "може бути застарілою",
    "ru": "может быть устаревшей",
    "ar": "قد تكون هذه المعلومة قديمة",
    "fa": "ممکن است قدیمی باشد",
    "tr": "güncel olmayabilir",
    "fr": "n’est peut-être plus à jour",
}

# Words that mark an intention, a plan or a goal (what a measure is), per language.
_INTENTION = {
    "de-simple": r"\b(soll|sollen|sollte|sollten|will|wollen|plan|vorgenommen|geplant|plant|ziel|möchte|"
                 r"prüf|bemüh|setzt sich|daueraufgabe|dauerhaft|bis \d{4}|ab \d{4}|jedes jahr|jährlich)",
    "en": r"\b(should|shall|plan|plans|planned|aim|aims|goal|intend|intends|intention|wants? to|is to|are to|"
          r"will|by \d{4}|until \d{4}|from \d{4}|permanent task|ongoing|every year|annual|check|examine)",
    "uk": r"(мають|має |повинн|план|мета|прагн|хоче|буде|будуть|намір|до \d{4}|з \d{4}|постійн|щороку|перевір)",
    "ru": r"(должн|план|цель|стрем|хочет|будет|будут|намер|до \d{4}|с \d{4}|постоянн|ежегодно|провер)",
    "ar": r"(ينبغي|من المقرر|يجب أن|تخطط|تهدف|هدف|تريد|تسعى|سوف|سي|ست|حتى \d{4}|بحلول|دائم|كل عام|سنوي|"
          r"تعتزم|تنوي|خطة|تفحص|تدرس)",
    "fa": r"(قرار است|باید|برنامه|هدف|می‌خواهد|میخواهد|خواهد|تا سال|تا \d{4}|از \d{4}|دائمی|همیشگی|هر سال|"
          r"سالانه|قصد|بررسی)",
    "tr": r"(meli|malı|plan|hedef|amaç|istiyor|ecek|acak|niyet|\d{4}['’]?[ea] kadar|\d{4} yılına kadar|"
          r"sürekli|kalıcı|her yıl|yıllık|incele)",
    "fr": r"(doit|doivent|devrait|devraient|prévoit|prévu|objectif|vise|veut|souhaite|va |vont |sera|seront|"
          r"d’ici \d{4}|d'ici \d{4}|jusqu|à partir de \d{4}|permanent|chaque année|annuel|intention|examiner)",
}
# Words that make a plan an obligation; flagged where the German source says no "muss/müssen".
_OBLIGATION = {
    "en": r"\bmust\b|\bhave to\b|\bhas to\b|\bare obliged\b",
    "uk": r"зобов['’]язан",
    "ru": r"обязан",
    "ar": r"ملزم|مُلزم|إلزامي",
    "tr": r"zorunda",
    "fr": r"sont obligés|est obligé|obligatoirement",
}
_GERMAN_OBLIGATION = re.compile(r"\b(muss|müssen|musst|verpflichtet|pflicht)", re.IGNORECASE)
# "only / not" — a restriction of the source must keep a restriction word.
_GERMAN_RESTRICTION = re.compile(r"(?<!nicht )\b(nur|ausschließlich|nicht für|keine? anwaltliche|nur mit termin|"
                                 r"nur nach vereinbarung|nur nach termin)\b", re.IGNORECASE)
_RESTRICTION = {
    "de-simple": r"\b(nur|ausschließlich|nicht|kein|keine)\b",
    "en": r"\b(only|not|no|exclusively|solely)\b",
    "uk": r"(лише|тільки|виключно|не )",
    "ru": r"(только|лишь|исключительно|не )",
    "ar": r"(فقط|لا |ليس|غير |حصرا|حصرًا)",
    "fa": r"(فقط|تنها|نه |نمی|ن[اه]?)",
    "tr": r"(sadece|yalnızca|yalnız|değil|yok|hariç)",
    "fr": r"(seulement|uniquement|exclusivement|ne |n’|n')",
}
_PHONE = re.compile(r"(?<![\d.])(?:\+\d{2}\s?)?\(?0?\d{2,5}\)?[\s/-]?\d[\d\s-]{1,}\d(?!\d|\.\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_YEARISH = re.compile(r"^(19|20)\d\d$")


@dataclass(frozen=True)
class Finding:
    """One way a derived text departs from its German source."""

    unit_id: str
    language: str
    kind: str
    detail: str


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def contact_tokens(text: str) -> set[str]:
    """Phone numbers (as digit strings) and e-mail addresses in a text; years and short numbers are not
    phone numbers."""
    tokens = {m.lower() for m in _EMAIL.findall(text)}
    for match in _PHONE.findall(text):
        digits = _digits(match)
        if len(digits) >= 6 and not _YEARISH.match(digits):
            tokens.add(digits)
    return tokens


def check_derived(unit: Unit, language: str, derived: str, simple: str | None = None) -> list[Finding]:
    """How ``derived`` (the ``language`` version of ``unit``) departs from the unit's German text of record.

    :param simple: the Einfache-Sprache text a translation was made from: an obligation it states ("was man
        auf der Stelle können muss") may be translated as one.
    """
    findings: list[Finding] = []
    source = unit.text
    derived_digits = _digits(derived)
    for token in contact_tokens(source):
        present = token in derived.lower() if "@" in token else token in derived_digits
        if not present:
            findings.append(Finding(unit.id, language, "contact", token))
    if DATED_LABELS["de"] in source and DATED_LABELS.get(language, "") not in derived:
        findings.append(Finding(unit.id, language, "dated", DATED_LABELS.get(language, "")))
    intention = _INTENTION.get(language)
    if unit.kind in ("measure", "goal") and intention and not re.search(intention, derived, re.IGNORECASE):
        findings.append(Finding(unit.id, language, "modality", "no word of intention (plan, goal, should)"))
    obligation = _OBLIGATION.get(language)
    german_obligation = _GERMAN_OBLIGATION.search(source) or (simple and _GERMAN_OBLIGATION.search(simple))
    if unit.kind in ("measure", "goal") and obligation and not german_obligation:
        match = re.search(obligation, derived, re.IGNORECASE)
        if match:
            findings.append(Finding(unit.id, language, "obligation", match.group(0)))
    restriction = _RESTRICTION.get(language)
    german_restriction = _GERMAN_RESTRICTION.search(source)
    if restriction and german_restriction and not re.search(restriction, derived, re.IGNORECASE):
        findings.append(Finding(unit.id, language, "restriction", german_restriction.group(0)))
    return findings
