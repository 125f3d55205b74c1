"""argostranslate, offline: install ``.argosmodel`` files into our own folder and translate with them.

Nothing here touches argostranslate's package index or any download: packages come only from files an
operator installs (``wegweiser models install FILE.argosmodel``). Sentences are split by our own rules, so no
sentence-boundary model (stanza, spaCy, MiniSBD) is ever fetched.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
# Abbreviations after which a full stop does not end a sentence.
_NO_BREAK = ("z. B.", "z.B.", "u. a.", "u.a.", "d. h.", "bzw.", "ca.", "vgl.", "Nr.", "Dr.", "e.V.", "e. V.",
             "etc.", "usw.", "ggf.", "Tel.", "St.", "Str.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+(?=[\"„“(\[]?[^\W\d_]|\d)")
# A one- or two-digit number with a full stop is an ordinal ("am 1. März", "im 2. Stock"), not a sentence end.
_ORDINAL = re.compile(r"(?<![\w.])(\d{1,2})\.(?=\s)")


class ArgosModelError(ValueError):
    """An ``.argosmodel`` file that cannot be installed (not a zip, no metadata, unsafe paths …)."""


@dataclass(frozen=True)
class InstalledModel:
    """An installed translation package."""

    from_code: str
    to_code: str
    version: str
    path: Path


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping abbreviations such as "z. B." intact."""
    protected = text
    for i, abbreviation in enumerate(_NO_BREAK):
        protected = protected.replace(abbreviation, f"\x00{i}\x00")
    protected = _ORDINAL.sub("\\1\x01", protected)
    pieces = [p for p in _BOUNDARY.split(protected) if p.strip()]

    def restore(piece: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: _NO_BREAK[int(m.group(1))], piece).replace("\x01", ".")

    return [restore(p).strip() for p in pieces]


class _OurSentencizer:
    """argostranslate's sentencizer interface, backed by :func:`split_sentences`."""

    def split_sentences(self, text: str) -> list[str]:
        return split_sentences(text)


def _settings(packages_dir: Path) -> Any:
    import argostranslate.settings as argos_settings

    packages_dir.mkdir(parents=True, exist_ok=True)
    argos_settings.package_data_dir = packages_dir
    argos_settings.package_dirs = [packages_dir]
    return argos_settings


def validate_model_file(path: Path) -> dict[str, Any]:
    """Check an ``.argosmodel`` before anything is extracted.

    :returns: its metadata.
    :raises ArgosModelError: with a readable reason.
    """
    if not path.is_file():
        raise ArgosModelError(f"{path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ArgosModelError(f"{path} is not an .argosmodel (not a zip archive)")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for name in names:
            if name.startswith("/") or ".." in Path(name).parts:
                raise ArgosModelError(f"{path} contains an unsafe path: {name}")
        roots = {n.split("/", 1)[0] for n in names}
        if len(roots) != 1:
            raise ArgosModelError(f"{path} must contain exactly one package folder, found {sorted(roots)}")
        root = roots.pop()
        try:
            metadata = json.loads(archive.read(f"{root}/metadata.json"))
        except KeyError as exc:
            raise ArgosModelError(f"{path} has no {root}/metadata.json") from exc
        if not metadata.get("from_code") or not metadata.get("to_code"):
            raise ArgosModelError(f"{path}: metadata.json needs from_code and to_code")
        if f"{root}/model/model.bin" not in names:
            raise ArgosModelError(f"{path} has no CTranslate2 model ({root}/model/model.bin)")
        if f"{root}/sentencepiece.model" not in names and f"{root}/bpe.model" not in names:
            raise ArgosModelError(f"{path} has no tokenizer (sentencepiece.model or bpe.model)")
    return metadata


def install_model(path: Path, packages_dir: Path) -> InstalledModel:
    """Install one ``.argosmodel`` file into ``packages_dir`` (never downloads anything).

    :raises ArgosModelError: when the file is not a valid package.
    """
    metadata = validate_model_file(path)
    with zipfile.ZipFile(path) as archive:
        root = archive.namelist()[0].split("/", 1)[0]
    with _LOCK:
        _settings(packages_dir)
        from argostranslate import package

        package.install_from_path(path)
    version = str(metadata.get("package_version", ""))
    return InstalledModel(metadata["from_code"], metadata["to_code"], version, packages_dir / root)


def installed_models(packages_dir: Path) -> list[InstalledModel]:
    """The translation packages installed in ``packages_dir`` (empty when the folder does not exist)."""
    if not packages_dir.is_dir():
        return []
    models = []
    for folder in sorted(p for p in packages_dir.iterdir() if p.is_dir()):
        metadata_path = folder / "metadata.json"
        if not metadata_path.exists():
            continue
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        if metadata.get("type", "translate") == "translate" and metadata.get("from_code") and \
                metadata.get("to_code"):
            models.append(InstalledModel(metadata["from_code"], metadata["to_code"],
                                         str(metadata.get("package_version", "")), folder))
    return models


class ArgosEngine:
    """Translate with installed packages, directly or through one pivot language (de → en → xx)."""

    def __init__(self, packages_dir: Path) -> None:
        self.packages_dir = packages_dir
        self._translators: dict[Path, Any] = {}
        self._packages: dict[Path, Any] = {}

    def route(self, from_code: str, to_code: str) -> list[InstalledModel] | None:
        """The packages that lead from one language to the other (one or two hops), or None."""
        models = installed_models(self.packages_dir)
        direct = [m for m in models if m.from_code == from_code and m.to_code == to_code]
        if direct:
            return direct[:1]
        for first in (m for m in models if m.from_code == from_code):
            for second in (m for m in models if m.from_code == first.to_code and m.to_code == to_code):
                return [first, second]
        return None

    def _translate_one(self, model: InstalledModel, text: str) -> str:
        import ctranslate2
        from argostranslate import package
        from argostranslate.translate import apply_packaged_translation

        with _LOCK:
            if model.path not in self._packages:
                # both or neither: a package whose model fails to load is tried again on the next call
                translator = ctranslate2.Translator(str(model.path / "model"), device="cpu", inter_threads=1,
                                                    intra_threads=0)
                self._packages[model.path] = package.Package(model.path)
                self._translators[model.path] = translator
            pkg, translator = self._packages[model.path], self._translators[model.path]
        paragraphs = text.split("\n")
        out = []
        for paragraph in paragraphs:
            if not paragraph.strip():
                out.append(paragraph)
                continue
            hypotheses = apply_packaged_translation(pkg, paragraph, translator, _OurSentencizer(), 1)
            out.append(hypotheses[0].value)
        return "\n".join(out)

    def translate(self, text: str, from_code: str, to_code: str) -> str | None:
        """The translation, or None when no installed package leads there."""
        route = self.route(from_code, to_code)
        if route is None:
            return None
        for model in route:
            text = self._translate_one(model, text)
        return text
