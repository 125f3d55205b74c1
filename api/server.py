"""How ``wegweiser serve`` runs uvicorn: slow-client deadlines, a connection limit, bounded shutdown, logging."""

from __future__ import annotations

import functools
from typing import Any

from api import timeouts
from pipelines.settings import Settings

#: Loggers of our own packages; ``wegweiser.requests`` writes one line per request (no address, no agent).
APP_LOGGERS = ("wegweiser", "api", "pipelines", "ingest")


def log_config(level: str = "INFO") -> dict[str, Any]:
    """Uvicorn's ``log_config``: our loggers at ``level`` (INFO) on stderr, uvicorn's own as usual, no access log.

    Without it nothing below WARNING reaches stderr (Python's last-resort handler), so the request lines and
    the question texts of ``WEGWEISER_LOG_QUESTIONS`` were lost. The format holds no client address.
    """
    plain = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    uvicorn_style = {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s",
                     "use_colors": None}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": plain, "default": uvicorn_style, "access": uvicorn_style},
        "handlers": {
            "app": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
            "uvicorn": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            **{name: {"handlers": ["app"], "level": level, "propagate": False} for name in APP_LOGGERS},
            "uvicorn": {"handlers": ["uvicorn"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def http_protocol() -> type[timeouts.HeaderDeadlineMixin]:
    """The HTTP protocol ``wegweiser serve`` runs: httptools (a C parser) when it imports, else h11.

    Both carry the same header deadline (``api.timeouts.HeaderDeadlineMixin``). httptools is a dependency
    because h11 is pure Python: measured A/B on this server (2 cores, concurrency 8, 9 interleaved rounds),
    httptools took 0.64× h11's server CPU for ``GET /healthz`` (0.18 against 0.29 ms) and 0.89× for a cached
    ``POST /api/ask`` (1.20 against 1.38 ms). h11 comes with uvicorn, so a server without httptools still
    runs, only dearer. A request without a ``Host`` header tells them apart from outside: h11 answers 400,
    httptools serves it.
    """
    if timeouts.HTTPTOOLS_AVAILABLE:
        return timeouts.HttpToolsHeaderTimeoutProtocol
    return timeouts.HeaderTimeoutProtocol


def uvicorn_options(settings: Settings, log_level: str = "info") -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` beyond the app, host, port and workers.

    :param settings: ``header_timeout_s``, ``max_connections`` and ``graceful_shutdown_s`` are read.
    :param log_level: of uvicorn's loggers and ours; a benchmark passes ``"warning"`` to leave out the line
        per request.
    :returns: ``http`` (:func:`http_protocol` with a header deadline), ``limit_concurrency``,
        ``timeout_graceful_shutdown``, ``proxy_headers=False``, ``log_config``, ``log_level``,
        ``access_log=False``.
    """
    return {
        # A partial of a module-level class: picklable, so it also reaches the workers of --workers N.
        "http": functools.partial(http_protocol(), header_timeout_s=settings.header_timeout_s),
        # Uvicorn answers 503 to a new request once open connections or running requests reach this number.
        "limit_concurrency": settings.max_connections,
        # After SIGTERM, requests still running (or still waiting for a body) are cancelled after this long.
        "timeout_graceful_shutdown": settings.graceful_shutdown_s,
        # Only WEGWEISER_TRUSTED_PROXIES decides whose X-Forwarded-For counts (api/clients.py); uvicorn would
        # otherwise trust it from 127.0.0.1, so anyone behind a same-host proxy could pick a new rate-limit bucket.
        "proxy_headers": False,
        "log_config": log_config(log_level.upper()),
        "log_level": log_level,
        "access_log": False,
    }


def serve(settings: Settings, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Run the app under uvicorn with :func:`uvicorn_options`: ``wegweiser serve``, and the benchmark's server.

    :param log_level: see :func:`uvicorn_options`.
    """
    import uvicorn

    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers,
                **uvicorn_options(settings, log_level=log_level))
