"""Request and response models of the HTTP API (contract: ``../shared/design/contracts.md``)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from pipelines.followup import MAX_TURNS
from pipelines.languages import is_language_code, normalize_language
from pipelines.units import is_unit_id

# Control and invisible characters, and lone surrogates (valid in JSON escapes, but not encodable as UTF-8).
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u2028\u2029\ufeff"
                      r"\ud800-\udfff]")


def clean_question(value: str) -> str:
    """NFC-normalised text without control characters, trimmed; line breaks become spaces."""
    value = unicodedata.normalize("NFC", value)
    value = _CONTROL.sub("", value).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return re.sub(r" {2,}", " ", value).strip()


def checked_question(value: str) -> str:
    """The cleaned question; rejects an empty one or one longer than 1000 characters after cleaning."""
    value = clean_question(value)
    if not value:
        raise ValueError("the question is empty")
    if len(value) > 1000:
        raise ValueError("the question is longer than 1000 characters")
    return value


#: A question as a person typed it: trimmed, control characters removed, 1–1000 characters (see above).
CheckedQuestion = Annotated[str, AfterValidator(checked_question)]


def check_language(value: str | None) -> str | None:
    """Accept ISO 639-1 codes (any case); reject anything else with a readable message."""
    if value is None:
        return None
    code = normalize_language(value)
    if not is_language_code(code):
        raise ValueError(f"unknown language code {value!r}: use an ISO 639-1 code such as 'de', 'uk' or 'ar'")
    return code


QUESTION_EXAMPLES = {
    "uk": {"summary": "Ukrainian: an interpreter for the doctor",
           "value": {"question": "Де знайти перекладача до лікаря?", "lang": None, "simple": False}},
    "ar": {"summary": "Arabic, simple language",
           "value": {"question": "أين أتعلم اللغة الألمانية؟", "lang": "ar", "simple": True}},
    "de": {"summary": "German staff question",
           "value": {"question": "Wer ist zuständig für die Sprachmittlung in den Ämtern?", "lang": "de",
                     "simple": False}},
    "fa": {"summary": "Persian: discrimination", "value": {"question": "در تراموا به من توهین کردند، کجا کمک بگیرم؟"}},
    "en": {"summary": "English: out of scope", "value": {"question": "What's the weather in Jena tomorrow?"}},
}


class PreviousTurn(BaseModel):
    """An earlier turn of the conversation, as the client holds it (the server keeps nothing)."""

    model_config = ConfigDict(extra="forbid")

    question: CheckedQuestion = Field(..., description="The earlier question, 1–1000 characters after trimming.",
                                      json_schema_extra={"minLength": 1})
    unit_ids: list[str] = Field(default_factory=list, max_length=10,
                                description="Unit ids of that turn's answer, most relevant first (its contact "
                                            "cards, then its citations). Ids the index no longer has are "
                                            "ignored.")

    @field_validator("unit_ids")
    @classmethod
    def _unit_ids(cls, value: list[str]) -> list[str]:
        for unit_id in value:
            if not is_unit_id(unit_id):
                raise ValueError(f"{unit_id[:80]!r} is not a unit id such as 'svc/vhs' or 'proc/kita-platz'")
        return value


class AskRequest(BaseModel):
    """A question to the assistant."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [e["value"] for e in
                                                                              QUESTION_EXAMPLES.values()]})

    # No maxLength in the schema: the limit applies after trimming and removing control characters, so a
    # longer raw string can be valid, which JSON Schema cannot say (the body limit bounds it anyway).
    question: CheckedQuestion = Field(..., description="The question, 1–1000 characters after trimming; control "
                                                       "characters are removed.", json_schema_extra={"minLength": 1})
    lang: str | None = Field(None, description="Answer language (ISO 639-1). Default: the question's language.",
                             max_length=8)
    simple: bool = Field(False, strict=True,  # JSON true/false only: 0, "no" or "false" are refused
                         description="Answer in Einfache Sprache (one unit, hard words explained).")
    previous: list[PreviousTurn] | None = Field(
        None, max_length=MAX_TURNS,
        description="Up to two earlier turns, oldest first, so that a follow-up ('Und wann hat die offen?') is "
                    "answered about the earlier answer. Held by the client; the server stores nothing.")

    @field_validator("lang")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return check_language(value)


class QuotePublic(BaseModel):
    """The lines of a long cited unit that answer the question (the answer quotes them)."""

    lines: list[int] = Field(description="Line numbers (from 0) of the unit's German text of record.")
    text: str = Field(description="Those lines of the German text of record, verbatim.")
    text_translated: str | None = Field(description="Unofficial translation (of the simple text) in `lang`, "
                                                    "or null.")
    url: str = Field(description="The source page with these lines highlighted.")


class CitationPublic(BaseModel):
    """A numbered citation: the German text of record, verbatim, with where it stands."""

    n: int
    id: str
    kind: Literal["measure", "goal", "field", "intro", "strategy", "service", "procedure", "office"]
    section: str
    title: str
    text: str = Field(description="German source text of the unit, verbatim.")
    text_translated: str | None = Field(description="Unofficial translation of the (simple) text, or null.")
    source: str
    as_of: str
    url: str
    quote: QuotePublic | None = Field(
        None, description="Optional: for a long service or procedure text, the lines that answer the question.")


class ContactItem(BaseModel):
    """One contact detail with its public source and date."""

    model_config = ConfigDict(extra="allow")

    value: str
    source: str
    as_of: str | None
    dated: bool | None = None
    note: str | None = None


class OfficePublic(BaseModel):
    """A responsible body and its contact (from a linked service entry, where one exists)."""

    id: str
    name: str
    name_translated: str | None = None
    type: str | None = None
    service: str | None = None
    contact: dict[str, list[ContactItem]] = Field(default_factory=dict)


class ServicePublic(BaseModel):
    """A linked service cited in the answer."""

    id: str
    name: str
    category: str | None = None
    contact: dict[str, list[ContactItem]] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)


class ContactCardPublic(BaseModel):
    """Who a resident can turn to, most relevant first: a service, a procedure's own contact or an office."""

    id: str
    kind: str
    name: str = Field(description="German name (readable at a counter).")
    name_translated: str | None = None
    role: Literal["lead", "responsible", "office", "related", "fallback"] = Field(
        description="lead: the service the answer is about; responsible: handles the procedure; office: a "
                    "responsible body with a contact; related: a service among the best answers, shown when none "
                    "of those can be reached; fallback: general advice when the sources do not cover it.")
    contact: dict[str, list[ContactItem]] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)


class TranslationInfo(BaseModel):
    """How the answer reached the asker's language."""

    method: Literal["memory", "argos", "none"]
    notice: str | None


class AskResponse(BaseModel):
    """The answer, in the asker's language, with numbered citations."""

    question: str
    lang: str
    detected_lang: str
    answered: bool
    coverage: Literal["full", "partial", "none"] = Field(
        description="full: the sources answer the question; partial: the responsible contact is known but a "
                    "detail asked for (see `missing`) is not in the sources; none: not covered.")
    missing: list[Literal["fee", "hours", "documents", "deadline", "phone", "email", "address"]] = Field(
        default_factory=list, description="Details the question asks for that no source gives.")
    answer: str = Field(description="In `lang`; in right-to-left languages numbers, addresses and Latin names "
                                    "are wrapped in Unicode isolates (U+2066…U+2069) so they keep their order.")
    answer_de: str
    simple: bool
    citations: list[CitationPublic]
    contacts: list[ContactCardPublic] = Field(
        default_factory=list, description="Contact cards, most relevant first (the same in every mode).")
    offices: list[OfficePublic]
    services: list[ServicePublic]
    translation: TranslationInfo
    dir: Literal["ltr", "rtl"] = "ltr"
    follow_up: bool = Field(False, description="True when the question was answered as a follow-up of the "
                                               "`previous` turn (about that answer's service); false for a "
                                               "question of its own.")
    generator: dict[str, Any] | None = Field(
        None, description='Only with the optional generator configured: {"used": true, "model": …} if its '
                          'verified rewrite replaced the answer, else {"used": false, "reason": …}.')


class OfficeRef(BaseModel):
    """An office named in a hit."""

    id: str
    name: str


class SearchHit(BaseModel):
    """One unit found by the staff search."""

    id: str
    kind: str
    section: str
    title: str
    text: str
    text_translated: str | None = None
    score: float
    field: str | None = None
    termin: str | None = None
    url: str
    offices: list[OfficeRef]


class SearchResponse(BaseModel):
    """Staff search results with facet counts over all candidates."""

    query: str
    lang: str
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]


class OfficeSummary(BaseModel):
    """An office in the list of all offices."""

    id: str
    name: str
    type: str | None
    aliases: list[str]
    service: str | None
    contact: dict[str, list[ContactItem]]
    units: int = Field(description="How many units name this office as responsible.")


class UnitPublic(BaseModel):
    """A unit's full record: German text of record, translations, offices, contact."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    title: str
    section: str
    text: str
    source: str
    as_of: str
    url: str
    field: str | None = None
    termin: str | None = None
    verantwortung: str | None = None
    praxis_beispiele: str | None = None
    fokus: str | None = None
    offices: list[OfficeRef] = Field(default_factory=list)
    translations: dict[str, str] = Field(default_factory=dict)
    footnotes: list[dict[str, Any]] = Field(default_factory=list)
    practice: list[str] = Field(default_factory=list, description="Services and procedures that put this plan "
                                                                  "into practice (concept units).")


class OfficeDetail(OfficeSummary):
    """An office with every unit it is responsible for."""

    responsibilities: list[UnitPublic]


class LanguageInfo(BaseModel):
    """A language the assistant can answer in, and how."""

    code: str
    label: str
    dir: Literal["ltr", "rtl"]
    level: Literal["source", "memory", "argos", "fallback"]


class LanguagesResponse(BaseModel):
    """Languages by how they are served."""

    languages: list[LanguageInfo]
    fallback: str = Field(description="Other ISO 639-1 codes are answered in German with a notice.")


class Problem(BaseModel):
    """An error: a readable message, never a traceback."""

    detail: str


class FeedbackRequest(BaseModel):
    """A resident's verdict on one answer. Only these fields: no question text, nothing free-form."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"unit_ids": ["ik/2.4/z2/m2", "svc/sprintpool"], "lang": "uk", "coverage": "full", "helpful": True,
         "reason": None},
        {"unit_ids": ["proc/wohnung-anmelden"], "lang": "de", "coverage": "partial", "helpful": False,
         "reason": "outdated_contact"}]})

    unit_ids: list[str] = Field(..., max_length=10, description="The units the answer cited (at most 10; each must "
                                                                  "exist in the served index).")
    lang: str | None = Field(..., max_length=8, description="The answer's language (one of the served languages), "
                                                            "or null.")
    coverage: Literal["full", "partial", "none"] = Field(..., description="The answer's `coverage`.")
    helpful: bool = Field(..., strict=True, description="Whether the answer helped (JSON true/false only).")
    reason: Literal["wrong", "outdated_contact", "not_understandable", "not_my_question"] | None = Field(
        ..., description="Why it did not help, or null.")

    @field_validator("unit_ids")
    @classmethod
    def _unit_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if len(value) > 120 or not is_unit_id(value):
                raise ValueError(f"not a unit id: {value[:120]!r}")
        return list(dict.fromkeys(values))  # one verdict counts once per unit
