"""argostranslate offline: installing ``.argosmodel`` files, refusing bad ones, translating with them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.argos import ArgosEngine, ArgosModelError, install_model, installed_models, split_sentences
from pipelines.settings import PROJECT_ROOT
from tests.pipelines.tiny_argos import tag_for

WEGWEISER = Path(sys.executable).with_name("wegweiser")


def _rewrite(source: Path, target: Path, drop: tuple[str, ...] = (),
             add: dict[str, bytes] | None = None) -> Path:
    """A copy of an .argosmodel without the entries ending in ``drop`` and with the entries in ``add``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith(drop or ("\0",)):
                dst.writestr(item, src.read(item))
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return target


def _package_root(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()[0].split("/", 1)[0]


def test_installed_model_is_listed_and_translates_every_line(tiny_argosmodels, tmp_path, no_network) -> None:
    packages = tmp_path / "argos"
    model_file = tiny_argosmodels[("de", "xx")]

    installed = install_model(model_file, packages)

    assert (installed.from_code, installed.to_code, installed.version) == ("de", "xx", "1.0")
    assert installed.path == packages / _package_root(model_file)
    assert installed_models(packages) == [installed]
    text = "Wo kann ich Deutsch lernen?\n\nDas Büro für Migration berät Sie. Termine gibt es montags.\nDanke!"
    translated = ArgosEngine(packages).translate(text, "de", "xx")
    lines = translated.split("\n")
    assert len(lines) == len(text.split("\n"))
    assert lines[1] == ""
    for german, line in zip(text.split("\n"), lines, strict=True):
        if german:
            assert line.strip() and line != german
    # one output sentence per input sentence: the package was given our sentence split
    assert lines[2] == f"{tag_for('xx')} {tag_for('xx')}"
    assert no_network == []


def test_translation_uses_our_sentence_splitter(tiny_argosmodels, tmp_path, no_network) -> None:
    packages = tmp_path / "argos"
    install_model(tiny_argosmodels[("de", "xx")], packages)

    translated = ArgosEngine(packages).translate(
        "Es gibt z. B. Kurse ab dem 1. März 2025 im 2. Stock. Melden Sie sich bis 2025 an!", "de", "xx")

    assert translated == "XX XX"
    assert no_network == []


def test_pivot_route_through_english(tiny_argosmodels, tmp_path, no_network) -> None:
    packages = tmp_path / "argos"
    install_model(tiny_argosmodels[("de", "en")], packages)
    install_model(tiny_argosmodels[("en", "xx")], packages)
    engine = ArgosEngine(packages)

    route = engine.route("de", "xx")
    translated = engine.translate("Wo finde ich eine Beratung? Ich brauche Hilfe.", "de", "xx")

    assert route is not None and [(m.from_code, m.to_code) for m in route] == [("de", "en"), ("en", "xx")]
    # the English hop's output ("EN EN") was translated again by the en → xx package
    assert translated is not None and translated.split() and set(translated.split()) == {"XX"}
    assert engine.translate("Hallo.", "de", "sw") is None
    assert engine.route("xx", "de") is None
    assert no_network == []


def test_direct_package_wins_over_pivot(tiny_argosmodels, tmp_path, no_network) -> None:
    packages = tmp_path / "argos"
    for pair in (("de", "en"), ("en", "xx"), ("de", "xx")):
        install_model(tiny_argosmodels[pair], packages)

    route = ArgosEngine(packages).route("de", "xx")

    assert route is not None and [(m.from_code, m.to_code) for m in route] == [("de", "xx")]
    assert no_network == []


def _not_a_zip(model: Path, tmp_path: Path) -> Path:
    path = tmp_path / "bad.argosmodel"
    path.write_text("this is not a zip archive", encoding="utf-8")
    return path


def _without_metadata(model: Path, tmp_path: Path) -> Path:
    return _rewrite(model, tmp_path / "bad.argosmodel", drop=("/metadata.json",))


def _zip_slip(model: Path, tmp_path: Path) -> Path:
    root = _package_root(model)
    return _rewrite(model, tmp_path / "bad.argosmodel", add={f"{root}/../../escaped.txt": b"gotcha"})


def _without_model_bin(model: Path, tmp_path: Path) -> Path:
    return _rewrite(model, tmp_path / "bad.argosmodel", drop=("/model/model.bin",))


@pytest.mark.parametrize(("make_bad", "reason"), [
    (_not_a_zip, "not a zip"), (_without_metadata, "metadata.json"), (_zip_slip, "unsafe path"),
    (_without_model_bin, "model.bin"),
], ids=["not-a-zip", "no-metadata", "zip-slip", "no-model-bin"])
def test_bad_model_file_is_refused_and_nothing_extracted(tiny_argosmodels, tmp_path, make_bad, reason,
                                                         no_network) -> None:
    bad = make_bad(tiny_argosmodels[("de", "xx")], tmp_path)
    packages = tmp_path / "packages" / "argos"

    with pytest.raises(ArgosModelError, match=reason) as caught:
        install_model(bad, packages)

    assert str(bad) in str(caught.value)
    assert not packages.exists() or not any(packages.iterdir())
    assert not list(tmp_path.rglob("escaped.txt"))
    assert installed_models(packages) == []
    assert no_network == []


def _cli(*args: str, argos_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WEGWEISER_ARGOS_DIR": str(argos_dir)}
    return subprocess.run([str(WEGWEISER), "models", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_installs_and_lists_a_model(tiny_argosmodels, tmp_path) -> None:
    argos_dir = tmp_path / "argos"

    before = _cli("list", argos_dir=argos_dir)
    installed = _cli("install", str(tiny_argosmodels[("de", "xx")]), argos_dir=argos_dir)
    after = _cli("list", argos_dir=argos_dir)

    assert before.returncode == 0 and "No argostranslate models installed" in before.stdout
    assert installed.returncode == 0, installed.stderr
    assert "de → xx" in installed.stdout
    assert after.returncode == 0 and "de → xx" in after.stdout and "1.0" in after.stdout
    assert [(m.from_code, m.to_code) for m in installed_models(argos_dir)] == [("de", "xx")]


def test_cli_refuses_a_bad_file_readably(tiny_argosmodels, tmp_path) -> None:
    argos_dir = tmp_path / "argos"
    bad = _without_model_bin(tiny_argosmodels[("de", "xx")], tmp_path)

    result = _cli("install", str(bad), argos_dir=argos_dir)

    assert result.returncode == 2
    assert "model.bin" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert installed_models(argos_dir) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("Es gibt z. B. Sprachkurse. Fragen Sie im Büro nach.",
     ["Es gibt z. B. Sprachkurse.", "Fragen Sie im Büro nach."]),
    ("Der Kurs beginnt am 1. März 2025 im 2. Stock. Bitte melden Sie sich an.",
     ["Der Kurs beginnt am 1. März 2025 im 2. Stock.", "Bitte melden Sie sich an."]),
    ("Anmeldung bis zum 03.10.2024. Danach ist es zu spät.",
     ["Anmeldung bis zum 03.10.2024.", "Danach ist es zu spät."]),
    ("Das Konzept gilt bis 2025. Danach wird es fortgeschrieben.",
     ["Das Konzept gilt bis 2025.", "Danach wird es fortgeschrieben."]),
    ("Frau Dr. Müller hilft u. a. bei Anträgen, ca. 20 Minuten lang. Wo? Im Rathaus!",
     ["Frau Dr. Müller hilft u. a. bei Anträgen, ca. 20 Minuten lang.", "Wo?", "Im Rathaus!"]),
    ("Maßnahme 2.4 läuft. „Wir helfen“, sagt das Büro.",
     ["Maßnahme 2.4 läuft.", "„Wir helfen“, sagt das Büro."]),
    ("Öffnungszeiten: Mo. bis Fr. 9 bis 12 Uhr", ["Öffnungszeiten: Mo. bis Fr. 9 bis 12 Uhr"]),
])
def test_split_sentences_keeps_abbreviations_and_dates(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_reinstalled_package_repairs_a_running_engine(tiny_argosmodels, tmp_path, no_network) -> None:
    packages = tmp_path / "argos"
    model_file = tiny_argosmodels[("de", "xx")]
    installed = install_model(model_file, packages)
    (installed.path / "model" / "model.bin").write_bytes(b"truncated download")
    engine = ArgosEngine(packages)

    with pytest.raises(RuntimeError):
        engine.translate("Hallo.", "de", "xx")
    install_model(model_file, packages)

    assert engine.translate("Hallo.", "de", "xx") == "XX"
    assert no_network == []
