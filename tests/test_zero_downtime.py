"""Zero-downtime re-ingest: a real uvicorn server keeps answering while the index is rebuilt and switched.

The server runs in a thread of the test process on a private copy of the session's store, with a private copy
of ``corpus/`` in which one service fact is reworded, so the re-ingest really builds a new index. To keep the
rebuild within the test's time budget the copy also leaves out the search questions and all but two phrasings
of each out-of-scope topic (every unit is still indexed in every language); nothing about switching depends
on how many points a build has.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from api.main import create_app
from api.routes.admin import token_path
from pipelines.edge import copy_store
from pipelines.settings import Settings
from pipelines.store import close_shared_client
from tests.conftest import CORPUS, make_settings
from tests.test_faults import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHANGED_UNIT = "svc/sprintpool"
OLD_WORDS = "Der SprIntpool Thüringen vermittelt seit 2012"
NEW_WORDS = "Der SprIntpool Thüringen (neu gefasst) vermittelt seit 2012"
ASK = [
    {"question": "Wer vermittelt Sprach- und Integrationsmittler an Behörden in Thüringen?", "lang": "de"},
    {"question": "Wo finde ich einen Dolmetscher für den Arztbesuch?", "lang": "de"},
    {"question": "Где найти переводчика для визита к врачу?", "lang": "ru"},
    {"question": "Wer ist zuständig für die Sprachmittlung in den Ämtern?", "lang": "de"},
]
SEARCH = [{"q": "SprIntpool Sprach- und Integrationsmittler"}, {"q": "Sprachmittlung", "lang": "uk"},
          {"q": "Antidiskriminierung Beratung"}]
#: Seconds the clients keep firing after the re-ingest finished (the server rechecks its build every second).
TAIL_SECONDS = 3.0
MAX_SECONDS = 240.0


def _changed_corpus(target: Path) -> None:
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("search_questions"))
    service = target / "services" / "sprintpool.yaml"
    text = service.read_text(encoding="utf-8")
    assert OLD_WORDS in text
    service.write_text(text.replace(OLD_WORDS, NEW_WORDS, 1), encoding="utf-8")
    topics = yaml.safe_load((target / "out_of_scope.yaml").read_text(encoding="utf-8"))["topics"]
    trimmed = {"topics": {name: phrasings[:2] for name, phrasings in topics.items()}}
    (target / "out_of_scope.yaml").write_text(yaml.safe_dump(trimmed, allow_unicode=True), encoding="utf-8")


@dataclass
class RunningServer:
    """A uvicorn server in a thread of this process."""

    url: str
    settings: Settings
    app: Any
    token: str

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def server(ingested_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("zero-downtime")
    _changed_corpus(root / "corpus")
    settings = make_settings(root, corpus_dir=root / "corpus")
    copy_store(ingested_settings.qdrant_path, settings.qdrant_path)
    app = create_app(settings)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       access_log=False))
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not uv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert uv.started, "the server did not start"
    try:
        token = token_path(settings).read_text().strip()
        yield RunningServer(f"http://127.0.0.1:{port}", settings, app, token)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        close_shared_client(settings)


@dataclass
class Observation:
    """One client request with the build /readyz reported right before and right after it."""

    kind: str
    status: int
    before: str | None
    after: str | None
    units: dict[str, str] = field(default_factory=dict)  # cited / hit unit id → German text


def _ready_build(client: httpx.Client) -> str | None:
    response = client.get("/readyz")
    return response.json().get("build") if response.status_code == 200 else None


def _fire(url: str, worker: int, stop: threading.Event, out: list[Observation], errors: list[str]) -> None:
    n = worker
    # Each worker is a client of its own (own loopback address): one address may have only two requests in the
    # works at once (WEGWEISER_REQUESTS_IN_FLIGHT_PER_CLIENT), and this test is about many askers.
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + worker}")
    with httpx.Client(base_url=url, timeout=60, transport=transport) as client:
        while not stop.is_set():
            n += 1
            try:
                before = _ready_build(client)
                if n % 2:
                    response = client.post("/api/ask", json=ASK[n % len(ASK)])
                    units = {c["id"]: c["text"] for c in response.json().get("citations") or []}
                    kind = "ask"
                else:
                    response = client.get("/api/search", params=SEARCH[n % len(SEARCH)])
                    units = {h["id"]: h["text"] for h in response.json().get("hits") or []}
                    kind = "search"
                out.append(Observation(kind, response.status_code, before, _ready_build(client), units))
            except httpx.HTTPError as exc:  # a dropped connection is a failed request too
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.1)


def _texts(server: RunningServer) -> tuple[str, dict[str, str]]:
    served = server.app.state.serving.current()
    return served.build, {r["unit_id"]: r["text_de"] for r in served.all_records()}


def _consistent(observation: Observation, texts: dict[str, str]) -> bool:
    return all(texts.get(unit) == text for unit, text in observation.units.items())


def test_reingest_under_load_has_no_failed_request_and_never_mixes_builds(server: RunningServer) -> None:
    old_build, old_texts = _texts(server)
    assert OLD_WORDS in old_texts[CHANGED_UNIT]
    observations: list[Observation] = []
    errors: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_fire, args=(server.url, i, stop, observations, errors))
               for i in range(4)]
    started = time.monotonic()
    for thread in clients:
        thread.start()
    try:
        with httpx.Client(base_url=server.url, headers=server.admin_headers(), timeout=30) as admin:
            time.sleep(1.0)  # requests are already running on the old build when the re-ingest starts
            assert admin.post("/api/admin/reindex", params={"force": "true"}, json={}).status_code == 202
            while (job := admin.get("/api/admin/reindex").json())["state"] == "running":
                assert time.monotonic() - started < MAX_SECONDS, f"re-ingest still running: {job}"
                time.sleep(0.5)
        time.sleep(TAIL_SECONDS)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=90)
    seconds = time.monotonic() - started
    assert job["state"] == "done", job["error"]
    new_build, new_texts = _texts(server)
    print(f"\n{len(observations)} requests in {seconds:.0f} s, {len(errors)} transport errors, builds "
          f"{old_build} → {new_build}, {sum(o.after == new_build for o in observations)} after the switch")

    assert not errors
    assert [o.status for o in observations if o.status != 200] == []
    assert new_build != old_build and job["report"]["build"] == new_build
    assert NEW_WORDS in new_texts[CHANGED_UNIT] and OLD_WORDS not in new_texts[CHANGED_UNIT]
    assert {o.before for o in observations} >= {old_build, new_build}  # the load really spanned the switch
    for o in observations:
        # Every response reads exactly one build: the one /readyz reported around it (builds only move on).
        assert _consistent(o, old_texts) or _consistent(o, new_texts), o
        if o.before == o.after:
            assert _consistent(o, old_texts if o.before == old_build else new_texts), o
    changed = [o.units[CHANGED_UNIT] for o in observations if CHANGED_UNIT in o.units]
    assert old_texts[CHANGED_UNIT] in changed and new_texts[CHANGED_UNIT] in changed


def test_cli_ingest_delegates_to_the_running_server_and_prints_its_summary(server: RunningServer,
                                                                             tmp_path: Path) -> None:
    env = {**os.environ, "WEGWEISER_QDRANT_PATH": str(server.settings.qdrant_path),
           "WEGWEISER_SERVER_URL": server.url, "COLUMNS": "200"}
    env.pop("WEGWEISER_QDRANT_URL", None)
    done = subprocess.run([str(Path(sys.executable).with_name("wegweiser")), "ingest"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "re-ingests while it keeps serving" in done.stderr
    assert "Units per kind" in done.stdout and "Translation memory" in done.stdout
    reported = re.search(r"(?:Built|served index) (wegweiser_units_\d+)", done.stdout)
    assert reported, done.stdout
    time.sleep(1.1)  # the server rechecks its build at most every second
    ready = httpx.get(f"{server.url}/readyz", timeout=30).json()
    assert ready["build"] == reported.group(1)
