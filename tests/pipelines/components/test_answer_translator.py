"""The answer in the asker's language: translation memory, else argostranslate, else German with a notice."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipelines.argos import install_model
from pipelines.components.answer_translator import AnswerTranslator
from pipelines.i18n import message
from pipelines.query import ask, build_query_pipeline
from tests.pipelines.tiny_argos import tag_for

MARKER = re.compile(r"\[\d+\]")

ANSWER_DE = "\n".join([
    "Die Stadt Jena bietet z. B. Sprachkurse an. Die Kurse beginnen am 1. März. [1]",
    "Kontakt (Büro für Migration und Integration): Telefon 03641 49-0 [2]",
    "Siehe auch: Sprachmittlung [3]; Beratung für Zugewanderte [1] [3].",
])


def _answer(**overrides: Any) -> dict[str, Any]:
    answer = {
        "question": "Wo kann ich Deutsch lernen?", "answered": True, "simple": False,
        "answer": ANSWER_DE, "answer_de": ANSWER_DE,
        "citations": [
            {"n": 1, "id": "ik/2.1/z1/m1", "text": "Ausbau der Sprachkurse. Verantwortung: FD Soziales.",
             "text_translated": None},
            {"n": 2, "id": "svc/buero-migration-integration", "text": "Beratung für Zugewanderte.",
             "text_translated": None},
            {"n": 3, "id": "ik/2.1/z4/m1", "text": "Sprachmittlung in allen Ämtern mit Kundenkontakt.",
             "text_translated": None},
        ],
    }
    answer.update(overrides)
    return answer


def _packages_with(tiny_argosmodels: dict[tuple[str, str], Path], target: Path,
                   *pairs: tuple[str, str]) -> Path:
    for pair in pairs:
        install_model(tiny_argosmodels[pair], target)
    return target


def _none_notice_en_de() -> str:
    return f"{message('en', 'translation.none')} / {message('de', 'translation.none')}"


def test_german_is_not_translated(tmp_path) -> None:
    answer = _answer()

    result = AnswerTranslator(packages_dir=str(tmp_path / "argos")).run(answer=answer, language="de",
                                                                        memory_method="source")["answer"]

    assert result["translation"] == {"method": "none", "notice": None}
    assert result["answer"] == ANSWER_DE and result["lang"] == "de"


@pytest.mark.parametrize(("simple", "key"), [(False, "translation.memory"), (True, "translation.simple")])
def test_memory_language_gets_its_notice(tmp_path, simple: bool, key: str) -> None:
    answer = _answer(answer="Місто Єна пропонує мовні курси. [1]", simple=simple)

    result = AnswerTranslator(packages_dir=str(tmp_path / "argos")).run(answer=answer, language="uk",
                                                                        memory_method="memory")["answer"]

    assert result["translation"] == {"method": "memory", "notice": message("uk", key)}
    assert result["answer"] == "Місто Єна пропонує мовні курси. [1]"


def test_installed_package_translates_line_by_line_keeping_markers(tiny_argosmodels, tmp_path,
                                                                   no_network) -> None:
    packages = _packages_with(tiny_argosmodels, tmp_path / "argos", ("de", "xx"))
    answer = _answer()
    original = copy.deepcopy(answer)

    result = AnswerTranslator(packages_dir=str(packages)).run(answer=answer, language="xx",
                                                              memory_method="missing")["answer"]

    assert result["translation"] == {"method": "argos", "notice": f"{message('en', 'translation.machine')} / "
                                                                  f"{message('de', 'translation.machine')}"}
    assert result["answer_de"] == ANSWER_DE and result["lang"] == "xx"
    lines, german = result["answer"].split("\n"), ANSWER_DE.split("\n")
    assert len(lines) == len(german)
    for line, line_de in zip(lines, german, strict=True):
        assert MARKER.findall(line) == MARKER.findall(line_de)
        assert tag_for("xx") in line and line != line_de
    # two sentences ("z. B." and "1. März" do not end one) become two translated sentences
    assert lines[0] == "XX XX [1]"
    for citation in result["citations"]:
        assert citation["text_translated"] and tag_for("xx") in citation["text_translated"]
    assert answer == original, "the input answer must not be changed"
    assert no_network == []


def test_pivot_package_route_is_used(tiny_argosmodels, tmp_path, no_network) -> None:
    packages = _packages_with(tiny_argosmodels, tmp_path / "argos", ("de", "en"), ("en", "xx"))

    result = AnswerTranslator(packages_dir=str(packages)).run(answer=_answer(), language="xx",
                                                              memory_method="missing")["answer"]

    assert result["translation"]["method"] == "argos"
    assert result["answer"].split("\n")[1] == "XX [2]"
    assert no_network == []


def test_language_without_memory_catalog_or_package_gets_german_with_english_and_german_notice(
        tiny_argosmodels, tmp_path) -> None:
    packages = _packages_with(tiny_argosmodels, tmp_path / "argos", ("de", "xx"))

    result = AnswerTranslator(packages_dir=str(packages)).run(answer=_answer(), language="sw",
                                                              memory_method="missing")["answer"]

    assert result["translation"] == {"method": "none", "notice": _none_notice_en_de()}
    assert result["answer"] == ANSWER_DE and result["lang"] == "sw"
    assert all(c["text_translated"] is None for c in result["citations"])


def test_catalog_language_without_memory_gets_notice_in_its_own_language(tmp_path) -> None:
    result = AnswerTranslator(packages_dir=str(tmp_path / "argos")).run(answer=_answer(), language="uk",
                                                                        memory_method="missing")["answer"]

    assert result["translation"] == {"method": "none", "notice": message("uk", "translation.none")}
    assert result["translation"]["notice"] != message("en", "translation.none")
    assert result["answer"] == ANSWER_DE


def _broken_model_bin(tiny_argosmodels: dict[tuple[str, str], Path], root: Path) -> Path:
    packages = _packages_with(tiny_argosmodels, root / "argos", ("de", "xx"))
    next(packages.glob("*/model/model.bin")).write_bytes(b"not a CTranslate2 model")
    return packages


def _no_model_folder(tiny_argosmodels: dict[tuple[str, str], Path], root: Path) -> Path:
    packages = _packages_with(tiny_argosmodels, root / "argos", ("de", "xx"))
    shutil.rmtree(next(packages.glob("*/model")))
    return packages


def _broken_metadata(tiny_argosmodels: dict[tuple[str, str], Path], root: Path) -> Path:
    packages = _packages_with(tiny_argosmodels, root / "argos", ("de", "xx"))
    next(packages.glob("*/metadata.json")).write_text("{not json", encoding="utf-8")
    return packages


def _missing_folder(tiny_argosmodels: dict[tuple[str, str], Path], root: Path) -> Path:
    return root / "does-not-exist"


def _file_instead_of_folder(tiny_argosmodels: dict[tuple[str, str], Path], root: Path) -> Path:
    path = root / "argos"
    path.write_text("not a folder", encoding="utf-8")
    return path


@pytest.mark.parametrize("make_packages", [_missing_folder, _file_instead_of_folder, _broken_metadata,
                                           _no_model_folder, _broken_model_bin])
def test_missing_or_broken_packages_fall_back_to_german(tiny_argosmodels, tmp_path, make_packages) -> None:
    packages = make_packages(tiny_argosmodels, tmp_path)

    result = AnswerTranslator(packages_dir=str(packages)).run(answer=_answer(), language="xx",
                                                              memory_method="missing")["answer"]

    assert result["translation"] == {"method": "none", "notice": _none_notice_en_de()}
    assert result["answer"] == ANSWER_DE
    assert all(c["text_translated"] is None for c in result["citations"])


@pytest.mark.integration
def test_pipeline_answers_an_unsupported_language_in_english_and_german_with_a_notice(served) -> None:
    result = ask(served.ask, "Wo kann ich Deutsch lernen?", lang="sw")

    assert result["answered"] is True
    notice = f"{message('en', 'translation.other_language')} / {message('de', 'translation.other_language')}"
    assert result["translation"] == {"method": "none", "notice": notice}
    assert result["lang"] == "en" and MARKER.search(result["answer"])
    assert result["answer"] != result["answer_de"] and MARKER.findall(result["answer"]) == MARKER.findall(
        result["answer_de"])


def test_an_answer_composed_in_english_for_a_language_without_catalog_stays_english(tmp_path) -> None:
    composed = {**_answer(), "lang": "en", "answer": "EN answer [1]"}
    result = AnswerTranslator(packages_dir=str(tmp_path / "none")).run(answer=composed, language="pl",
                                                                       memory_method="missing")["answer"]
    assert result["lang"] == "en" and result["answer"] == "EN answer [1]" and result["answer_de"] == ANSWER_DE
    assert result["translation"]["method"] == "none"
    assert "cannot answer in this language" in result["translation"]["notice"]


@pytest.mark.integration
def test_pipeline_translates_with_an_installed_package(served, ingested_settings, tiny_argosmodels, tmp_path,
                                                       no_network) -> None:
    settings = ingested_settings.model_copy(update={"argos_dir": tmp_path / "argos"})
    install_model(tiny_argosmodels[("de", "xx")], settings.argos_dir)
    pipeline = build_query_pipeline(settings, served.index)

    result = ask(pipeline, "Wo kann ich Deutsch lernen?", lang="xx")

    assert result["answered"] is True
    assert result["translation"]["method"] == "argos"
    assert result["answer"] != result["answer_de"]
    for line, line_de in zip(result["answer"].split("\n"), result["answer_de"].split("\n"), strict=True):
        assert MARKER.findall(line) == MARKER.findall(line_de)
    assert result["citations"] and all(c["text_translated"] for c in result["citations"])
    assert no_network == []
