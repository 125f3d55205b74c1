"""A unit's full record, typed, and the one place that reads records of a build.

Ingest stores one record per unit and build (German text of record, every translation, offices with their
contact, the service or procedure facts); :class:`RecordStore` reads them by id and caches them per build, and
:class:`UnitRecord` is the typed view every answer is composed from.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.settings import SIMPLE_GERMAN
from pipelines.store import fetch_records, store_client
from pipelines.units import PRACTICAL_KINDS

Contact = dict[str, list[dict[str, Any]]]
CONTACT_KINDS = ("phone", "email", "website", "address", "hours")
#: Office types a resident cannot contact: collective or internal bodies stay in the cited text, never on a card.
NOT_CONTACTABLE_TYPES = ("sammelbegriff", "gremium", "politik")


def has_contact(contact: Contact | None) -> bool:
    """True when at least one way to reach a body is known."""
    return any((contact or {}).get(kind) for kind in CONTACT_KINDS)


def has_current_contact(contact: Contact | None) -> bool:
    """True when at least one way to reach a body is known and not marked as possibly outdated."""
    return any(not item.get("dated") for kind in CONTACT_KINDS for item in (contact or {}).get(kind) or [])


@dataclass(frozen=True)
class OfficeCard:
    """A responsible body named by a unit, with the contact of its linked service (if any)."""

    id: str
    name: str
    names: dict[str, str]
    type: str | None
    service: str | None
    contact: Contact

    @property
    def contactable(self) -> bool:
        """A resident can reach this body: it is not a collective or internal body and has a current contact
        (an office is named because it is responsible for a plan; an old address alone is no next step)."""
        return self.type not in NOT_CONTACTABLE_TYPES and has_current_contact(self.contact)

    @classmethod
    def from_payload(cls, card: dict[str, Any]) -> OfficeCard:
        return cls(id=card["id"], name=card["name"], names=dict(card.get("names") or {}), type=card.get("type"),
                   service=card.get("service"), contact=card.get("contact") or {})


@dataclass(frozen=True)
class UnitRecord:
    """Everything an answer may say about one unit, in every language of the build."""

    id: str
    kind: str
    title: str
    section: str
    url: str
    source: str
    as_of: str
    text_de: str
    texts: dict[str, str] = dataclasses.field(default_factory=dict)
    titles: dict[str, str] = dataclasses.field(default_factory=dict)
    provenance: dict[str, str] = dataclasses.field(default_factory=dict)
    field: str | None = None
    termin: str | None = None
    office_cards: tuple[OfficeCard, ...] = ()
    glossary: tuple[dict[str, Any], ...] = ()
    #: services and procedures: how to reach them, what no source gives, who handles a procedure
    category: str | None = None
    short_name: str | None = None
    contact: Contact = dataclasses.field(default_factory=dict)
    sources: tuple[str, ...] = ()
    not_in_sources: tuple[str, ...] = ()
    fact_fields: tuple[str, ...] = ()
    responsible: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    #: concept units: the services and procedures that put them into practice
    practice: tuple[str, ...] = ()
    #: … of which the plan's own "Praxis-Beispiele" name these, in the order named
    practice_named: tuple[str, ...] = ()
    #: offices: the measures they are responsible for
    measures: tuple[str, ...] = ()

    @property
    def practical(self) -> bool:
        """A service to contact or a procedure to follow (not a plan, not an office list)."""
        return self.kind in PRACTICAL_KINDS

    @property
    def plan(self) -> bool:
        """A measure or goal of the Integrationskonzept: what the city intends, not what exists."""
        return self.kind in ("measure", "goal")

    def name(self, language: str) -> str:
        """German name, with the translation in brackets for other languages (readable at a counter)."""
        translated = self.titles.get(language) if language != "de" else None
        return f"{self.title} ({translated})" if translated and translated != self.title else self.title

    def text(self, language: str, plain_german: bool = True) -> str:
        """The text to show in ``language``: Einfache Sprache for German, else the translation of it."""
        if language == "de":
            return self.texts.get(SIMPLE_GERMAN) if plain_german and SIMPLE_GERMAN in self.texts else self.text_de
        return self.texts.get(language) or self.texts.get(SIMPLE_GERMAN) or self.text_de

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> UnitRecord:
        """The typed record from the payload stored by ingest."""
        service = payload.get("service") or {}
        office = payload.get("office") or {}
        return cls(
            id=payload["unit_id"], kind=payload["kind"], title=payload.get("title", ""),
            section=payload.get("section", ""), url=payload.get("url", ""), source=payload.get("source", ""),
            as_of=str(payload.get("as_of") or ""), text_de=payload.get("text_de", ""),
            texts=dict(payload.get("texts") or {}), titles=dict(payload.get("titles") or {}),
            provenance=dict(payload.get("provenance") or {}), field=payload.get("field"),
            termin=payload.get("termin"),
            office_cards=tuple(OfficeCard.from_payload(c) for c in payload.get("office_cards") or []),
            glossary=tuple(payload.get("glossary") or ()), category=service.get("category"),
            short_name=service.get("short_name"),
            contact=service.get("contact") or office.get("contact") or {},
            sources=tuple(service.get("sources") or ()), not_in_sources=tuple(service.get("not_in_sources") or ()),
            fact_fields=tuple(service.get("fact_fields") or ()), responsible=tuple(service.get("responsible") or ()),
            links=tuple(service.get("links") or ()), practice=tuple(payload.get("practice") or ()),
            practice_named=tuple(payload.get("practice_named") or ()),
            measures=tuple(office.get("measures") or ()),
        )


class RecordStore:
    """Reads unit records of a build by id, and keeps recently used ones (a build never changes).

    Usage:
    ```python
    records = RecordStore(store_de)
    records.get(build, ["svc/vhs"])["svc/vhs"]["title"]
    ```
    """

    def __init__(self, document_store: QdrantDocumentStore, cache_size: int = 1024) -> None:
        """
        :param document_store: any store of the served build (its client reads the records collection).
        :param cache_size: records kept in memory.
        """
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self.document_store = document_store
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, build: str, unit_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Record payloads by unit id from one build; ids the build does not have are absent."""
        with self._lock:
            found = {u: self._cache[(build, u)] for u in unit_ids if (build, u) in self._cache}
        missing = [u for u in dict.fromkeys(unit_ids) if u not in found]
        if missing:
            fetched = fetch_records(store_client(self.document_store), build, missing)
            with self._lock:
                for unit_id, record in fetched.items():
                    self._cache[(build, unit_id)] = record
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            found.update(fetched)
        return found


# Keyed by the document store's id and holding the record stores weakly: a record store refers to its document
# store, so a registry keyed weakly by the document store (a WeakKeyDictionary) would keep both alive for ever,
# one build's store and records cache per re-ingest. The id is stable while the entry lives, because the record
# store keeps its document store alive; the entry goes with the last component that uses it.
_SHARED: weakref.WeakValueDictionary[int, RecordStore] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def shared_record_store(document_store: QdrantDocumentStore, cache_size: int = 1024) -> RecordStore:
    """The one :class:`RecordStore` of a document store: every component that reads records of the same build
    (the translation-memory lookup, the answer's context fetcher, the served build) shares its cache."""
    with _SHARED_LOCK:
        store = _SHARED.get(id(document_store))
        if store is None or store.document_store is not document_store:
            store = _SHARED[id(document_store)] = RecordStore(document_store, cache_size)
        return store
