"""Pipelines: Haystack components and builders shared by ingest, api and eval."""

from pipelines import offline  # noqa: F401 - before any third-party import: no telemetry, no downloads
