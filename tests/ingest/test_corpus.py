"""The corpus as a whole: offices cover every Verantwortung, services state only sourced facts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from ingest.concept import parse_structure
from ingest.corpus import load_corpus, load_offices, load_service, load_services
from ingest.errors import CorpusError
from ingest.strategy import strategy_units
from pipelines.settings import PROJECT_ROOT
from tests.conftest import CORPUS

FACTS_FILE = PROJECT_ROOT.parent / "shared" / "facts" / "jena-services.yaml"
REQUIRED_SERVICES = {
    "buero-migration-integration", "antidiskriminierungsstelle", "sprintpool", "landesprogramm-dolmetschen",
    "refugio", "ezra", "rias", "thadine", "kokont", "weisser-ring", "anonymer-krankenschein", "welcome-center",
    "haus-auf-der-mauer", "jenarbeit", "jugendberufsagentur", "vhs", "ernst-abbe-buecherei",
    "stadtteilbuero-lobeda", "stadtteilbuero-winzerla", "migrationsbeirat", "neu-in-jena",
}


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def test_every_verantwortung_resolves_to_offices_and_every_office_is_named(corpus) -> None:
    measures = [u for u in corpus.units if u.kind == "measure"]
    assert len(measures) == 63
    for measure in measures:
        assert measure.offices, measure.id
        assert all(o in corpus.offices.offices for o in measure.offices)
    named = {o for m in measures for o in m.offices}
    assert named == set(corpus.offices.offices), "offices.yaml lists bodies no Verantwortung line names"


def test_aliases_of_the_contract_resolve(corpus) -> None:
    offices = corpus.offices
    assert offices.resolve("FD Personal") == ("office/fd-personal",)
    assert offices.resolve("Büro für Migration") == ("office/buero-migration-integration",)
    assert offices.resolve("JenaWirtschaft") == ("office/jenawirtschaft",)
    assert offices.resolve("Wirtschaftsförderungsgesellschaft Jena mbH") == ("office/jenawirtschaft",)
    assert offices.resolve("FD Soziales und Büro für Migration und Integration sowie externe Partner") == (
        "office/fd-soziales", "office/buero-migration-integration", "office/externe-partner")
    assert offices.mentions("Welche Maßnahmen hat JenaKultur?") == ["office/jenakultur"]


def test_unit_counts_by_kind(corpus) -> None:
    kinds = {k: sum(1 for u in corpus.units if u.kind == k) for k in
             ("intro", "field", "goal", "measure", "strategy", "service", "office")}
    assert kinds == {"intro": 5, "field": 13, "goal": 27, "measure": 63, "strategy": 4, "service": 23, "office": 50}
    assert len({u.id for u in corpus.units}) == len(corpus.units)


def test_sozialstrategie_sections_have_contract_ids() -> None:
    units = strategy_units((CORPUS / "sozialstrategie.md").read_text(encoding="utf-8"))
    assert [u.id for u in units] == ["ks/allgemeines", "ks/armutspraevention", "ks/integrationskonzept", "ks/10ppa"]
    assert all(u.text and u.kind == "strategy" for u in units)


def test_required_services_exist() -> None:
    services = load_services(CORPUS / "services")
    assert REQUIRED_SERVICES <= {s.removeprefix("svc/") for s in services}


@pytest.mark.skipif(not FACTS_FILE.exists(), reason="../shared/facts is beside the project in CI and development")
def test_every_service_fact_and_contact_cites_the_facts_file() -> None:
    facts = FACTS_FILE.read_text(encoding="utf-8")
    for service in load_services(CORPUS / "services").values():
        for item in (*service.facts, *(c for items in service.contact.values() for c in items)):
            assert item["source"] in facts, f"{service.id}: {item['source']} is not a source of the facts file"
            assert "as_of" in item
        for kind, items in service.contact.items():
            for item in items:
                # Contact values are copied, never made up: each occurs in the facts file.
                assert str(item["value"]) in facts, f"{service.id} {kind} {item['value']!r} is not in the facts file"


@pytest.mark.skipif(not FACTS_FILE.exists(), reason="../shared/facts is beside the project in CI and development")
def test_contact_details_inside_fact_texts_are_copied_from_the_facts_file() -> None:
    facts = FACTS_FILE.read_text(encoding="utf-8")
    email = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
    for service in load_services(CORPUS / "services").values():
        for fact in service.facts:
            for address in email.findall(fact["text"]):
                assert address in facts, (service.id, address)


def test_bad_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "offices.yaml"
    path.write_text("offices:\n  - id: office/x\n    name: X\n    aliases: [unclosed\n", encoding="utf-8")
    with pytest.raises(CorpusError) as error:
        load_offices(path)
    assert error.value.path == str(path) and error.value.line is not None and "invalid YAML" in str(error.value)


def test_service_fact_without_source_is_rejected_with_its_line(tmp_path: Path) -> None:
    good = yaml.safe_load((CORPUS / "services" / "vhs.yaml").read_text(encoding="utf-8"))
    del good["facts"][1]["source"]
    path = tmp_path / "vhs.yaml"
    path.write_text(yaml.safe_dump(good, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(CorpusError, match="no source URL") as error:
        load_service(path)
    assert error.value.line and error.value.line > 1


def test_service_id_must_match_file_name(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "services" / "vhs.yaml", tmp_path / "volkshochschule.yaml")
    with pytest.raises(CorpusError, match="svc/volkshochschule"):
        load_service(tmp_path / "volkshochschule.yaml")


def test_unknown_office_in_the_corpus_fails_ingest_validation(tmp_path: Path) -> None:
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS, copy)
    concept = copy / "integrationskonzept.md"
    concept.write_text(concept.read_text(encoding="utf-8").replace(
        "Verantwortung: Oberbürgermeister, Team Öffentlichkeitsarbeit",
        "Verantwortung: Oberbürgermeister, Team Glanz und Gloria"), encoding="utf-8")
    with pytest.raises(CorpusError) as error:
        load_corpus(copy)
    assert error.value.path.endswith("integrationskonzept.md") and "Team Glanz und Gloria" in str(error.value)


def test_corpus_concept_is_the_seed_without_transport_artefacts() -> None:
    seed = PROJECT_ROOT.parent / "shared" / "seeds" / "integrationskonzept-jena-2024.txt"
    if not seed.exists():
        pytest.skip("../shared/seeds is beside the project in CI and development")
    from ingest.concept import strip_transport_artefacts

    assert strip_transport_artefacts(seed.read_text(encoding="utf-8")) == \
        (CORPUS / "integrationskonzept.md").read_text(encoding="utf-8")
    assert len(parse_structure((CORPUS / "integrationskonzept.md").read_text(encoding="utf-8")).fields) == 13
