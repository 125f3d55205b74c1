"""Parse the Integrationskonzept into units: introduction, action fields, goals, measures, closing.

The document arrives in three formats at once, and the parser reads all of them:

* separate lines (``Maßnahme 1: …`` / ``Verantwortung: …`` / ``Termin: …`` each on its own line),
* ``<p>``-wrapped fields on one line (2.3.2, 2.4),
* several fields run together on one line (2.5.1, 2.5.3).

Every line is first cut into *logical lines* (one statement or field each) that remember their source line
number, so that every error names the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import CorpusError
from pipelines.units import IK_AS_OF, IK_SOURCE, Footnote, Unit, anchor_for, strip_footnote_markers

_P_TAG = re.compile(r"</?p>")
_FIELD_KEYWORDS = r"(?:Verantwortung|Termin|Praxis-Beispiele?|Fokus)"
# A field, goal or measure that starts in the middle of a line (the run-together format).
_INLINE_START = re.compile(rf"\s+(?={_FIELD_KEYWORDS}:|Maßnahmen? \d+:|Operatives Ziel \d+:)")
_HEADING = re.compile(r"^(2(?:\.\d+){1,2})\.?\s+(\S.*)$")
_INTRO_HEADING = re.compile(r"^1\.\s+(\S.*)$")
_GOAL = re.compile(r"^Operatives Ziel (\d+):\s*(\S.*)$")
_MEASURE = re.compile(r"^Maßnahmen? (\d+):\s*(\S.*)$")
_FIELD = re.compile(rf"^({_FIELD_KEYWORDS}):\s*(.*)$")
_FOOTNOTE_DEF = re.compile(r"^([⁰¹²³⁴⁵⁶⁷⁸⁹]+)\s*(\S.*)$")
_FOOTNOTE_REF = re.compile(r"\^\{([\d ]+)\}|([⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_LEITIDEE = "Strategische Leitidee"
_GOALS_MARKER = "Operative Ziele und Maßnahmen"
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")

SOURCE_PAGE = "/sources/integrationskonzept"


def strip_transport_artefacts(text: str) -> str:
    """Remove what the transport added (``<p>`` tags), keeping every word and the line structure.

    Each ``<p>…</p>`` paragraph becomes a paragraph of its own; nothing is reworded.

    :param text: the document as received.
    :returns: the text of record.
    """
    out: list[str] = []
    for raw in text.splitlines():
        if "<p>" in raw or "</p>" in raw:
            parts = [p.strip() for p in _P_TAG.split(raw) if p.strip()]
            out.append("\n\n".join(parts))
        else:
            out.append(raw.rstrip())
    return "\n".join(out).strip("\n") + "\n"


@dataclass(frozen=True)
class LogicalLine:
    """One statement or field of the document with the line it came from and its format."""

    line: int
    text: str
    fmt: str  # "lines" | "p" | "inline"


def logical_lines(text: str) -> Iterator[LogicalLine]:
    """Split the document into logical lines in all three source formats.

    :param text: the document (raw seed or cleaned corpus file).
    :returns: logical lines in document order, blank lines dropped.
    """
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        fmt = "p" if "<p>" in stripped else "lines"
        segments = [s.strip() for s in _P_TAG.split(stripped)] if fmt == "p" else [stripped]
        for segment in segments:
            if not segment:
                continue
            pieces = _INLINE_START.split(segment)
            piece_fmt = "inline" if len(pieces) > 1 and fmt == "lines" else fmt
            for piece in pieces:
                if piece.strip():
                    yield LogicalLine(number, piece.strip(), piece_fmt)


def footnote_numbers(text: str) -> list[int]:
    """Footnote numbers referenced in a text (``²⁶`` or ``^{27 28}``)."""
    numbers: list[int] = []
    for braced, superscript in _FOOTNOTE_REF.findall(text):
        if braced:
            numbers.extend(int(n) for n in braced.split())
        else:
            numbers.append(int(superscript.translate(_SUPERSCRIPT_DIGITS)))
    return numbers


@dataclass
class _Measure:
    number: int
    line: int
    fmt: str
    lines: list[str]
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Goal:
    number: int
    line: int
    text: str
    measures: list[_Measure] = field(default_factory=list)


@dataclass
class _Field:
    number: str
    title: str
    line: int
    leitidee: str = ""
    leitidee_line: int = 0
    goals: list[_Goal] = field(default_factory=list)


@dataclass
class ParsedConcept:
    """The structure of the Integrationskonzept before it becomes units (kept for tests and stats)."""

    title: str
    intro_title: str
    intro: list[tuple[int, str]]
    fields: list[_Field]
    footnotes: dict[int, Footnote]
    closing: list[tuple[int, str]]
    formats: dict[str, str]  # measure key "2.5.1/z1/m1" → "lines" | "p" | "inline"


def parse_structure(text: str, path: str | Path = "integrationskonzept.md") -> ParsedConcept:
    """Read the document's structure.

    :param text: the document.
    :param path: the file name used in error messages.
    :returns: the parsed structure.
    :raises CorpusError: with file and line when the document does not have the expected structure.
    """
    title = ""
    intro_title = ""
    intro: list[tuple[int, str]] = []
    fields: list[_Field] = []
    footnotes: dict[int, Footnote] = {}
    pending: list[LogicalLine] = []  # paragraphs that are neither heading nor field: the closing, if trailing
    formats: dict[str, str] = {}
    state = "title"
    current_field: _Field | None = None
    current_goal: _Goal | None = None
    current_measure: _Measure | None = None

    def fail(line: int, reason: str) -> CorpusError:
        return CorpusError(path, line, reason)

    for ll in logical_lines(text):
        footnote = _FOOTNOTE_DEF.match(ll.text)
        if footnote:
            number = int(footnote.group(1).translate(_SUPERSCRIPT_DIGITS))
            if number in footnotes:
                raise fail(ll.line, f"footnote {number} is defined twice")
            footnotes[number] = Footnote(number, footnote.group(2).strip())
            continue
        if state in ("title", "intro"):
            intro_heading = _INTRO_HEADING.match(ll.text)
            if state == "title" and intro_heading:
                intro_title, state = intro_heading.group(1), "intro"
                continue
            if state == "title":
                title = f"{title} {ll.text}".strip()
                continue
            if not _HEADING.match(ll.text):
                intro.append((ll.line, ll.text))
                continue
            state = "fields"
        if pending and (_HEADING.match(ll.text) or _GOAL.match(ll.text) or _MEASURE.match(ll.text)
                        or _FIELD.match(ll.text)):
            raise fail(pending[0].line, f"unexpected paragraph in the middle of the action fields: "
                                        f"{pending[0].text[:60]!r} (not a heading, goal, measure or field)")
        heading = _HEADING.match(ll.text)
        if heading:
            current_field = _Field(heading.group(1), heading.group(2).strip(), ll.line)
            if any(f.number == current_field.number for f in fields):
                raise fail(ll.line, f"action field {current_field.number} appears twice")
            fields.append(current_field)
            current_goal = current_measure = None
            state = "field"
            continue
        if current_field is None:
            raise fail(ll.line, "text before the first action field heading")
        if ll.text == _LEITIDEE:
            state = "leitidee"
            continue
        if ll.text == _GOALS_MARKER:
            state = "goals"
            continue
        if state == "leitidee":
            current_field.leitidee = f"{current_field.leitidee} {ll.text}".strip()
            current_field.leitidee_line = current_field.leitidee_line or ll.line
            continue
        goal = _GOAL.match(ll.text)
        if goal:
            current_goal = _Goal(int(goal.group(1)), ll.line, goal.group(2).strip())
            if any(g.number == current_goal.number for g in current_field.goals):
                raise fail(ll.line, f"operational goal {current_goal.number} appears twice in "
                                    f"{current_field.number}")
            current_field.goals.append(current_goal)
            current_measure = None
            continue
        measure = _MEASURE.match(ll.text)
        if measure:
            if current_goal is None:
                raise fail(ll.line, "measure outside an operational goal")
            current_measure = _Measure(int(measure.group(1)), ll.line, ll.fmt, [ll.text])
            if any(m.number == current_measure.number for m in current_goal.measures):
                raise fail(ll.line, f"measure {current_measure.number} appears twice in "
                                    f"{current_field.number} goal {current_goal.number}")
            current_goal.measures.append(current_measure)
            formats[f"{current_field.number}/z{current_goal.number}/m{current_measure.number}"] = ll.fmt
            continue
        keyword = _FIELD.match(ll.text)
        if keyword:
            if current_measure is None:
                raise fail(ll.line, f"'{keyword.group(1)}:' outside a measure")
            name = "Praxis-Beispiele" if keyword.group(1).startswith("Praxis-Beispiel") else keyword.group(1)
            if name in current_measure.fields:
                raise fail(ll.line, f"'{name}:' appears twice in one measure")
            if not keyword.group(2).strip():
                raise fail(ll.line, f"'{name}:' is empty")
            current_measure.fields[name] = keyword.group(2).strip()
            current_measure.lines.append(ll.text)
            continue
        pending.append(ll)

    if not fields:
        raise fail(1, "no action field heading (e.g. '2.1 Handlungsfeld …') found")
    for f in fields:
        for g in f.goals:
            if not g.measures:
                raise fail(g.line, f"operational goal {g.number} of {f.number} has no measure")
            for m in g.measures:
                for required in ("Verantwortung", "Termin"):
                    if required not in m.fields:
                        raise fail(m.line, f"measure {f.number}/z{g.number}/m{m.number} has no "
                                           f"'{required}:' line")
    closing = [(ll.line, ll.text) for ll in pending]
    return ParsedConcept(title, intro_title, intro, fields, footnotes, closing, formats)


def _short(title: str) -> str:
    return title.removeprefix("Handlungsfeld ").strip()


def _teaser(text: str, limit: int = 90) -> str:
    text = strip_footnote_markers(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return f"{cut} …"


def _resolve_footnotes(text: str, footnotes: dict[int, Footnote], path: str | Path, line: int
                       ) -> tuple[Footnote, ...]:
    resolved = []
    for number in footnote_numbers(text):
        if number not in footnotes:
            raise CorpusError(path, line, f"footnote {number} is referenced but never defined")
        resolved.append(footnotes[number])
    return tuple(resolved)


OfficeResolver = Callable[[str, int], tuple[str, ...]]


def concept_units(parsed: ParsedConcept, resolve_offices: OfficeResolver,
                  path: str | Path = "integrationskonzept.md") -> list[Unit]:
    """Turn the parsed structure into units with stable ids.

    :param parsed: the output of :func:`parse_structure`.
    :param resolve_offices: maps a ``Verantwortung`` text (and its line) to office ids; raises on unknown names.
    :param path: the file name for unit provenance and errors.
    :returns: units in document order.
    """
    source_file = Path(path).name
    units: list[Unit] = []

    def make(unit_id: str, **kwargs) -> Unit:
        return Unit(id=unit_id, source=IK_SOURCE, as_of=IK_AS_OF, source_file=source_file,
                    url=f"{SOURCE_PAGE}#{anchor_for(unit_id)}", **kwargs)

    intro_section = f"1. {parsed.intro_title}" if parsed.intro_title else "Einleitung"
    for i, (line, paragraph) in enumerate(parsed.intro, start=1):
        units.append(make(f"ik/intro/p{i}", kind="intro", title=f"{parsed.intro_title or 'Einleitung'} "
                          f"(Absatz {i})", section=f"{intro_section} › Absatz {i}", text=paragraph,
                          context=parsed.intro_title, line=line,
                          footnotes=_resolve_footnotes(paragraph, parsed.footnotes, path, line)))

    by_number = {f.number: f for f in parsed.fields}
    for f in parsed.fields:
        field_id = f"ik/{f.number}"
        parent_number = f.number.rsplit(".", 1)[0] if f.number.count(".") == 2 else None
        parent = by_number.get(parent_number) if parent_number else None
        field_title = f.title if parent is None else f"{parent.title} – {f.title}"
        section = f"{f.number} {_short(f.title)}"
        children = [c for c in parsed.fields if c.number.startswith(f"{f.number}.")]
        if f.leitidee:
            text = f.leitidee
        else:
            # A field that only groups sub-fields (2.3, 2.5): its text is its own and its sub-fields' headings.
            text = "\n".join([f"{f.number} {f.title}"] + [f"{c.number} {c.title}" for c in children])
        units.append(make(field_id, kind="field", title=f.title, section=f"{section} › Strategische Leitidee"
                          if f.leitidee else section, text=text, field=f.number,
                          parent=f"ik/{parent_number}" if parent_number else None,
                          context=field_title, line=f.leitidee_line or f.line,
                          footnotes=_resolve_footnotes(text, parsed.footnotes, path, f.line)))
        for g in f.goals:
            goal_id = f"{field_id}/z{g.number}"
            units.append(make(goal_id, kind="goal", title=_teaser(g.text),
                              section=f"{section} › Operatives Ziel {g.number}", text=g.text, field=f.number,
                              parent=field_id, context=f"{field_title}. {strip_footnote_markers(f.leitidee)}",
                              line=g.line, footnotes=_resolve_footnotes(g.text, parsed.footnotes, path, g.line)))
            for m in g.measures:
                measure_id = f"{goal_id}/m{m.number}"
                block = "\n".join(m.lines)
                verantwortung = m.fields["Verantwortung"]
                statement = _MEASURE.match(m.lines[0]).group(2)  # type: ignore[union-attr]
                units.append(make(
                    measure_id, kind="measure", title=_teaser(statement),
                    section=f"{section} › Operatives Ziel {g.number} › Maßnahme {m.number}",
                    text=block, field=f.number, parent=goal_id,
                    context=f"{field_title}. Operatives Ziel: {strip_footnote_markers(g.text)}",
                    offices=resolve_offices(strip_footnote_markers(verantwortung), m.line),
                    verantwortung=strip_footnote_markers(verantwortung),
                    termin=m.fields["Termin"], praxis_beispiele=m.fields.get("Praxis-Beispiele"),
                    fokus=m.fields.get("Fokus"), line=m.line,
                    footnotes=_resolve_footnotes(block, parsed.footnotes, path, m.line),
                    extra={"format": m.fmt, "statement": statement},
                ))
    if parsed.closing:
        text = "\n\n".join(p for _, p in parsed.closing)
        units.append(make("ik/schluss", kind="intro", title="Abschließender Hinweis",
                          section="Schluss › Abschließender Hinweis", text=text, context=parsed.title,
                          line=parsed.closing[0][0]))
    return units
