"""GET /api/languages — which languages are served, and how."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep
from api.schemas import LanguageInfo, LanguagesResponse, Problem
from pipelines.argos import installed_models
from pipelines.i18n import catalog_languages, direction, label

router = APIRouter(prefix="/api", tags=["languages"])


def languages_served(argos_dir: Path) -> list[dict[str, str]]:
    """German (source), the translation-memory languages, then languages an installed argos model reaches."""
    result = [{"code": "de", "label": label("de"), "dir": "ltr", "level": "source"}]
    result += [{"code": c, "label": label(c), "dir": direction(c), "level": "memory"}
               for c in catalog_languages() if c != "de"]
    known = {r["code"] for r in result}
    for model in installed_models(argos_dir):
        for code in (model.to_code,):
            if code not in known:
                known.add(code)
                result.append({"code": code, "label": label(code), "dir": direction(code), "level": "argos"})
    return result


@router.get("/languages", response_model=LanguagesResponse, responses={429: {"model": Problem}})
async def list_languages(settings: SettingsDep) -> LanguagesResponse:
    """Languages answered from the curated translation memory, by installed argos models, or in German."""
    languages = await run_in_threadpool(languages_served, settings.argos_dir)
    return LanguagesResponse(languages=[LanguageInfo(**item) for item in languages],
                             fallback="Any other ISO 639-1 code is answered in German, with a notice.")
