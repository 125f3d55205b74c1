"""The translation memory (``corpus/translations/*.yaml``), the glossary (``corpus/glossary.yaml``) and the
search questions (``corpus/search_questions/*.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.corpus import load_yaml
from ingest.errors import CorpusError
from pipelines.settings import SIMPLE_GERMAN, SUPPORTED_LANGUAGES
from pipelines.units import Unit, source_hash

TRANSLATIONS_DIR = "translations"
GLOSSARY_FILE = "glossary.yaml"
_HASH = re.compile(r"^[0-9a-f]{12}$")
_LANGUAGE_FILE = re.compile(r"^(de-simple|[a-z]{2,3})$")


@dataclass(frozen=True)
class Entry:
    """One unit in one language."""

    unit_id: str
    text: str
    title: str | None
    source_hash: str
    provenance: str
    terms: tuple[str, ...]
    line: int


@dataclass
class LanguageFile:
    """One ``translations/<lang>.yaml``."""

    language: str
    label: str
    made_from: str
    provenance: dict[str, str]
    entries: dict[str, Entry]
    path: Path


@dataclass
class TranslationMemory:
    """All translation files, and which entries are current, stale, missing or orphaned."""

    files: dict[str, LanguageFile]
    fresh: dict[str, dict[str, Entry]] = field(default_factory=dict)
    stale: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    orphans: dict[str, list[str]] = field(default_factory=dict)

    def text(self, unit_id: str, language: str) -> str | None:
        """The current (non-stale) text of a unit in a language, if any."""
        entry = self.fresh.get(language, {}).get(unit_id)
        return entry.text if entry else None

    def entry(self, unit_id: str, language: str) -> Entry | None:
        """The current entry of a unit in a language, if any."""
        return self.fresh.get(language, {}).get(unit_id)

    def coverage(self, total: int) -> dict[str, dict[str, int]]:
        """Per language: fresh, stale, missing and orphaned entry counts."""
        return {lang: {"fresh": len(self.fresh.get(lang, {})), "stale": len(self.stale.get(lang, [])),
                       "missing": len(self.missing.get(lang, [])), "orphans": len(self.orphans.get(lang, [])),
                       "total": total}
                for lang in self.files}


def load_language_file(path: Path) -> LanguageFile:
    """Read one translation file.

    :raises CorpusError: for invalid YAML or an entry without text, a valid source hash or provenance.
    """
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("units"), dict):
        raise CorpusError(path, 1, "expected a mapping with 'language:' and 'units:'")
    language = data.get("language")
    if language != path.stem or not _LANGUAGE_FILE.match(str(language)):
        raise CorpusError(path, data.get("__line__"), f"'language: {language}' must match the file name "
                                                      f"({path.stem})")
    provenance = {k: str(v) for k, v in (data.get("provenance") or {}).items() if k != "__line__"}
    if not provenance:
        raise CorpusError(path, data.get("__line__"), "missing 'provenance:' labels (translations are unofficial)")
    entries: dict[str, Entry] = {}
    for unit_id, item in data["units"].items():
        if unit_id == "__line__":
            continue
        line = item.get("__line__") if isinstance(item, dict) else data["units"].get("__line__")
        if not isinstance(item, dict):
            raise CorpusError(path, line, f"entry {unit_id!r} must be a mapping")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(path, line, f"entry {unit_id!r} has no text")
        digest = str(item.get("source_hash", ""))
        if not _HASH.match(digest):
            raise CorpusError(path, line, f"entry {unit_id!r}: source_hash must be 12 hex digits, found {digest!r}")
        code = item.get("provenance")
        if code not in provenance:
            raise CorpusError(path, line, f"entry {unit_id!r}: provenance {code!r} is not one of "
                                          f"{sorted(provenance)}")
        title = item.get("title")
        entries[unit_id] = Entry(unit_id, text.strip(), str(title).strip() if title else None, digest, code,
                                 tuple(str(t) for t in item.get("terms") or ()), line or 0)
    return LanguageFile(str(language), str(data.get("label") or language), str(data.get("made_from") or "de"),
                        provenance, entries, path)


def load_translation_memory(directory: Path, units: list[Unit]) -> TranslationMemory:
    """Read every translation file and sort its entries into fresh, stale, missing and orphaned.

    The simple German is checked against the German text of record; every other language against the simple
    German it was made from, so a changed source marks the whole chain stale.
    """
    files = {p.stem: load_language_file(p) for p in sorted(directory.glob("*.yaml"))}
    memory = TranslationMemory(files)
    unit_ids = {u.id for u in units}
    german = {u.id: u.hash for u in units}
    simple = files.get(SIMPLE_GERMAN)
    order = [SIMPLE_GERMAN] + [lang for lang in files if lang != SIMPLE_GERMAN]
    for lang in order:
        if lang not in files:
            continue
        language_file = files[lang]
        if lang == SIMPLE_GERMAN:
            expected = german
        else:
            fresh_simple = memory.fresh.get(SIMPLE_GERMAN, {}) if simple else {}
            expected = {uid: source_hash(e.text) for uid, e in fresh_simple.items()}
        memory.fresh[lang] = {}
        memory.stale[lang] = []
        for unit_id, entry in language_file.entries.items():
            if unit_id not in unit_ids:
                memory.orphans.setdefault(lang, []).append(unit_id)
            elif expected.get(unit_id) == entry.source_hash:
                memory.fresh[lang][unit_id] = entry
            else:
                memory.stale[lang].append(unit_id)
        memory.missing[lang] = [uid for uid in german if uid not in language_file.entries]
    return memory


@dataclass(frozen=True)
class GlossaryTerm:
    """A hard term with a plain explanation per language."""

    key: str
    match: tuple[str, ...]
    terms: dict[str, str]
    texts: dict[str, str]


def load_glossary(path: Path) -> dict[str, GlossaryTerm]:
    """Read the glossary.

    :raises CorpusError: when a term lacks a supported language.
    """
    if not path.exists():
        return {}
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("terms"), dict):
        raise CorpusError(path, 1, "expected a mapping with 'terms:'")
    glossary: dict[str, GlossaryTerm] = {}
    for key, item in data["terms"].items():
        if key == "__line__":
            continue
        line = item.get("__line__") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            raise CorpusError(path, line, f"term {key!r} must be a mapping")
        terms, texts = {}, {}
        for lang in SUPPORTED_LANGUAGES:
            value = item.get(lang)
            if not isinstance(value, dict) or not value.get("term") or not value.get("text"):
                raise CorpusError(path, line, f"term {key!r} has no '{lang}:' with term and text")
            terms[lang], texts[lang] = str(value["term"]).strip(), str(value["text"]).strip()
        glossary[key] = GlossaryTerm(key, tuple(str(m) for m in item.get("match") or ()), terms, texts)
    return glossary


SEARCH_QUESTIONS_DIR = "search_questions"


@dataclass
class SearchQuestions:
    """Typical questions per unit and language: used only to find units (never shown, no facts)."""

    by_language: dict[str, dict[str, list[str]]]
    orphans: dict[str, list[str]] = field(default_factory=dict)

    def count(self) -> dict[str, int]:
        """Questions per language."""
        return {lang: sum(len(q) for q in units.values()) for lang, units in self.by_language.items()}


def load_search_questions(directory: Path, units: list[Unit]) -> SearchQuestions:
    """Read ``corpus/search_questions/<lang>.yaml``; questions of units no longer in the corpus are set aside.

    :raises CorpusError: for invalid YAML or an entry without questions.
    """
    unit_ids = {u.id for u in units}
    result = SearchQuestions({})
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        data = load_yaml(path)
        if not isinstance(data, dict) or not isinstance(data.get("units"), dict):
            raise CorpusError(path, 1, "expected a mapping with 'language:' and 'units:'")
        if data.get("language") != path.stem:
            raise CorpusError(path, data.get("__line__"), f"'language:' must be {path.stem}")
        questions: dict[str, list[str]] = {}
        for unit_id, item in data["units"].items():
            if unit_id == "__line__":
                continue
            line = item.get("__line__") if isinstance(item, dict) else None
            entries = item.get("questions") if isinstance(item, dict) else None
            if not isinstance(entries, list) or not entries or not all(isinstance(q, str) and q.strip()
                                                                        for q in entries):
                raise CorpusError(path, line, f"entry {unit_id!r} needs a non-empty list 'questions:'")
            if unit_id not in unit_ids:
                result.orphans.setdefault(path.stem, []).append(unit_id)
                continue
            questions[unit_id] = [q.strip() for q in entries]
        result.by_language[path.stem] = questions
    return result
