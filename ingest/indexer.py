"""``wegweiser ingest``: validate the corpus, build fresh collections, switch the aliases, drop the old build.

A malformed corpus file fails before anything is written; a failure while building deletes the half-built
collections. Either way the served index stays exactly as it was. An ingest that was killed cannot clean up:
every later run, even one that finds nothing to rebuild, removes what it left (see pipelines/store.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document
from haystack_integrations.document_stores.qdrant.converters import DENSE_VECTORS_NAME

from ingest.corpus import OUT_OF_SCOPE_FILE, Corpus, load_corpus, load_out_of_scope
from ingest.documents import build_documents, build_question_documents
from ingest.translations import (
    GLOSSARY_FILE,
    SEARCH_QUESTIONS_DIR,
    TRANSLATIONS_DIR,
    TranslationMemory,
    load_glossary,
    load_search_questions,
    load_translation_memory,
)
from pipelines.embedders import embedder_name
from pipelines.indexing import build_indexing_pipeline
from pipelines.memory import release_free_memory
from pipelines.settings import Settings
from pipelines.store import (
    OUT_OF_SCOPE,
    build_metadata,
    builds_in_use,
    collection_name,
    create_collection,
    create_records_collection,
    drop_build,
    drop_leftover_builds,
    embedding_dimension,
    new_build_name,
    open_document_store,
    question_collection,
    retire_build,
    served_build,
    shared_client,
    switch_aliases,
    write_records,
)

logger = logging.getLogger(__name__)

#: Bump when the layout of documents or sparse vectors changes: forces a rebuild of unchanged corpora.
DOCUMENT_FORMAT = "8"
BATCH_SIZE = 48

Progress = Callable[[int, int], None]
#: Dense vectors of the served build by the hash of the text they embed.
Reuse = dict[str, np.ndarray]


@dataclass
class IngestReport:
    """What an ingest run did, for the summary table and the tests."""

    build: str
    skipped: bool
    seconds: float
    documents: int = 0
    embedded: int = 0
    reused: int = 0
    units_by_kind: dict[str, int] = field(default_factory=dict)
    units_by_field: dict[str, int] = field(default_factory=dict)
    documents_by_language: dict[str, int] = field(default_factory=dict)
    search_questions: dict[str, int] = field(default_factory=dict)
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    previous: str | None = None
    dropped: list[str] = field(default_factory=list)
    size_bytes: int | None = None


def build_signature(corpus: Corpus, settings: Settings) -> str:
    """What determines the index content: corpus bytes, embedder and document format."""
    return f"{corpus.digest}:{embedder_name(settings)}:{DOCUMENT_FORMAT}"


def _reusable_vectors(settings: Settings, build: str) -> Reuse:
    """Dense vectors of the served build by the hash of the text they embed (same embedder only).

    Kept as float32 arrays (what Qdrant stores) and turned into lists one batch at a time: ~15,000 lists of 384
    Python floats are six million small objects, and once freed, the arenas they spread over stay resident in
    a long-running server (issue 12).
    """
    client = shared_client(settings)
    metadata = build_metadata(client, build)
    if metadata.get("embedder") != embedder_name(settings):
        return {}
    vectors: Reuse = {}
    collections = [collection_name(build, lang) for lang in metadata.get("languages") or []]
    collections += [question_collection(build, lang) for lang in metadata.get("question_languages") or []]
    collections.append(collection_name(build, OUT_OF_SCOPE))
    for name in collections:
        if not client.collection_exists(name):
            continue
        offset = None
        while True:
            points, offset = client.scroll(name, limit=512, offset=offset,
                                           with_vectors=[DENSE_VECTORS_NAME], with_payload=["meta.embed_hash"])
            for point in points:
                digest = ((point.payload or {}).get("meta") or {}).get("embed_hash")
                vector = point.vector.get(DENSE_VECTORS_NAME) if isinstance(point.vector, dict) else None
                if digest and vector is not None:
                    vectors[digest] = np.asarray(vector, dtype=np.float32)
            if offset is None:
                break
    return vectors


def _folder_size(path: Path) -> int:
    # Blocks in use, not apparent sizes: Qdrant Edge's shard files are sparse (gigabytes apparent, megabytes used).
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def load_validated(settings: Settings) -> tuple[Corpus, TranslationMemory, dict]:
    """Read and validate the corpus, the translation memory and the glossary (raises CorpusError)."""
    corpus = load_corpus(settings.corpus_dir)
    memory = load_translation_memory(settings.corpus_dir / TRANSLATIONS_DIR, corpus.units)
    glossary = load_glossary(settings.corpus_dir / GLOSSARY_FILE)
    return corpus, memory, glossary


def run_ingest(settings: Settings, *, force: bool = False, progress: Progress | None = None,
               grace_seconds: float = 0.0) -> IngestReport:
    """Build the index from the corpus, unless the served build already matches it.

    :param force: rebuild even when the corpus is unchanged.
    :param progress: called with (documents done, documents total) while embedding.
    :param grace_seconds: wait this long after switching the aliases before dropping the old build, so that
        requests already running on it can finish.
    :raises CorpusError: for a malformed corpus file (nothing is written).

    Builds left over by a killed ingest are removed first, whether or not the index is rebuilt.
    """
    try:
        return _ingest(settings, force, progress, grace_seconds)
    finally:
        # The documents, the reused vectors and the old build's collections are gone now: give their memory back
        # (a server runs many re-ingests).
        release_free_memory()


def _ingest(settings: Settings, force: bool, progress: Progress | None, grace_seconds: float) -> IngestReport:
    started = time.perf_counter()
    corpus, memory, glossary = load_validated(settings)
    topics = load_out_of_scope(settings.corpus_dir / OUT_OF_SCOPE_FILE)
    questions = load_search_questions(settings.corpus_dir / SEARCH_QUESTIONS_DIR, corpus.units)
    signature = build_signature(corpus, settings)
    client = shared_client(settings)
    current = served_build(client, settings)
    leftovers = drop_leftover_builds(client, settings)
    if leftovers:
        logger.warning("removed %d collections left over by an interrupted ingest", len(leftovers))
    report_base = {
        "units_by_kind": dict(Counter(u.kind for u in corpus.units)),
        "units_by_field": dict(sorted(Counter(u.field for u in corpus.units if u.field).items())),
        "coverage": memory.coverage(len(corpus.units)),
    }
    if current and not force and build_metadata(client, current).get("signature") == signature:
        return IngestReport(current, True, time.perf_counter() - started, previous=current, dropped=leftovers,
                            size_bytes=None if settings.qdrant_url else _folder_size(settings.qdrant_path),
                            **report_base)

    build = new_build_name(settings)
    with builds_in_use(build, current):  # no sweep of this process may take the build being written or read
        documents, records = build_documents(corpus, memory, glossary, build)
        question_docs = build_question_documents(questions.by_language, records, build)
        reuse = _reusable_vectors(settings, current) if current else {}
        reused = sum(1 for d in [*documents, *question_docs] if d.meta["embed_hash"] in reuse)
        total = len(documents) + len(question_docs)
        by_language: dict[str, list[Document]] = {}
        for doc in documents:
            by_language.setdefault(doc.meta["language"], []).append(doc)
        languages = list(by_language)
        metadata: dict[str, Any] = {
            "signature": signature, "embedder": embedder_name(settings), "format": DOCUMENT_FORMAT,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "units": len(corpus.units),
            "documents": len(documents), "languages": languages,
            "question_languages": sorted(questions.by_language), "search_questions": len(question_docs),
        }
        try:
            done = 0
            for language, docs in by_language.items():
                name = collection_name(build, language)
                create_collection(client, name, embedding_dimension(settings), {**metadata, "language": language})
                pipeline = build_indexing_pipeline(settings, open_document_store(settings, index=name))
                done = _write(pipeline, docs, reuse, done, total, progress)
                _check_count(client, name, len(docs))
            for language in questions.by_language:
                docs = [d for d in question_docs if d.meta["language"] == language]
                name = question_collection(build, language)
                create_collection(client, name, embedding_dimension(settings), {**metadata, "language": language})
                pipeline = build_indexing_pipeline(settings, open_document_store(settings, index=name),
                                                   sparse=False, as_queries=True)
                done = _write(pipeline, docs, reuse, done, total, progress)
                _check_count(client, name, len(docs))
            create_records_collection(client, build)
            write_records(client, build, records)
            _index_out_of_scope(settings, build, topics, metadata, reuse)
            previous = switch_aliases(client, settings, build, languages)
        except BaseException:
            # Only this run's collections: the served build and the builds of other ingests stay untouched.
            drop_build(client, settings, build)
            raise
        dropped = list(leftovers)
        if previous and previous != build:
            # The retirement time keeps the old build from other servers' sweeps while its requests finish.
            retire_build(client, previous)
            if grace_seconds:
                time.sleep(grace_seconds)
            dropped += drop_build(client, settings, previous)
    dropped += drop_leftover_builds(client, settings)
    logger.info("ingest built %s with %d documents (%d reused)", build, total, reused)
    return IngestReport(
        build, False, time.perf_counter() - started, documents=total, embedded=total - reused,
        reused=reused, documents_by_language=dict(Counter(d.meta["language"] for d in documents)),
        search_questions=dict(Counter(d.meta["language"] for d in question_docs)),
        previous=previous, dropped=dropped,
        size_bytes=None if settings.qdrant_url else _folder_size(settings.qdrant_path), **report_base)


def _write(pipeline: Any, docs: list[Document], reuse: Reuse, done: int, total: int,
           progress: Progress | None) -> int:
    pipeline.warm_up()
    for start in range(0, len(docs), BATCH_SIZE):
        batch = [_with_reused_vector(doc, reuse) for doc in docs[start:start + BATCH_SIZE]]
        pipeline.run({"embedder": {"documents": batch}})
        done += len(batch)
        if progress:
            progress(done, total)
    return done


def _check_count(client: Any, name: str, expected: int) -> None:
    written = client.count(name, exact=True).count
    if written != expected:
        raise RuntimeError(f"{name}: wrote {written} points but built {expected} documents")


def _index_out_of_scope(settings: Settings, build: str, topics: dict[str, list[str]],
                        metadata: dict[str, Any], reuse: Reuse) -> None:
    """Embed the out-of-scope topics into the build's ``oos`` collection (one point per phrasing)."""
    docs = [Document(id=f"oos:{topic}:{i}", content=text,
                     meta={"topic": topic, "embed_hash": hashlib.sha256(f"query: {text}".encode()).hexdigest()[:16]})
            for topic, phrasings in topics.items() for i, text in enumerate(phrasings)]
    docs = [_with_reused_vector(doc, reuse) for doc in docs]
    name = collection_name(build, OUT_OF_SCOPE)
    create_collection(shared_client(settings), name, embedding_dimension(settings), {**metadata, "language": "oos"})
    if docs:
        # Phrasings are questions: embedded as queries, they are compared with the asker's question directly.
        pipeline = build_indexing_pipeline(settings, open_document_store(settings, index=name), sparse=False,
                                           as_queries=True)
        pipeline.run({"embedder": {"documents": docs}})


def _with_reused_vector(doc: Document, reuse: Reuse) -> Document:
    vector = reuse.get(doc.meta["embed_hash"])
    return dataclasses.replace(doc, embedding=vector.tolist()) if vector is not None else doc
