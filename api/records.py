"""Turn stored unit records into the API's public shapes."""

from __future__ import annotations

from typing import Any

from pipelines.settings import SIMPLE_GERMAN


def unit_public(record: dict[str, Any]) -> dict[str, Any]:
    """A unit record as the API shows it (``UnitPublic``)."""
    texts = record.get("texts") or {}
    return {
        "id": record["unit_id"], "kind": record["kind"], "title": record["title"], "section": record["section"],
        "text": record["text_de"], "source": record["source"], "as_of": record["as_of"], "url": record["url"],
        "field": record.get("field"), "termin": record.get("termin"), "verantwortung": record.get("verantwortung"),
        "praxis_beispiele": record.get("praxis_beispiele"), "fokus": record.get("fokus"),
        "offices": [{"id": c["id"], "name": c["name"]} for c in record.get("office_cards") or []
                    if c["id"] != record["unit_id"]],
        "translations": {lang: text for lang, text in texts.items() if lang != "de"},
        "provenance": record.get("provenance") or {},
        "footnotes": record.get("footnotes") or [],
        "simple": texts.get(SIMPLE_GERMAN),
        "service": record.get("service"),
        "practice": record.get("practice") or [],
        "glossary": record.get("glossary") or [],
    }


def office_summary(record: dict[str, Any]) -> dict[str, Any]:
    """An office record as an entry of the office list (``OfficeSummary``)."""
    office = record.get("office") or {}
    return {
        "id": record["unit_id"], "name": record["title"], "type": office.get("type"),
        "aliases": office.get("aliases") or [], "service": office.get("service"),
        "contact": office.get("contact") or {}, "units": len(office.get("measures") or []),
    }
