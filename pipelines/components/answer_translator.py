"""Deliver the answer in the asker's language: translation memory, else argostranslate, else German."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from haystack import component

from pipelines.argos import ArgosEngine
from pipelines.i18n import has_catalog, message

logger = logging.getLogger(__name__)
# Citation markers, anywhere in a line ("Siehe auch: A [2]; B [3]."): the text between them is translated,
# the markers and pieces without letters (separators, final full stops) stay as they are.
_MARKER = re.compile(r"(\s*\[\d+\])")
_LETTER = re.compile(r"[^\W\d_]")
_LEADING = re.compile(r"^[^\w\"„“(\[]*")


@component
class AnswerTranslator:
    """Sets ``answer`` and ``translation`` for the requested language.

    * German, or a language of the translation memory: the composed answer stands (``method`` ``none`` for
      German, ``memory`` otherwise, with the unofficial-translation notice in that language).
    * Another language with an installed argos package (directly or via English): the German answer and each
      citation's text are translated line by line, citation markers kept (``method = "argos"``).
    * Neither: for a language without message catalog, the answer composed in English (``lang = "en"``, the
      German one beside it) with a notice in English and German; for a catalog language whose memory lacks a
      unit, the German answer with a notice in that language (``method = "none"``).

    Usage:
    ```python
    translator = AnswerTranslator(packages_dir="data/argos-packages")
    translator.run(answer=answer, language="sw", memory_method="missing")["answer"]["translation"]
    ```
    """

    def __init__(self, packages_dir: str, source_language: str = "de") -> None:
        """
        :param packages_dir: folder with installed argostranslate packages (may not exist).
        :param source_language: the language answers are composed in when no memory exists.
        """
        self.packages_dir = packages_dir
        self.source_language = source_language
        self._engine = ArgosEngine(Path(packages_dir))

    def _translate_segment(self, segment: str, language: str) -> str | None:
        if not _LETTER.search(segment):
            return segment
        # keep a bullet or a separator ("- ", "; ") in front of the text
        lead = _LEADING.match(segment).group(0)  # type: ignore[union-attr]
        translated = self._engine.translate(segment[len(lead):], self.source_language, language)
        return None if translated is None else f"{lead}{translated}"

    def _translate_lines(self, text: str, language: str) -> str | None:
        lines = []
        for line in text.split("\n"):
            parts = []
            for i, part in enumerate(_MARKER.split(line)):
                translated = part if i % 2 else self._translate_segment(part, language)
                if translated is None:
                    return None
                parts.append(translated)
            lines.append("".join(parts))
        return "\n".join(lines)

    def _translate_answer(self, answer: dict[str, Any], language: str) -> tuple[str, list[str | None]] | None:
        """The answer and the citations' texts through argostranslate, or None without a usable package."""
        if not self._engine.route(self.source_language, language):
            return None
        try:
            translated = self._translate_lines(answer["answer_de"], language)
            if translated is None:
                return None
            citations = [self._engine.translate(c["text"], self.source_language, language)
                         for c in answer.get("citations", [])]
        except Exception:  # a broken package (or no argostranslate) must not cost the asker the answer
            logger.warning("argostranslate failed for %s, answering in German", language, exc_info=True)
            return None
        return translated, citations

    @staticmethod
    def _notice(language: str, key: str) -> str:
        if has_catalog(language):
            return message(language, key)
        return f"{message('en', key)} / {message('de', key)}"

    @component.output_types(answer=dict[str, Any])
    def run(self, answer: dict[str, Any], language: str, memory_method: str = "memory") -> dict[str, Any]:
        """
        :param answer: the composed answer (``answer`` in the language if the memory had it, ``answer_de``).
        :param language: the requested answer language.
        :param memory_method: the translation-memory lookup's result (``memory``, ``source`` or ``missing``).
        :returns: the answer with ``answer``, ``lang`` and ``translation`` set.
        """
        # A new top level; the citations are copied below where their texts change. The composed answer is
        # fresh for every question, so a deep copy (a third of this component's cost) protected nothing more.
        result = dict(answer)
        composed_in = result.get("lang") or language
        result["lang"] = language
        if language == self.source_language:
            result["translation"] = {"method": "none", "notice": None}
            return {"answer": result}
        if memory_method == "memory" and has_catalog(language):
            key = "translation.simple" if result.get("simple") else "translation.memory"
            result["translation"] = {"method": "memory", "notice": message(language, key)}
            return {"answer": result}
        translated = self._translate_answer(result, language)
        if translated is not None:
            result["answer"], citation_texts = translated
            if "citations" in result:
                result["citations"] = [{**citation, "text_translated": text}
                                       for citation, text in zip(result["citations"], citation_texts, strict=True)]
            notice = self._notice(language, "translation.machine")
            result["translation"] = {"method": "argos", "notice": notice}
            return {"answer": result}
        if composed_in not in (language, self.source_language):
            # A language without catalog, memory or model: the answer was composed in English; German below it.
            result["lang"] = composed_in
            result["translation"] = {"method": "none", "notice": self._notice(language, "translation.other_language")}
            return {"answer": result}
        result["answer"] = result["answer_de"]
        if "citations" in result:
            result["citations"] = [{**citation, "text_translated": None} for citation in result["citations"]]
        result["translation"] = {"method": "none", "notice": self._notice(language, "translation.none")}
        return {"answer": result}
