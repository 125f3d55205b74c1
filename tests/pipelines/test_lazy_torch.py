"""Serving never imports torch (about 1 s and 170 MB per process); torch-based components still get it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.edge import copy_store
from pipelines.settings import PROJECT_ROOT, Settings

SERVE_AND_REPORT = textwrap.dedent("""
    import json, sys
    import pipelines  # what the server, the CLI and eval import first
    from pipelines.query import ask, build_query_pipeline, build_search_pipeline, open_served_index, search
    from pipelines.settings import Settings

    settings = Settings(qdrant_path=sys.argv[1], argos_dir=sys.argv[2])
    index = open_served_index(settings)
    ask_pipeline, search_pipeline = build_query_pipeline(settings, index), build_search_pipeline(settings, index)
    ask_pipeline.warm_up()
    search_pipeline.warm_up()
    answers = [ask(ask_pipeline, q)["answered"] for q in ("Wo melde ich meine Wohnung an?",
                                                          "Где получить помощь переводчика?")]
    hits = len(search(search_pipeline, "Sprachmittlung")["hits"])
    serving = "torch" in sys.modules

    from haystack.utils import ComponentDevice  # what the sentence-transformers backend asks for
    device = ComponentDevice.resolve_device(None).to_torch()
    print(json.dumps({"torch_while_serving": serving, "answers": answers, "hits": hits,
                      "device": str(device), "torch_when_asked": "torch" in sys.modules}))
""")


@pytest.mark.integration
def test_building_and_running_the_query_pipelines_imports_no_torch(ingested_settings: Settings,
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("torch")  # without torch installed there is nothing to keep out
    store = tmp_path / "qdrant"  # the embedded store admits one process: the child gets a copy
    copy_store(ingested_settings.qdrant_path, store)
    done = subprocess.run([sys.executable, "-c", SERVE_AND_REPORT, str(store), str(tmp_path / "argos")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch_while_serving"] is False
    assert report["answers"] == [True, True] and report["hits"] > 0
    assert report["device"] == "cpu" and report["torch_when_asked"] is True
