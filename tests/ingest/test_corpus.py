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

FACTS_DIR = PROJECT_ROOT.parent / "shared" / "facts"
FACTS_FILE = FACTS_DIR / "jena-services.yaml"
NEWCOMER_FACTS_FILE = FACTS_DIR / "jena-newcomer-services.yaml"
#: Jena's dialling code: a source may give a city number as an extension only ("49-3800").
JENA_PREFIXES = ("00493641", "493641", "03641")
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
             ("intro", "field", "goal", "measure", "strategy", "service", "procedure", "office")}
    assert kinds == {"intro": 5, "field": 13, "goal": 27, "measure": 63, "strategy": 4, "service": 46,
                     "procedure": 33, "office": 50}
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
    facts = FACTS_FILE.read_text(encoding="utf-8") + NEWCOMER_FACTS_FILE.read_text(encoding="utf-8")
    entries = {**load_services(CORPUS / "services"), **load_services(CORPUS / "procedures", prefix="proc")}
    for service in entries.values():
        versions = [v for c in service.conflicts for v in c["versions"]]
        for item in (*service.facts, *(c for items in service.contact.values() for c in items), *versions):
            assert item["source"] in facts, f"{service.id}: {item['source']} is not a source of the facts files"
            assert "as_of" in item


def _facts_by_source() -> dict[str, list[str]]:
    """Every value of both facts files (facts, contradiction claims), by each source URL it names."""
    by_source: dict[str, list[str]] = {}
    for path in (FACTS_FILE, NEWCOMER_FACTS_FILE):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = [*(data.get("entries") or []), *(data.get("additions_to_existing") or []),
                   *(data.get("policies") or [])]
        items = [f for e in entries for f in e.get("facts") or []]
        items += [v for c in data.get("contradictions") or [] for v in c.values() if isinstance(v, dict)]
        for item in items:
            value = str(item.get("value") or item.get("claim") or "")
            for url in str(item.get("source") or "").split(" ; "):
                by_source.setdefault(url.strip(), []).append(value)
    return by_source


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    for prefix in JENA_PREFIXES:
        if digits.startswith(prefix) and len(digits) > len(prefix) + 2:
            return digits[len(prefix):]
    return digits


def _supported(kind: str, value: str, stated: list[str], source: str) -> bool:
    """A contact value is supported when a fact of the same source states it (numbers digit by digit,
    Jena's dialling code aside; e-mail and web addresses literally; addresses and hours by their numbers and
    their longest words)."""
    text = " ".join(stated)
    if kind == "phone":
        return _digits(value) in re.sub(r"\D", "", text)
    if kind == "email":
        return value.lower() in text.lower()
    if kind == "website":
        host = re.sub(r"^(https?://)?(www\.)?", "", value.lower()).split("/")[0]
        return host in text.lower() or host in source.lower()
    value = re.sub(r"\([^)]*\)", "", value)  # an editor's remark in brackets is not a contact detail
    numbers = re.findall(r"\d+", value)
    words = sorted(re.findall(r"[A-Za-zÄÖÜäöüß]{5,}", value), key=len, reverse=True)
    return all(n in text for n in numbers) and (not words or any(w in text for w in words[:2]))


@pytest.mark.skipif(not NEWCOMER_FACTS_FILE.exists(), reason="../shared/facts is beside the project in CI")
def test_every_contact_detail_comes_from_a_fact_of_its_own_source() -> None:
    """Contact details are never made up: each one is stated by a fact of the facts files whose source is the
    one the contact item cites (for every service and procedure, old and new)."""
    by_source = _facts_by_source()
    entries = {**load_services(CORPUS / "services"), **load_services(CORPUS / "procedures", prefix="proc")}
    unsupported = []
    for entry in entries.values():
        for kind, items in entry.contact.items():
            for item in items:
                stated = by_source.get(item["source"], [])
                assert stated, f"{entry.id} {kind}: {item['source']} is not a source in the facts files"
                if not _supported(kind, str(item["value"]), stated, item["source"]):
                    unsupported.append((entry.id, kind, item["value"], item["source"]))
    assert not unsupported, unsupported


@pytest.mark.skipif(not FACTS_FILE.exists(), reason="../shared/facts is beside the project in CI and development")
def test_contact_details_inside_fact_texts_are_copied_from_the_facts_file() -> None:
    facts = FACTS_FILE.read_text(encoding="utf-8") + NEWCOMER_FACTS_FILE.read_text(encoding="utf-8")
    email = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
    entries = {**load_services(CORPUS / "services"), **load_services(CORPUS / "procedures", prefix="proc")}
    for service in entries.values():
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


def test_the_contact_check_rejects_a_made_up_number_and_accepts_a_dialling_code() -> None:
    source = "https://example.org/page"
    assert _supported("phone", "03641 49-3800", ["telefonisch unter 49-3800"], source)
    assert not _supported("phone", "03641 49-3801", ["telefonisch unter 49-3800"], source)
    assert not _supported("email", "info@jena.de", ["bs-antrag@jena.de"], source)
    assert not _supported("address", "Engelplatz 2, Jena", ["Neubau Engelplatz 1"], source)
    assert _supported("address", "Engelplatz 1, Jena (Neubau)", ["Neubau Engelplatz 1"], source)


def _procedure(tmp_path: Path, **changes) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    path = corpus / "procedures" / "wohnung-anmelden.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return corpus


def test_a_procedure_handled_by_an_unknown_service_is_rejected_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="svc/gibt-es-nicht") as error:
        load_corpus(_procedure(tmp_path, responsible=["svc/gibt-es-nicht"]))
    assert error.value.path.endswith("procedures/wohnung-anmelden.yaml")


def test_a_link_to_a_unit_that_is_not_a_plan_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not a unit of the Integrationskonzept"):
        load_corpus(_procedure(tmp_path, links=["svc/vhs"]))


def test_a_conflict_needs_two_sourced_versions(tmp_path: Path) -> None:
    one = [{"topic": "x", "text": "Die Quellen sagen Unterschiedliches.",
            "versions": [{"claim": "a", "source": "https://example.org", "as_of": None}]}]
    with pytest.raises(CorpusError, match="at least two"):
        load_corpus(_procedure(tmp_path, conflicts=one))
    unsourced = [{"topic": "x", "text": "…", "versions": [{"claim": "a", "as_of": None},
                                                          {"claim": "b", "source": "https://e.org", "as_of": None}]}]
    with pytest.raises(CorpusError, match="no source URL"):
        load_corpus(_procedure(tmp_path / "2", conflicts=unsourced))
