"""Build qdrant-client's REST models when they are first used, not all of them at import.

``qdrant_client.http`` rebuilds its ~340 pydantic models at import (``model_rebuild`` to resolve
forward references): 0.35-0.4 s of every process's start and 12-15 MB of resident memory, although serving uses
a few dozen of them and mostly through ``model_construct``, which needs no schema at all.

:func:`defer_qdrant_model_rebuild` imports qdrant-client with that import-time rebuild skipped. Pydantic then
completes each model the first time it validates or serialises one (its "mock" validator rebuilds the model on
first use, resolving the forward references in the models' own module), so the models behave exactly as before;
the first use of a model costs its build once (tens of milliseconds for a request model and its parts, which the
server's warm-up question pays).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from pydantic import BaseModel

#: The package whose import rebuilds every model, and the module that defines them.
HTTP_PACKAGE = "qdrant_client.http"
MODELS_MODULE = "qdrant_client.http.models.models"


def _without_import_rebuild(module: ModuleType, exec_module: Any) -> None:
    """Run ``exec_module(module)`` with ``model_rebuild`` a no-op for qdrant-client's models."""
    rebuild = BaseModel.__dict__["model_rebuild"]

    def rebuild_unless_import(cls: type[BaseModel], *args: Any, force: bool = False, **kwargs: Any) -> Any:
        if not force and cls.__module__ == MODELS_MODULE:
            return None  # completed on first use instead
        return rebuild.__func__(cls, *args, force=force, **kwargs)

    BaseModel.model_rebuild = classmethod(rebuild_unless_import)  # type: ignore[method-assign,assignment]
    try:
        exec_module(module)
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]


class _DeferRebuild(importlib.abc.MetaPathFinder):
    """Finds ``qdrant_client.http`` as usual, and has its loader run it through :func:`_without_import_rebuild`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        if fullname != HTTP_PACKAGE:
            return None
        sys.meta_path.remove(self)  # one import only
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module
        spec.loader.exec_module = lambda module: _without_import_rebuild(module, exec_module)  # type: ignore[method-assign]
        return spec


def defer_qdrant_model_rebuild() -> bool:
    """Have qdrant-client, whenever it is first imported, skip rebuilding its REST models (see the module
    docstring).

    :returns: True when the rebuild is deferred; False when qdrant-client was imported before (nothing changes).
    """
    if HTTP_PACKAGE in sys.modules or any(isinstance(f, _DeferRebuild) for f in sys.meta_path):
        return HTTP_PACKAGE not in sys.modules
    sys.meta_path.insert(0, _DeferRebuild())
    return True
