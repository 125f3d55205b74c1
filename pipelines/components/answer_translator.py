"""Deliver the answer in the asker's language: translation memory, else argostranslate, else German."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from haystack import component

from pipelines.argos import ArgosEngine
from pipelines.i18n import has_catalog, message

_MARKERS = re.compile(r"((?:\s*\[\d+\])+)\s*$")


@component
class AnswerTranslator:
    """Sets ``answer`` and ``translation`` for the requested language.

    * German, or a language of the translation memory: the composed answer stands (``method`` ``none`` for
      German, ``memory`` otherwise, with the unofficial-translation notice in that language).
    * Another language with an installed argos package (directly or via English): the German answer and each
      citation's text are translated line by line, citation markers kept (``method = "argos"``).
    * Neither: the German answer with a notice — in the asker's language if the message catalog has it,
      otherwise in English and German (``method = "none"``).

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

    def _translate_lines(self, text: str, language: str) -> str | None:
        lines = []
        for line in text.split("\n"):
            match = _MARKERS.search(line)
            body, markers = (line[: match.start()], match.group(1)) if match else (line, "")
            if not body.strip():
                lines.append(line)
                continue
            translated = self._engine.translate(body, self.source_language, language)
            if translated is None:
                return None
            lines.append(f"{translated}{markers}")
        return "\n".join(lines)

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
        result = copy.deepcopy(answer)
        result["lang"] = language
        if language == self.source_language:
            result["translation"] = {"method": "none", "notice": None}
            return {"answer": result}
        if memory_method == "memory" and has_catalog(language):
            key = "translation.simple" if result.get("simple") else "translation.memory"
            result["translation"] = {"method": "memory", "notice": message(language, key)}
            return {"answer": result}
        translated = None
        if self._engine.route(self.source_language, language):
            translated = self._translate_lines(result["answer_de"], language)
        if translated is not None:
            result["answer"] = translated
            for citation in result.get("citations", []):
                citation["text_translated"] = self._engine.translate(citation["text"], self.source_language,
                                                                     language)
            result["translation"] = {"method": "argos", "notice": self._notice(language, "translation.machine")}
            return {"answer": result}
        result["answer"] = result["answer_de"]
        for citation in result.get("citations", []):
            citation["text_translated"] = None
        result["translation"] = {"method": "none", "notice": self._notice(language, "translation.none")}
        return {"answer": result}
