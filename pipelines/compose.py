"""Compose the answer a resident reads — a pure function from typed records to a typed answer.

No language model: every line comes from a unit record and carries the marker ``[n]`` of its citation.

For a resident the answer leads with a next step: the service or procedure that helps (with its contact card),
then what the sources say, then the city's plans *as plans*, with their time frame. Collective or internal
bodies ("Werkleitungen", "Stadt Jena") stay in the cited text and never get a card. When the question asks for
a detail (a fee, opening hours, documents …) that no source gives, the answer says so and names the contact:
it is ``partial``, not dressed up as complete. Staff questions keep the office-first answer.
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from typing import Any, Literal

from pipelines.bidi import RTL_LANGUAGES, isolate_ltr
from pipelines.details import missing_details
from pipelines.evidence import Quote, select_quote
from pipelines.i18n import message
from pipelines.records import CONTACT_KINDS, OfficeCard, UnitRecord, has_contact
from pipelines.settings import SIMPLE_GERMAN

#: The measure "Sprachmittlung in all offices with customer contact", cited when a non-German speaker is sent
#: to an office.
MEDIATION_UNIT = "ik/2.1/z4/m1"
#: Whom the answer names when the sources do not cover a question, and which of their contact details: advice
#: on first steps in Jena (its address), and the city's portal for newcomers (its web address only: its e-mail
#: address was given in 2022 for Ukraine help). Both are sourced in corpus/services, with whom they serve.
FALLBACK_CONTACTS: dict[str, tuple[str, ...]] = {"svc/welcome-center": CONTACT_KINDS, "svc/neu-in-jena": ("website",)}
FALLBACK_UNITS = tuple(FALLBACK_CONTACTS)

Coverage = Literal["full", "partial", "none"]
_YEAR = re.compile(r"\b(20\d\d)\b")


@dataclass(frozen=True)
class Limits:
    """How much one answer shows."""

    see_also: int = 2
    max_staff_measures: int = 8
    max_contacts: int = 3
    max_lead_lines: int = 8
    max_plans: int = 2


@dataclass(frozen=True)
class ContactCard:
    """Who a resident can turn to, and how: one card, most relevant first."""

    id: str
    kind: str
    name: str
    name_translated: str | None
    role: Literal["lead", "responsible", "office", "related", "fallback"]
    contact: dict[str, list[dict[str, Any]]]
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QuotedLines:
    """The lines of a long unit that answer the question: where they stand in the German text of record
    (``lines``, from 0), that text verbatim, its translation in the answer's language, and a source-page
    address that highlights them."""

    lines: list[int]
    text: str
    text_translated: str | None
    url: str


@dataclass(frozen=True)
class Citation:
    n: int
    id: str
    kind: str
    section: str
    title: str
    text: str
    text_translated: str | None
    source: str
    as_of: str
    url: str
    quote: QuotedLines | None = None


@dataclass(frozen=True)
class ComposedAnswer:
    """The answer fields of the API contract (``translation`` is added by the translator)."""

    question: str
    lang: str
    detected_lang: str
    answered: bool
    coverage: Coverage
    missing: list[str]
    answer: str
    answer_de: str
    simple: bool
    citations: list[Citation]
    contacts: list[ContactCard]
    offices: list[dict[str, Any]]
    services: list[dict[str, Any]]
    intent: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain dicts and lists, every container a copy (what ``dataclasses.asdict`` returns)."""
        return _plain(self)  # type: ignore[no-any-return]


_ATOMS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` of a value, in under a third of the time for what an answer is made of.

    asdict asks of every one of an answer's ~250 values whether it is a dataclass, a named tuple, a list or a
    dict, and deep-copies every string; here the common types are tried first and atoms returned as they are
    (an atom's deep copy is itself). Every other type is treated as asdict treats it.
    """
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {_plain(key): _plain(item) for key, item in value.items()}
    if kind is list:
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return kind(*[_plain(item) for item in value])
    if isinstance(value, (list, tuple)):
        return kind(_plain(item) for item in value)
    if isinstance(value, dict):
        return kind((_plain(key), _plain(item)) for key, item in value.items())
    return copy.deepcopy(value)


@dataclass(frozen=True)
class Question:
    """What was asked, and how the pipeline read it."""

    text: str
    language: str          # the language to compose in (has a message catalog)
    asker_language: str    # the language asked in (decides the mediation hint)
    detected_language: str
    answerable: bool
    intent: str = "resident"
    simple: bool = False
    confidence: float = 0.0


class _Citations:
    """Numbered citations in order of first use."""

    def __init__(self) -> None:
        self.records: OrderedDict[str, UnitRecord] = OrderedDict()

    def add(self, record: UnitRecord) -> int:
        self.records.setdefault(record.id, record)
        return list(self.records).index(record.id) + 1


# -- choosing what leads -------------------------------------------------------------------------------------
def choose_lead(ranked: list[UnitRecord], scores: list[float], related: dict[str, UnitRecord]) -> UnitRecord | None:
    """The unit a resident can act on: the best answer if it is a service or procedure; for a plan, the first
    service its own practice examples name ("Praxis-Beispiele: Kommunale Antidiskriminierungsstelle, …"), else a
    service or procedure ranked close to it, else what its editors linked to it; else an office that can be
    contacted; None when there is nothing to act on."""
    if not ranked:
        return None
    top = ranked[0]
    if top.practical:
        return top
    for unit_id in top.practice_named:
        if unit_id in related:
            return related[unit_id]
    top_score = scores[0] if scores else 0.0
    for record, score in list(zip(ranked, scores, strict=False))[1:3]:
        if record.practical and score >= 0.5 * top_score:
            return record
    ranked_ids = [r.id for r in ranked]
    linked = sorted((u for u in top.practice if u in related),
                    key=lambda u: ranked_ids.index(u) if u in ranked_ids else len(ranked_ids))
    if linked:
        return related[linked[0]]
    if top.kind == "office" and has_contact(top.contact):
        return top
    return None


def contact_cards(lead: UnitRecord | None, top: UnitRecord, related: dict[str, UnitRecord], language: str,
                  limit: int, ranked: list[UnitRecord] | None = None) -> list[tuple[ContactCard, UnitRecord]]:
    """Contact cards, most relevant first, each with the record it is cited from: the lead service; for a
    procedure, the services that handle it, then its own contact; then contactable offices of the answer.
    When none of these can be reached, the next services among the best answers that can."""
    cards: OrderedDict[str, tuple[ContactCard, UnitRecord]] = OrderedDict()

    def add(record: UnitRecord, role: str) -> None:
        if record.id not in cards and has_contact(record.contact):
            cards[record.id] = (ContactCard(record.id, record.kind, record.title, _translated(record, language),
                                            role, record.contact, list(record.sources)), record)  # type: ignore[arg-type]

    if lead is not None:
        if lead.kind == "procedure":
            for unit_id in lead.responsible:
                if unit_id in related:
                    add(related[unit_id], "responsible")
        add(lead, "lead")
    for record in (lead, top):
        for card in (record.office_cards if record is not None else ()):
            if not card.contactable:
                continue
            service = related.get(card.service or "")
            if service is not None:
                add(service, "office")
            elif card.id not in cards:
                translated = card.names.get(language) if language != "de" else None
                cards[card.id] = (ContactCard(card.id, "office", card.name, translated, "office", card.contact),
                                  record)
    if not cards:
        for record in (ranked or [])[:3]:
            if record.practical:
                add(record, "related")
            for unit_id in record.practice_named if record.plan else ():
                if unit_id in related:
                    add(related[unit_id], "related")
    return list(cards.values())[:limit]


def _translated(record: UnitRecord, language: str) -> str | None:
    title = record.titles.get(language) if language != "de" else None
    return title if title and title != record.title else None


# -- formatting -----------------------------------------------------------------------------------------------
def _teaser(text: str, limit: int = 90, title: str | None = None) -> str:
    """The first sentence (or line) of a text, cut at a word boundary. A first line that only repeats the
    title is skipped; a line that introduces the next one ("Die Stadt Jena hat sich vorgenommen:") is joined
    with it."""
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    if title and len(lines) > 1 and lines[0].rstrip(".") == title.rstrip("."):
        lines = lines[1:]
    first = lines[0] if lines else ""
    if first.endswith(":") and len(lines) > 1:
        first = f"{first} {lines[1]}"
    for end in (". ", "? ", "! ", "。", "؟ "):
        if end in first:
            first = first.split(end, 1)[0] + end.strip()
            break
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + " …"


def _lead_text(text: str, max_lines: int) -> str:
    """The first paragraph of a long text (a service describes much more than an answer needs)."""
    lines = text.split("\n\n", 1)[0].split("\n")
    lead = "\n".join(lines[:max_lines])
    return lead if lead == text else f"{lead} …"


def _as_of(item: dict[str, Any], language: str) -> str:
    date = item.get("as_of")
    text = message(language, "answer.as_of", date=date) if date else message(language, "answer.as_of_unknown")
    if item.get("dated"):
        text = f"{text}, {message(language, 'answer.dated')}"
    return text


def contact_details(contact: dict[str, list[dict[str, Any]]], language: str) -> str:
    """Every contact detail with its kind and date, in the order phone, e-mail, web, address, hours."""
    parts = []
    for kind in CONTACT_KINDS:
        for item in contact.get(kind) or []:
            # An editor's note can be a restriction ("nur für bestimmte Anträge"): it is kept in every language,
            # in German as written (the card shows it the same way); "möglicherweise veraltet" is already said.
            shown = item.get("note") and not (item.get("dated") and "veraltet" in item["note"])
            note = (f", {item['note']}" if language == "de" else f", „{item['note']}“") if shown else ""
            parts.append(f"{message(language, f'contact.{kind}')}: {item['value']} ({_as_of(item, language)}{note})")
    return "; ".join(parts)


def termin_text(termin: str | None, language: str) -> str | None:
    """A measure's time frame in words ("bis 2027", "fortlaufend"), or None."""
    if not termin:
        return None
    lowered = termin.lower()
    if "fortlaufend" in lowered or "dauer" in lowered:
        return message(language, "termin.fortlaufend")
    if "jährlich" in lowered:
        return message(language, "termin.jaehrlich")
    year = _YEAR.search(termin)
    return message(language, "termin.bis", year=year.group(1)) if year else termin


def plan_header(record: UnitRecord, language: str) -> str:
    """How a plan is introduced: the city's intention with its time frame, never a present fact."""
    termin = termin_text(record.termin, language)
    if termin:
        return message(language, "answer.plan_deadline", termin=termin)
    return message(language, "answer.plan")


def _title(record: UnitRecord, language: str) -> str:
    if record.kind in ("office", "service", "procedure"):
        return record.name(language)
    return _teaser(record.text(language, plain_german=True))


# -- composition ----------------------------------------------------------------------------------------------
class _Composer:
    def __init__(self, question: Question, ranked: list[UnitRecord], scores: list[float],
                 related: dict[str, UnitRecord], limits: Limits) -> None:
        self.q = question
        self.ranked = ranked
        self.related = related
        self.limits = limits
        self.top = ranked[0] if ranked else None
        self.lead = choose_lead(ranked, scores, related) if question.intent != "staff" else None

    def cards(self, language: str) -> list[tuple[ContactCard, UnitRecord]]:
        if self.top is None:
            return []
        return contact_cards(self.lead, self.top, self.related, language, self.limits.max_contacts, self.ranked)

    @cached_property
    def quote(self) -> Quote | None:
        """The answering lines of a long lead unit, chosen once for the asker's language (every language of the
        answer shows the same paragraphs); None in staff and Einfache-Sprache answers, which show whole texts."""
        if self.top is None or self.q.simple or self.q.intent == "staff":
            return None
        return select_quote(self.q.text, self.q.language, self.lead or self.top)

    @cached_property
    def missing(self) -> list[str]:
        """Details asked for that the lead (or best) unit and its services do not give; the same in every
        language, so computed once."""
        if self.top is None:
            return []
        focus = self.lead or self.top
        givers = [focus, *(self.related[u] for u in focus.responsible if u in self.related)]
        return missing_details(self.q.text, givers)

    def lines(self, language: str, cites: _Citations) -> list[str]:
        assert self.top is not None
        if self.q.intent == "staff" and not self.q.simple:
            return self._staff(language, cites)
        lines: list[str] = []
        main = self.lead or self.top
        n = cites.add(main)
        text = main.text(language)
        if main.plan:
            lines.append(plan_header(main, language))
        quote = self.quote
        if quote is not None and quote.record.id == main.id:
            lines.append(message(language, "answer.quote", name=main.name(language)))
            quoted = "\n".join(quote.shown(language))
            lines.append(f"{quoted} [{n}]")
        else:
            lines.append(f"{text if self.q.simple else _lead_text(text, self.limits.max_lead_lines)} [{n}]")
        cards = self.cards(language)
        for card, record in cards:
            name = (record.short_name or card.name) if self.q.simple and record.id == card.id else _card_name(card)
            lines.append(_contact_line(name, card.contact, language, cites.add(record), self.q.simple))
        missing = self.missing
        if missing:
            what = ", ".join(message(language, f"detail.{d}") for d in missing)
            if cards:
                lines.append(message(language, "answer.partial", details=what, name=_card_name(cards[0][0])))
            else:
                lines.append(message(language, "answer.partial_no_contact", details=what))
        if self.q.simple:
            return lines + self._glossary(main, language)
        if main is not self.top and self.top.plan:
            lines.append(f"{plan_header(self.top, language)} {_teaser(self.top.text(language), 200)} "
                         f"[{cites.add(self.top)}]")
        plans = [self.related[u] for u in main.links if u in self.related and u not in cites.records]
        if plans and main.practical:
            items = "; ".join(f"{_teaser(p.text(language))} ({termin_text(p.termin, language) or '–'}) "
                              f"[{cites.add(p)}]" for p in plans[: self.limits.max_plans])
            lines.append(message(language, "answer.city_plans", items=items))
        if self.q.asker_language != "de" and cards and MEDIATION_UNIT in self.related:
            lines.append(f"{message(language, 'answer.mediation')} [{cites.add(self.related[MEDIATION_UNIT])}]")
        return lines + self._see_also(language, cites)

    def _see_also(self, language: str, cites: _Citations) -> list[str]:
        others = [r for r in self.ranked[1:] if r.id not in cites.records][: self.limits.see_also]
        if not others:
            return []
        return [message(language, "answer.see_also", items="; ".join(f"{_title(r, language)} [{cites.add(r)}]"
                                                                    for r in others))]

    def _glossary(self, record: UnitRecord, language: str) -> list[str]:
        if not record.glossary:
            return []
        lines = [message(language, "answer.glossary")]
        for term in record.glossary:
            lang = language if language in term["term"] else "de"
            lines.append("- " + message(language, "answer.glossary_item", term=term["term"][lang],
                                        text=term["text"][lang]))
        return lines

    def _staff(self, language: str, cites: _Citations) -> list[str]:
        top = self.top
        assert top is not None
        if top.kind == "office":
            n = cites.add(top)
            header = message(language, "answer.staff_measures", office=top.name(language), count=len(top.measures))
            lines = [f"{header} [{n}]"]
            for unit_id in top.measures[: self.limits.max_staff_measures]:
                record = self.related.get(unit_id)
                if record is not None:
                    section = record.section.split(" › ")[0]
                    lines.append(f"- {section}: {_title(record, language)} [{cites.add(record)}]")
        else:
            n = cites.add(top)
            lines = []
            names = [_office_name(c, language) for c in top.office_cards]
            if names:
                key = "answer.responsible_one" if len(names) == 1 else "answer.responsible_many"
                lines.append(f"{message(language, key, office=names[0], offices=', '.join(names))} [{n}]")
            if top.plan:
                lines.append(plan_header(top, language))
            lines.append(f"{_lead_text(top.text(language), self.limits.max_lead_lines)} [{n}]")
        for card, record in self.cards(language):
            lines.append(_contact_line(_card_name(card), card.contact, language, cites.add(record)))
        return lines + self._see_also(language, cites)

    def not_covered(self, language: str, cites: _Citations) -> tuple[list[str], list[ContactCard]]:
        lines = [message(language, "answer.not_covered")]
        cards = []
        for unit_id, kinds in FALLBACK_CONTACTS.items():
            record = self.related.get(unit_id)
            if record is None:
                continue
            n = cites.add(record)
            lines.append(f"{message(language, 'answer.fallback', name=record.name(language))} "
                         f"{_teaser(record.text(language), 240, record.title)} [{n}]")
            contact = {kind: items for kind, items in record.contact.items() if kind in kinds and items}
            if has_contact(contact):
                lines.append(_contact_line(record.name(language), contact, language, n))
                cards.append(ContactCard(record.id, record.kind, record.title, _translated(record, language),
                                         "fallback", contact, list(record.sources)))
        return lines, cards


def _contact_line(name: str, contact: dict[str, list[dict[str, Any]]], language: str, n: int,
                  simple: bool = False) -> str:
    """"Kontakt (Name): Telefon: …; E-Mail: … [n]" — in Einfache Sprache one detail per line in short
    sentences, without the editors' notes."""
    if not simple:
        return f"{message(language, 'answer.contact', name=name, details=contact_details(contact, language))} [{n}]"
    items = []
    for kind in CONTACT_KINDS:
        for item in contact.get(kind) or []:
            items.append(f"- {message(language, f'contact.{kind}')}: {item['value']}. {_as_of(item, language)}.")
    return "\n".join([f"{message(language, 'answer.contact_simple', name=name)} [{n}]", *items])


def _office_name(card: OfficeCard, language: str) -> str:
    translated = card.names.get(language) if language != "de" else None
    return f"{card.name} ({translated})" if translated and translated != card.name else card.name


def _card_name(card: ContactCard) -> str:
    return f"{card.name} ({card.name_translated})" if card.name_translated else card.name


def _citation(n: int, record: UnitRecord, language: str, simple: bool, quote: Quote | None = None,
              quote_translated: bool = True) -> Citation:
    if language == "de":
        translated = record.texts.get(SIMPLE_GERMAN) if simple else None
    else:
        translated = record.texts.get(language)
    quoted = None
    if quote is not None and quote.record.id == record.id:
        # An answer composed in English for a language without catalog is machine-translated afterwards: the
        # quote then keeps only the German text of record rather than an English one labelled as the asker's.
        quoted = _quoted_lines(quote, language if quote_translated else "de")
    return Citation(n=n, id=record.id, kind=record.kind, section=record.section, title=record.title,
                    text=record.text_de, text_translated=translated, source=record.source, as_of=record.as_of,
                    url=record.url, quote=quoted)


def _quoted_lines(quote: Quote, language: str) -> QuotedLines:
    """The citation's pointer to the quoted lines; its url asks the source page to highlight them
    (``/sources/procedures?unit=proc-wohnung-anmelden&lines=4,5#proc-wohnung-anmelden``)."""
    page, _, anchor = quote.record.url.partition("#")
    lines = ",".join(str(i) for i in quote.record_lines)
    url = f"{page}?unit={anchor}&lines={lines}#{anchor}" if anchor else quote.record.url
    return QuotedLines(lines=list(quote.record_lines), text=quote.text_de,
                       text_translated=quote.translated(language), url=url)


def _offices(records: list[UnitRecord], language: str) -> list[dict[str, Any]]:
    """Every responsible body of the cited units (the contract's ``offices``, as before). What a resident sees
    as a card is ``contacts``: only bodies that can be reached."""
    offices: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for record in records:
        for card in record.office_cards:
            offices.setdefault(card.id, {
                "id": card.id, "name": card.name,
                "name_translated": card.names.get(language) if language != "de" else None,
                "type": card.type, "service": card.service, "contact": card.contact,
            })
    return list(offices.values())


def _services(records: list[UnitRecord]) -> list[dict[str, Any]]:
    return [{"id": r.id, "name": r.title, "category": r.category, "contact": r.contact, "sources": list(r.sources)}
            for r in records if r.kind == "service"]


def compose_answer(question: Question, ranked: list[UnitRecord], scores: list[float],
                   related: dict[str, UnitRecord], limits: Limits | None = None) -> ComposedAnswer:
    """The answer in ``question.language`` and in German (``[n]`` means the same citation in both).

    :param ranked: the ranked units, best first (simple mode uses the one that leads).
    :param scores: their ranking probabilities.
    :param related: records the answer may cite besides the ranked ones (services that handle a procedure,
        what puts a plan into practice, plans a procedure belongs to, contacts of offices, the mediation
        measure, the fallback contacts), by unit id.
    """
    limits = limits or Limits()
    composer = _Composer(question, ranked, scores, related, limits)
    answered = bool(question.answerable and ranked)
    texts: dict[str, str] = {}
    cited: list[UnitRecord] = []
    contacts: list[ContactCard] = []
    for lang in dict.fromkeys((question.language, "de")):
        cites = _Citations()
        if answered:
            lines = composer.lines(lang, cites)
            lang_cards = [card for card, _ in composer.cards(lang)]
        else:
            lines, lang_cards = composer.not_covered(lang, cites)
        text = "\n".join(lines)
        texts[lang] = isolate_ltr(text) if lang in RTL_LANGUAGES else text
        if lang == question.language:
            cited = list(cites.records.values())
            contacts = lang_cards
    missing = composer.missing if answered else []
    coverage: Coverage = "none" if not answered else ("partial" if missing else "full")
    return ComposedAnswer(
        question=question.text, lang=question.language, detected_lang=question.detected_language,
        answered=answered, coverage=coverage, missing=missing, answer=texts[question.language],
        answer_de=texts["de"], simple=question.simple,
        citations=[_citation(i, r, question.language, question.simple, composer.quote if answered else None,
                             question.asker_language == question.language)
                   for i, r in enumerate(cited, start=1)],
        contacts=contacts, offices=_offices(cited, question.language),
        services=_services(cited),
        intent=question.intent, confidence=round(question.confidence, 4),
    )
