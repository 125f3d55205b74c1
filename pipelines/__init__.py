"""Pipelines: Haystack components and builders shared by ingest, api and eval."""

from pipelines import offline  # noqa: F401 - before any third-party import: no telemetry, no downloads
from pipelines.lazy_models import defer_qdrant_model_rebuild
from pipelines.lazy_torch import defer_torch_import

# Also before any Haystack import: Haystack's device utilities would import torch (~1 s, ~170 MB) for nothing.
defer_torch_import()
# Before qdrant-client's first import: its ~340 REST models are built when first used (~0.35 s, ~13 MB at start).
defer_qdrant_model_rebuild()
