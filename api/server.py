"""How ``wegweiser serve`` runs uvicorn: slow-client deadlines, a connection limit, bounded shutdown, logging."""

from __future__ import annotations

import functools
from typing import Any

from api.timeouts import HeaderTimeoutProtocol
from pipelines.settings import Settings

#: Loggers of our own packages; ``wegweiser.requests`` writes one line per request (no address, no agent).
APP_LOGGERS = ("wegweiser", "api", "pipelines", "ingest")


def log_config() -> dict[str, Any]:
    """Uvicorn's ``log_config``: our loggers at INFO on stderr, uvicorn's own as usual, no access log.

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
            **{name: {"handlers": ["app"], "level": "INFO", "propagate": False} for name in APP_LOGGERS},
            "uvicorn": {"handlers": ["uvicorn"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` beyond the app, host, port and workers.

    :param settings: ``header_timeout_s``, ``max_connections`` and ``graceful_shutdown_s`` are read.
    :returns: ``http`` (h11 with a header deadline), ``limit_concurrency``, ``timeout_graceful_shutdown``,
        ``proxy_headers=False``, ``log_config``, ``access_log=False``.
    """
    return {
        # A partial of a module-level class: picklable, so it also reaches the workers of --workers N.
        "http": functools.partial(HeaderTimeoutProtocol, header_timeout_s=settings.header_timeout_s),
        # Uvicorn answers 503 to a new request once open connections or running requests reach this number.
        "limit_concurrency": settings.max_connections,
        # After SIGTERM, requests still running (or still waiting for a body) are cancelled after this long.
        "timeout_graceful_shutdown": settings.graceful_shutdown_s,
        # Only WEGWEISER_TRUSTED_PROXIES decides whose X-Forwarded-For counts (api/clients.py); uvicorn would
        # otherwise trust it from 127.0.0.1, so anyone behind a same-host proxy could pick a new rate-limit bucket.
        "proxy_headers": False,
        "log_config": log_config(),
        "log_level": "info",
        "access_log": False,
    }
