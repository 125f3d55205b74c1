"""Parse the overview of the Kommunale Sozialstrategie into one unit per section."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ingest.errors import CorpusError
from pipelines.units import KS_AS_OF, KS_SOURCE, Unit, anchor_for

SOURCE_PAGE = "/sources/sozialstrategie"
# Short, stable slugs for the sections the rest of the project refers to (contracts.md); others are slugified.
SECTION_SLUGS = {
    "Allgemeines": "allgemeines",
    "Armutspräventionsstrategie": "armutspraevention",
    "Integrationskonzept": "integrationskonzept",
    "10-Punkte-Aktionsplan gegen Rassismus": "10ppa",
}
_HEADING_MAX_LEN = 60


def slugify(text: str) -> str:
    """``Armutspräventionsstrategie`` → ``armutspraeventionsstrategie`` (German umlauts spelled out)."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _is_heading(line: str) -> bool:
    return (len(line) <= _HEADING_MAX_LEN and not line.startswith("- ")
            and not line.rstrip().endswith((".", ":", ",", ";")))


def strategy_units(text: str, path: str | Path = "sozialstrategie.md") -> list[Unit]:
    """One unit per section (``ks/<slug>``); the first line is the document title.

    :param text: the document.
    :param path: the file name for provenance and errors.
    :returns: the section units in document order.
    :raises CorpusError: when the document has no sections or a section has no text.
    """
    lines = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if not lines:
        raise CorpusError(path, 1, "the Sozialstrategie file is empty")
    title = lines[0][1]
    sections: list[tuple[int, str, list[str]]] = []
    for number, line in lines[1:]:
        if _is_heading(line):
            sections.append((number, line, []))
        elif not sections:
            raise CorpusError(path, number, "text before the first section heading")
        else:
            sections[-1][2].append(line)
    units = []
    seen: set[str] = set()
    for number, heading, body in sections:
        if not body:
            raise CorpusError(path, number, f"section {heading!r} has no text")
        slug = SECTION_SLUGS.get(heading, slugify(heading))
        if slug in seen:
            raise CorpusError(path, number, f"section {heading!r} appears twice")
        seen.add(slug)
        unit_id = f"ks/{slug}"
        units.append(Unit(
            id=unit_id, kind="strategy", title=heading, section=f"{title} › {heading}",
            text="\n".join(body), source=KS_SOURCE, as_of=KS_AS_OF,
            url=f"{SOURCE_PAGE}#{anchor_for(unit_id)}", context=f"{title}: {heading}",
            source_file=Path(path).name, line=number,
        ))
    return units
