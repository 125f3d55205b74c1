"""qdrant-client's REST models are built on first use, not at import, and behave exactly as when built eagerly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from pipelines.settings import PROJECT_ROOT

#: Imports qdrant-client (after ``pipelines`` when argv[1] is "lazy"), then reports how many of its models were
#: left to build and what validating and dumping a hybrid query request gives.
IMPORT_AND_USE = textwrap.dedent("""
    import json, sys
    if sys.argv[1] == "lazy":
        import pipelines  # what the server, the CLI and eval import first
    from pydantic import BaseModel, ValidationError
    from qdrant_client.http import models as rest

    module = sys.modules["qdrant_client.http.models.models"]
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, BaseModel) and c.__module__ == module.__name__]
    unbuilt = sum(not c.__pydantic_complete__ for c in classes)
    request = rest.QueryRequest(
        prefetch=[rest.Prefetch(query=rest.SparseVector(indices=[3, 7], values=[0.5, 1.0]), using="text-sparse"),
                  rest.Prefetch(query=[0.1, 0.2], using="text-dense", filter=rest.Filter(must=[
                      rest.FieldCondition(key="meta.kind", match=rest.MatchValue(value="service"))]))],
        query=rest.FusionQuery(fusion=rest.Fusion.RRF), limit=10, with_payload=True)
    try:
        rest.QueryRequest(limit="ten", prefetch={"query": {"indices": "x"}})
        errors = []
    except ValidationError as error:
        errors = [(e["loc"], e["type"]) for e in error.errors()]
    restored = BaseModel.model_rebuild.__func__ is BaseModel.__dict__["model_rebuild"].__func__
    print(json.dumps({"unbuilt": unbuilt, "models": len(classes), "dump": request.model_dump(mode="json"),
                      "kinds": [type(p.query).__name__ for p in request.prefetch], "errors": errors,
                      "rebuild_restored": restored}))
""")


def _run(mode: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-c", IMPORT_AND_USE, mode], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_models_are_built_on_first_use_and_validate_as_when_built_at_import() -> None:
    lazy, eager = _run("lazy"), _run("eager")
    # qdrant-client alone builds every model at import; after `import pipelines` most wait for their first use.
    assert eager["unbuilt"] == 0
    assert lazy["unbuilt"] > lazy["models"] // 2
    assert lazy["rebuild_restored"] and eager["rebuild_restored"]
    # A nested request (forward references resolved on first use), its dump and a bad request's errors.
    assert lazy["kinds"] == eager["kinds"] == ["SparseVector", "list"]
    assert lazy["dump"] == eager["dump"]
    assert lazy["errors"] == eager["errors"] and lazy["errors"]
