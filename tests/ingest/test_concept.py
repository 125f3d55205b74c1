"""The Integrationskonzept parser: structure, the three source formats, golden measures, errors with lines."""

from __future__ import annotations

from collections import Counter

import pytest

from ingest.concept import concept_units, logical_lines, parse_structure, strip_transport_artefacts
from ingest.corpus import load_offices
from ingest.errors import CorpusError
from tests.conftest import CORPUS, FIXTURES

SEED = (FIXTURES / "integrationskonzept-seed.txt").read_text(encoding="utf-8")
CORPUS_TEXT = (CORPUS / "integrationskonzept.md").read_text(encoding="utf-8")

# What the document contains, counted by hand from the source:
# 13 field headings (2.1, 2.2, 2.3 with 2.3.1/2.3.2, 2.4, 2.5 with 2.5.1–2.5.3, 2.6, 2.7, 2.8),
# 11 of them with a strategic idea (2.3 and 2.5 only group their sub-fields), 27 operational goals,
# 63 measures, 4 introduction paragraphs, footnotes 26–39, and a closing section of 2 paragraphs.
FIELDS = ["2.1", "2.2", "2.3", "2.3.1", "2.3.2", "2.4", "2.5", "2.5.1", "2.5.2", "2.5.3", "2.6", "2.7", "2.8"]
GOALS_PER_FIELD = {"2.1": 5, "2.2": 2, "2.3": 0, "2.3.1": 3, "2.3.2": 2, "2.4": 3, "2.5": 0, "2.5.1": 2, "2.5.2": 2,
                   "2.5.3": 2, "2.6": 2, "2.7": 1, "2.8": 3}
MEASURES_PER_FIELD = {"2.1": 15, "2.2": 5, "2.3.1": 9, "2.3.2": 4, "2.4": 7, "2.5.1": 3, "2.5.2": 3, "2.5.3": 4,
                      "2.6": 5, "2.7": 2, "2.8": 6}


@pytest.fixture(scope="module")
def offices():
    return load_offices(CORPUS / "offices.yaml")


@pytest.mark.parametrize("text", [SEED, CORPUS_TEXT], ids=["raw seed", "corpus"])
def test_parser_finds_exactly_the_documents_structure(text: str) -> None:
    parsed = parse_structure(text)
    assert [f.number for f in parsed.fields] == FIELDS
    assert sum(1 for f in parsed.fields if f.leitidee) == 11
    assert {f.number: len(f.goals) for f in parsed.fields} == GOALS_PER_FIELD
    measures = Counter(f.number for f in parsed.fields for g in f.goals for _ in g.measures)
    assert dict(measures) == MEASURES_PER_FIELD
    assert sum(measures.values()) == 63
    assert len(parsed.intro) == 4
    assert sorted(parsed.footnotes) == list(range(26, 40))
    assert len(parsed.closing) == 2
    assert parsed.closing[0][1].startswith("Für den Bereich der Ziele und Maßnahmen")


def test_raw_seed_has_all_three_formats_and_the_parser_reads_each() -> None:
    formats = parse_structure(SEED).formats
    counts = Counter(formats.values())
    # <p>-wrapped fields in 2.3.2 and 2.4, run-together lines in 2.5.1 and 2.5.3, separate lines elsewhere.
    assert counts == {"lines": 53, "inline": 7, "p": 3}
    assert {k for k, v in formats.items() if v == "p"} == {"2.3.2/z2/m1", "2.4/z1/m1", "2.4/z1/m2"}
    assert {k.split("/")[0] for k, v in formats.items() if v == "inline"} == {"2.5.1", "2.5.3"}


def test_cleaning_removes_only_transport_artefacts() -> None:
    cleaned = strip_transport_artefacts(SEED)
    assert cleaned == CORPUS_TEXT
    assert "<p>" not in cleaned and "</p>" not in cleaned
    # Every word survives: the cleaned text has the same words as the seed without its tags.
    assert cleaned.split() == SEED.replace("<p>", " ").replace("</p>", " ").split()


def _measure(units, unit_id):
    return next(u for u in units if u.id == unit_id)


@pytest.mark.parametrize("text", [SEED, CORPUS_TEXT], ids=["raw seed", "corpus"])
def test_golden_measure_separate_lines(text: str, offices) -> None:
    units = concept_units(parse_structure(text), lambda t, line: offices.resolve(t, line))
    m = _measure(units, "ik/2.1/z1/m1")
    assert m.text == ("Maßnahme 1: Die Arbeitsgruppe Mitarbeiterbefragung wird beauftragt, eine Mitarbeiterbefragung "
                      "mit Fragestellungen zur Vielfalt der städtischen Beschäftigten durchzuführen.²⁶\n"
                      "Verantwortung: FD Personal, AG Mitarbeiterbefragung\nTermin: bis 2027")
    assert m.offices == ("office/fd-personal", "office/ag-mitarbeiterbefragung")
    assert m.termin == "bis 2027"
    assert [f.text for f in m.footnotes] == ["10-Punkte-Aktionsplan gegen Rassismus der Stadt Jena, 21/1108-BV"]
    assert m.section == "2.1 Interkulturelle Öffnung › Operatives Ziel 1 › Maßnahme 1"
    assert m.url == "/sources/integrationskonzept#ik-2.1-z1-m1"
    m3 = _measure(units, "ik/2.1/z1/m3")
    assert [f.number for f in m3.footnotes] == [27, 28]
    assert m3.footnotes[1].text == "Vgl. Armutspräventionsstrategie, 19/2219-BV"
    assert m3.fokus and m3.fokus.startswith("Der Anteil der kommunal Beschäftigten")


@pytest.mark.parametrize("text", [SEED, CORPUS_TEXT], ids=["raw seed", "corpus"])
def test_golden_measure_p_wrapped(text: str, offices) -> None:
    units = concept_units(parse_structure(text), lambda t, line: offices.resolve(t, line))
    m = _measure(units, "ik/2.4/z1/m2")
    assert m.praxis_beispiele == ("Anonymer Krankenschein Thüringen, Sozialbetreuung Asylbewerberleistungsgesetz, "
                                  "Sprechstunden FD Gesundheit, Beratung REFUGIO")
    assert m.offices == ("office/fd-gesundheit", "office/fd-soziales")
    assert m.termin == "fortlaufend"
    m2 = _measure(units, "ik/2.3.2/z2/m1")
    assert m2.text.startswith("Maßnahmen 1: Die Stadt Jena stellt Informationen")  # "Maßnahmen" as in the source
    assert m2.fokus == "IMMIGRA und Angebote von JenaKultur als Schwerpunkte und Indikatoren"


@pytest.mark.parametrize("text", [SEED, CORPUS_TEXT], ids=["raw seed", "corpus"])
def test_golden_measure_run_together(text: str, offices) -> None:
    units = concept_units(parse_structure(text), lambda t, line: offices.resolve(t, line))
    m = _measure(units, "ik/2.5.1/z1/m1")
    assert m.termin == "fortlaufend"
    assert m.fokus == "Angebote mit regelmäßigem Charakter und Begegnung von Menschen mit und ohne Migrationsgeschichte"
    assert m.offices[:3] == ("office/jenakultur", "office/kij", "office/beauftragte-sport")
    assert "office/buero-migration-integration" in m.offices
    vereinsforum = _measure(units, "ik/2.5.3/z2/m1")
    assert vereinsforum.text.split("\n") == ["Maßnahme 1: Das Jenaer Vereinsforum findet regelmäßig statt.",
                                             "Verantwortung: Bürgerstiftung Jena, Förderung durch Fachdienst Soziales",
                                             "Termin: jährlich"]
    assert vereinsforum.offices == ("office/buergerstiftung", "office/fd-soziales")


def test_measure_embedding_context_names_field_and_goal_but_citation_is_its_own_text(offices) -> None:
    units = concept_units(parse_structure(CORPUS_TEXT), lambda t, line: offices.resolve(t, line))
    m = _measure(units, "ik/2.4/z2/m2")
    assert "Handlungsfeld Gesundheit" in m.context
    assert "besonderer Unterstützung bedürfen" in m.context
    assert m.text.startswith("Maßnahme 2: Die Stadt Jena setzt sich weiterhin für professionelle Sprachmittlung")
    assert "Handlungsfeld" not in m.text


def test_footnote_between_fields_of_a_measure_does_not_end_it(offices) -> None:
    units = concept_units(parse_structure(CORPUS_TEXT), lambda t, line: offices.resolve(t, line))
    m = _measure(units, "ik/2.8/z2/m2")  # footnote 39 stands between its Verantwortung and Termin lines
    assert m.termin == "fortlaufend"
    assert "office/landespolizeidirektion" in m.offices


def test_units_have_stable_unique_ids(offices) -> None:
    units = concept_units(parse_structure(CORPUS_TEXT), lambda t, line: offices.resolve(t, line))
    ids = [u.id for u in units]
    assert len(ids) == len(set(ids)) == 4 + 13 + 27 + 63 + 1
    assert ids[:2] == ["ik/intro/p1", "ik/intro/p2"]
    assert "ik/2.3.1/z2/m3" in ids and ids[-1] == "ik/schluss"


def test_logical_lines_keep_source_line_numbers() -> None:
    lines = list(logical_lines(SEED))
    run_together = [ll for ll in lines if ll.text.startswith("Termin: jährlich")]
    assert run_together and SEED.splitlines()[run_together[0].line - 1].startswith("Maßnahme 1: Das Jenaer")


def _break(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_measure_without_verantwortung_fails_with_file_and_line() -> None:
    broken = _break(CORPUS_TEXT, "Verantwortung: FD Personal, AG Mitarbeiterbefragung\n", "")
    with pytest.raises(CorpusError) as error:
        parse_structure(broken, "corpus/integrationskonzept.md")
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if row.startswith("Maßnahme 1: Die Arbeitsgruppe"))
    assert error.value.path == "corpus/integrationskonzept.md" and error.value.line == line
    assert "has no 'Verantwortung:' line" in str(error.value)


def test_unknown_office_fails_with_line_and_the_unknown_words(offices) -> None:
    broken = _break(CORPUS_TEXT, "Verantwortung: FD Personal, AG Mitarbeiterbefragung",
                    "Verantwortung: FD Personal, Amt für Zauberei")
    with pytest.raises(CorpusError) as error:
        concept_units(parse_structure(broken), lambda t, line: offices.resolve(t, line, "integrationskonzept.md"))
    assert "Amt für Zauberei" in str(error.value) and error.value.line


def test_duplicate_measure_number_and_undefined_footnote_are_errors(offices) -> None:
    duplicate = _break(CORPUS_TEXT, "Maßnahme 2: Die Stadt Jena formuliert", "Maßnahme 1: Die Stadt Jena formuliert")
    with pytest.raises(CorpusError, match="appears twice"):
        parse_structure(duplicate)
    undefined = _break(CORPUS_TEXT, "durchzuführen.²⁶", "durchzuführen.⁹⁹")
    with pytest.raises(CorpusError, match="footnote 99"):
        concept_units(parse_structure(undefined), lambda t, line: offices.resolve(t, line))


def test_stray_paragraph_inside_the_fields_is_reported() -> None:
    broken = _break(CORPUS_TEXT, "2.2 Handlungsfeld Arbeit",
                    "Ein verirrter Absatz ohne Struktur.\n\n2.2 Handlungsfeld Arbeit")
    with pytest.raises(CorpusError, match="unexpected paragraph"):
        parse_structure(broken)
