"""What a server process holds once it has answered: no torch, fewer malloc arenas, a heap trimmer on the runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from api.deps import PipelineRunner
from pipelines.edge import copy_store
from pipelines.settings import PROJECT_ROOT, Settings

SERVE_AND_REPORT = textwrap.dedent("""
    import json, sys
    from unittest import mock

    from fastapi.testclient import TestClient

    from pipelines import memory
    from tests.conftest import make_settings
    from pathlib import Path

    arenas = []
    real_limit = memory.limit_malloc_arenas
    with mock.patch("api.main.limit_malloc_arenas", side_effect=lambda n: arenas.append(n) or real_limit(n)):
        from api.main import create_app

        app = create_app(make_settings(Path(sys.argv[1])))
    with TestClient(app) as client:
        ask = client.post("/api/ask", json={"question": "Wo melde ich meine Wohnung an?"})
        search = client.get("/api/search", params={"q": "Sprachmittlung"})
    print(json.dumps({"torch": "torch" in sys.modules, "ask": ask.status_code, "search": search.status_code,
                      "arenas": arenas, "answered": ask.json().get("answered")}))
""")


@pytest.mark.integration
def test_a_server_that_answered_has_not_imported_torch(ingested_settings: Settings, tmp_path: Path) -> None:
    """In a fresh process (the test session may have imported torch): build the app, answer, search."""
    copy_store(ingested_settings.qdrant_path, tmp_path / "qdrant")
    done = subprocess.run([sys.executable, "-c", SERVE_AND_REPORT, str(tmp_path)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"torch": False, "ask": 200, "search": 200, "arenas": [1], "answered": True}


def test_every_pipeline_run_is_followed_by_a_trim_check() -> None:
    runner = PipelineRunner(concurrency=1, timeout_s=10, per_client=1)
    checks: list[int] = []
    runner.trimmer.maybe_trim = lambda: checks.append(1) or False  # type: ignore[method-assign]

    def fail() -> None:
        raise RuntimeError("boom")

    async def main() -> None:
        assert await runner("client", lambda x: x * 2, 21) == 42
        with pytest.raises(RuntimeError):
            await runner("client", fail)

    asyncio.run(main())
    assert checks == [1, 1]
