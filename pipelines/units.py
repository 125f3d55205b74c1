"""The retrievable unit: the shared schema of ingest, pipelines, API and evaluation."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

UnitKind = Literal["measure", "goal", "field", "intro", "strategy", "service", "procedure", "office"]
UNIT_KINDS: tuple[str, ...] = ("measure", "goal", "field", "intro", "strategy", "service", "procedure", "office")
#: Kinds a resident can act on directly: a service to contact, a procedure to follow.
PRACTICAL_KINDS: tuple[str, ...] = ("service", "procedure")

IK_SOURCE = "Integrationskonzept der Stadt Jena (Fortschreibung 2024)"
IK_AS_OF = "2024"
KS_SOURCE = "Kommunale Sozialstrategie der Stadt Jena (Stadtratsbeschluss 29.10.2025)"
KS_AS_OF = "2025-10-29"

_UNIT_ID = re.compile(r"^(ik|ks|svc|proc|office)/[a-z0-9][a-z0-9./-]*$")
_SUPERSCRIPT_MARKER = re.compile(r"\^\{[\d ]+\}|[⁰¹²³⁴⁵⁶⁷⁸⁹]+")


def source_hash(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of a German source text (marks translations stale)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def is_unit_id(value: str) -> bool:
    """True for a well-formed unit id such as ``ik/2.4/z2/m2`` or ``office/fd-personal``."""
    return bool(_UNIT_ID.match(value))


def anchor_for(unit_id: str) -> str:
    """The HTML anchor of a unit on its source page: ``ik/2.4/z2/m2`` → ``ik-2.4-z2-m2``."""
    return unit_id.replace("/", "-")


def strip_footnote_markers(text: str) -> str:
    """Text without superscript footnote markers (for embedding and plain display)."""
    return _SUPERSCRIPT_MARKER.sub("", text)


@dataclass(frozen=True)
class Footnote:
    """A footnote of the Integrationskonzept, resolved from its marker."""

    number: int
    text: str


@dataclass(frozen=True)
class Unit:
    """One retrievable, citable passage with a stable id.

    ``text`` is the German text of record, verbatim; ``context`` is what is embedded alongside it
    (field title and goal for a measure) so that a unit is found by what its parents say.
    """

    id: str
    kind: UnitKind
    title: str
    section: str
    text: str
    source: str
    as_of: str
    url: str
    field: str | None = None
    parent: str | None = None
    context: str = ""
    offices: tuple[str, ...] = ()
    verantwortung: str | None = None
    termin: str | None = None
    praxis_beispiele: str | None = None
    fokus: str | None = None
    footnotes: tuple[Footnote, ...] = ()
    source_file: str = ""
    line: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)

    @property
    def hash(self) -> str:
        """Hash of the German text of record (what translations are checked against)."""
        return source_hash(self.text)

    def payload(self) -> dict[str, Any]:
        """Metadata stored with every indexed point of this unit (all languages share it)."""
        return {
            "unit_id": self.id,
            "kind": self.kind,
            "title": self.title,
            "section": self.section,
            "field": self.field,
            "parent": self.parent,
            "offices": list(self.offices),
            "termin": self.termin,
            "source": self.source,
            "as_of": self.as_of,
            "url": self.url,
            "source_hash": self.hash,
        }
