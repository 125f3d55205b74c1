"""Compose the answer from the ranked units — no language model, so nothing is invented.

Every line of the answer comes from a unit record (its translation-memory text, its responsible offices, the
contact of a linked service) and carries the marker ``[n]`` of the citation it comes from. Each citation
carries the German text of record verbatim.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.translation_memory_lookup import TranslationMemoryLookup, display_text
from pipelines.i18n import has_catalog, message
from pipelines.settings import SIMPLE_GERMAN

#: The measure "Sprachmittlung in all offices with customer contact", cited when a non-German speaker is sent
#: to an office.
MEDIATION_UNIT = "ik/2.1/z4/m1"
#: The human contact offered when the corpus has no answer.
HUMAN_CONTACT_UNIT = "svc/buero-migration-integration"
HUMAN_CONTACT_OFFICE = "office/buero-migration-integration"
CONTACT_ORDER = ("phone", "email", "website", "address", "hours")

Record = dict[str, Any]


def _teaser(text: str, limit: int = 90) -> str:
    """The first sentence (or line) of a text, cut at a word boundary."""
    first = text.strip().split("\n", 1)[0]
    for end in (". ", "? ", "! ", "。", "؟ "):
        if end in first:
            first = first.split(end, 1)[0] + end.strip()
            break
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + " …"


class _Citations:
    """Numbered citations in order of first use."""

    def __init__(self) -> None:
        self.records: OrderedDict[str, Record] = OrderedDict()

    def add(self, record: Record) -> int:
        self.records.setdefault(record["unit_id"], record)
        return list(self.records).index(record["unit_id"]) + 1


@component
class CitedAnswerBuilder:
    """Builds the contract's answer (``answer``, ``answer_de``, ``citations``, ``offices``, ``services``).

    Usage:
    ```python
    builder = CitedAnswerBuilder(document_store=store_de)
    builder.run(question="…", documents=looked_up_docs, language="uk", detected_language="uk",
                answerable=True)["answer"]["answer"]
    ```
    """

    def __init__(self, document_store: QdrantDocumentStore, see_also: int = 2, max_staff_measures: int = 8,
                 max_contacts: int = 2, max_lead_lines: int = 8) -> None:
        """
        :param document_store: the German store of the served build; records it cites besides the retrieved
            units (the mediation measure, the human contact, an office's measures) come from the same build.
        :param see_also: how many further units are named under "see also".
        :param max_staff_measures: how many of an office's measures a staff answer lists.
        :param max_contacts: how many contact cards an answer spells out.
        :param max_lead_lines: lines of a long unit text shown before "…" (the citation has the whole text).
        """
        if see_also < 0 or max_staff_measures < 1 or max_contacts < 0 or max_lead_lines < 1:
            raise ValueError("see_also and max_contacts must be >= 0, max_staff_measures and max_lead_lines >= 1")
        self.document_store = document_store
        self.see_also = see_also
        self.max_staff_measures = max_staff_measures
        self.max_contacts = max_contacts
        self.max_lead_lines = max_lead_lines
        self._records = TranslationMemoryLookup(document_store=document_store)

    def to_dict(self) -> dict[str, Any]:
        """Serialize, store included."""
        return default_to_dict(self, document_store=self.document_store.to_dict(), see_also=self.see_also,
                               max_staff_measures=self.max_staff_measures, max_contacts=self.max_contacts,
                               max_lead_lines=self.max_lead_lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CitedAnswerBuilder:
        """Deserialize, store included."""
        data["init_parameters"]["document_store"] = QdrantDocumentStore.from_dict(
            data["init_parameters"]["document_store"])
        return default_from_dict(cls, data)

    @property
    def build(self) -> str:
        """The build this builder reads (its German collection is ``<build>_de``)."""
        return self.document_store.index.removesuffix("_de")

    # -- formatting ----------------------------------------------------------------------------------------
    @staticmethod
    def _name(record: Record, language: str) -> str:
        """German name, with the translation in brackets for other languages (so it can be shown at a counter)."""
        german = record.get("title", "")
        translated = (record.get("titles") or {}).get(language) if language != "de" else None
        return f"{german} ({translated})" if translated and translated != german else german

    @staticmethod
    def _title(record: Record, language: str) -> str:
        """How a unit is named in a list: offices and services by name; other units by the first sentence of
        their text in the answer language (the German titles are teasers of the German text)."""
        if record.get("kind") in ("office", "service"):
            return CitedAnswerBuilder._name(record, language)
        display = display_text(record, language)
        if record.get("kind") in ("field", "intro", "strategy") and display["title"]:
            return display["title"]
        return _teaser(display["text"])

    @staticmethod
    def _office_name(card: dict[str, Any], language: str) -> str:
        translated = (card.get("names") or {}).get(language) if language != "de" else None
        return f"{card['name']} ({translated})" if translated and translated != card["name"] else card["name"]

    @staticmethod
    def _as_of(item: dict[str, Any], language: str) -> str:
        date = item.get("as_of")
        text = message(language, "answer.as_of", date=date) if date else message(language, "answer.as_of_unknown")
        if item.get("dated"):
            text = f"{text}, {message(language, 'answer.dated')}"
        return text

    def _contact(self, contact: dict[str, list[dict[str, Any]]], language: str) -> str:
        parts = []
        for kind in CONTACT_ORDER:
            for item in contact.get(kind) or []:
                parts.append(f"{message(language, f'contact.{kind}')}: {item['value']} "
                             f"({self._as_of(item, language)})")
        return "; ".join(parts)

    def _lead(self, text: str) -> str:
        """The first paragraph of a long text (a service describes much more than an answer needs)."""
        lines = text.split("\n\n", 1)[0].split("\n")
        lead = "\n".join(lines[: self.max_lead_lines])
        return lead if lead == text else f"{lead} …"

    # -- composition ---------------------------------------------------------------------------------------
    def _compose(self, records: list[Record], language: str, intent: str, simple: bool,
                 cites: _Citations, asker_language: str) -> list[str]:
        """The answer's lines in ``language``. The German counter version is composed with the same steps in
        the same order (``asker_language`` decides the mediation line for both), so ``[n]`` means the same
        citation in ``answer`` and ``answer_de``."""
        best = records[0]
        if intent == "staff" and best.get("kind") == "office" and not simple:
            return self._compose_office(best, language, cites)
        n = cites.add(best)
        lines: list[str] = []
        cards = list(best.get("office_cards") or [])
        if intent == "staff" and cards and best.get("kind") != "office":
            names = [self._office_name(c, language) for c in cards]
            key = "answer.responsible_one" if len(names) == 1 else "answer.responsible_many"
            lines.append(f"{message(language, key, office=names[0], offices=', '.join(names))} [{n}]")
        # The translation-memory text says in plain words what is done, by whom and until when.
        text = display_text(best, language)["text"]
        lines.append(f"{text if simple else self._lead(text)} [{n}]")
        if simple:
            glossary = best.get("glossary") or []
            if glossary:
                lines.append(message(language, "answer.glossary"))
                for term in glossary:
                    lang = language if language in term["term"] else "de"
                    lines.append("- " + message(language, "answer.glossary_item", term=term["term"][lang],
                                                text=term["text"][lang]))
            return lines
        lines.extend(self._contact_lines(best, cards, language, cites))
        if asker_language != "de" and cards:
            mediation = self._records.records(self.build, [MEDIATION_UNIT]).get(MEDIATION_UNIT)
            if mediation is not None:
                lines.append(f"{message(language, 'answer.mediation')} [{cites.add(mediation)}]")
        others = [r for r in records[1:] if r["unit_id"] != best["unit_id"]][: self.see_also]
        if others:
            items = "; ".join(f"{self._title(r, language)} [{cites.add(r)}]" for r in others)
            lines.append(message(language, "answer.see_also", items=items))
        return lines

    def _contact_lines(self, best: Record, cards: list[dict[str, Any]], language: str,
                       cites: _Citations) -> list[str]:
        if best.get("kind") == "service":
            contact = (best.get("service") or {}).get("contact") or {}
            if not contact:
                return []
            details = self._contact(contact, language)
            name = self._name(best, language)
            return [f"{message(language, 'answer.contact', name=name, details=details)} [{cites.add(best)}]"]
        with_service = [c for c in cards if c.get("service") and c.get("contact")][: self.max_contacts]
        services = self._records.records(self.build, [c["service"] for c in with_service])
        lines = []
        for card in with_service:
            service = services.get(card["service"])
            if service is not None:
                details = self._contact(card["contact"], language)
                name = self._office_name(card, language)
                lines.append(f"{message(language, 'answer.contact', name=name, details=details)} "
                             f"[{cites.add(service)}]")
        return lines

    def _compose_office(self, office: Record, language: str, cites: _Citations) -> list[str]:
        n = cites.add(office)
        measures = list((office.get("office") or {}).get("measures") or [])
        header = message(language, "answer.staff_measures", office=self._name(office, language), count=len(measures))
        lines = [f"{header} [{n}]"]
        found = self._records.records(self.build, measures[: self.max_staff_measures])
        for unit_id in measures[: self.max_staff_measures]:
            record = found.get(unit_id)
            if record is not None:
                section = record["section"].split(" › ")[0]
                lines.append(f"- {section}: {self._title(record, language)} [{cites.add(record)}]")
        lines.extend(self._contact_lines(office, office.get("office_cards") or [], language, cites))
        return lines

    def _not_covered(self, language: str, cites: _Citations) -> tuple[list[str], list[Record]]:
        lines = [message(language, "answer.not_covered")]
        found = self._records.records(self.build, [HUMAN_CONTACT_UNIT, HUMAN_CONTACT_OFFICE])
        contact_line = message(language, "answer.not_covered_contact")
        service = found.get(HUMAN_CONTACT_UNIT)
        if service is not None:
            details = self._contact((service.get("service") or {}).get("contact") or {}, language)
            contact_line = f"{contact_line} {details} [{cites.add(service)}]"
        lines.append(contact_line)
        office = found.get(HUMAN_CONTACT_OFFICE)
        return lines, [office] if office is not None else []

    # -- output --------------------------------------------------------------------------------------------
    @staticmethod
    def _citation(n: int, record: Record, language: str, simple: bool) -> dict[str, Any]:
        texts = record.get("texts") or {}
        translated = (texts.get(SIMPLE_GERMAN) if simple else None) if language == "de" else texts.get(language)
        return {
            "n": n, "id": record["unit_id"], "kind": record["kind"], "section": record["section"],
            "title": record["title"], "text": record["text_de"], "text_translated": translated,
            "source": record["source"], "as_of": record["as_of"], "url": record["url"],
        }

    @staticmethod
    def _offices(records: list[Record], language: str) -> list[dict[str, Any]]:
        offices: OrderedDict[str, dict[str, Any]] = OrderedDict()
        for record in records:
            for card in record.get("office_cards") or []:
                offices.setdefault(card["id"], {
                    "id": card["id"], "name": card["name"],
                    "name_translated": (card.get("names") or {}).get(language) if language != "de" else None,
                    "type": card.get("type"), "service": card.get("service"), "contact": card.get("contact") or {},
                })
        return list(offices.values())

    @staticmethod
    def _services(records: list[Record]) -> list[dict[str, Any]]:
        return [{"id": r["unit_id"], "name": r["title"], "category": r["service"]["category"],
                 "contact": r["service"]["contact"], "sources": r["service"]["sources"]}
                for r in records if r.get("kind") == "service" and r.get("service")]

    @component.output_types(answer=dict[str, Any])
    def run(self, question: str, documents: list[Document], language: str, detected_language: str,
            answerable: bool, intent: str = "resident", simple: bool = False,
            confidence: float = 0.0) -> dict[str, Any]:
        """
        :param question: the question as asked.
        :param documents: ranked units with their records (``meta["record"]``), best first.
        :param language: the answer language; without a message catalog the answer is composed in German and
            left to the translator.
        :param detected_language: the question's detected language.
        :param answerable: the ranker's decision.
        :param intent: ``resident``, ``staff`` or ``injection``.
        :param simple: Einfache-Sprache mode — one unit, glossary explanations.
        :param confidence: the ranker's calibrated confidence (reported, not used).
        :returns: ``answer``: the API contract's fields (``translation`` is added by the translator).
        """
        records = [d.meta["record"] for d in documents]
        compose_language = language if has_catalog(language) else "de"
        texts: dict[str, str] = {}
        cited: list[Record] = []
        extra_offices: list[Record] = []
        answered = bool(answerable and records)
        for lang in sorted({compose_language, "de"}, key=lambda x: x != compose_language):
            cites = _Citations()
            if answered:
                lines = self._compose(records[:1] if simple else records, lang, intent, simple, cites,
                                      asker_language=language)
            else:
                lines, extra_offices = self._not_covered(lang, cites)
            texts[lang] = "\n".join(lines)
            if lang == compose_language:
                cited = list(cites.records.values())
        return {"answer": {
            "question": question, "lang": language, "detected_lang": detected_language, "answered": answered,
            "answer": texts[compose_language], "answer_de": texts["de"], "simple": simple,
            "citations": [self._citation(i, r, compose_language, simple) for i, r in enumerate(cited, start=1)],
            "offices": self._offices(cited + extra_offices, compose_language), "services": self._services(cited),
            "intent": intent, "confidence": round(confidence, 4),
        }}
