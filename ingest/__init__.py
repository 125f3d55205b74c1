"""ingest package."""

import pipelines.offline  # noqa: F401 - before any third-party import: no telemetry, no downloads
