"""Storage: a SQLite catalog of articles and chunks beside a Chroma collection of their embeddings.

The catalog is the source of truth. Every write marks the articles it touches 'pending' in the catalog first,
then changes Chroma, then marks them 'ready', so an interrupted write is finished by `recover()` on next open:
no chunk is lost, duplicated or orphaned.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import IndexStoreError
from assistant.types import Filters, Passage
from index import catalogs, lexicon, statements
from index.chunking import Chunk, header_for
from index.cleaning import CLEANER_VERSION
from index.loaders import Article
from index.metadata import date_key
from index.quotes import extract_statements
from index.sqlite import transaction

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

    from assistant.settings import Settings
    from index.embedding import LocalEmbeddings

# Bump when chunk boundaries change for the same settings: it is hashed into the collection name.
CHUNKER_VERSION = "1"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_day INTEGER NOT NULL,
    author TEXT NOT NULL,
    url TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'deleting')),
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS articles_path ON articles(path);
-- For filters by outlet and date: the passages a filter allows are listed from the catalog (Store.dense_search).
CREATE INDEX IF NOT EXISTS articles_source_day ON articles(source, published_day);
CREATE INDEX IF NOT EXISTS articles_day ON articles(published_day);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES articles(doc_id) ON DELETE CASCADE,
    chunk_no INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The lexical index: BM25 over each chunk with its title header, kept in the same transactions as `chunks`.
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    chunk_id UNINDEXED, doc_id UNINDEXED, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
-- The article of each lexical row, by its rowid. Filtering matches by a join through here was 3.5x faster at 100k
-- passages than reading chunks_fts.doc_id for every match (BENCHMARKS.md, scale), and removing an article's rows
-- no longer scans the whole FTS table. Written only by index_lexically / unindex_lexically below.
CREATE TABLE IF NOT EXISTS fts_docs (fts_rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fts_docs_doc ON fts_docs(doc_id);
-- Each passage's embedding (float16), beside Chroma's copy: a filter's passages are scored exactly from here, which
-- at 100k passages took ~5 ms against Chroma's ~30 ms for a listed-ids search of one outlet (BENCHMARKS.md, scale).
CREATE TABLE IF NOT EXISTS chunk_vectors (chunk_id TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""
# A filter that allows at most this many passages is searched exactly over their vectors in the catalog; more, by
# Chroma's `where` (an approximate HNSW search). Scoring 50k float16 vectors reads ~38 MB: ~50 ms.
_LISTED_FILTER_MAX = 50_000
_LISTED_CACHE_ROWS = 100_000  # vectors kept between searches: at most ~150 MB
_KEPT_PASSAGES = 20_000  # catalog rows kept between searches: ~1 kB of text each

_LEXICAL_STOPWORDS = frozenset(
    (
        "a about after all also an and any are as at be been but by can could did do does for from had has have he her "
        "his how i if in into is it its of on or our she so than that the their them they this to was were what when "
        "where which who whom whose why will with would you"
    ).split()
)


@dataclass(frozen=True)
class ArticleInfo:
    """An indexed article as `assistant sources` lists it."""

    doc_id: str
    title: str
    source: str
    published_at: str
    author: str
    url: str
    path: str
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        """Return the article as a JSON-ready dict."""
        return self.__dict__.copy()


def index_lexically(db: sqlite3.Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """Add (chunk_id, doc_id, body) rows to the lexical index and its postings (inside the caller's transaction)."""
    rowid = lexicon.next_rowid(db)
    numbered = [(rowid + i, *row) for i, row in enumerate(rows)]
    db.executemany("INSERT INTO chunks_fts (rowid, chunk_id, doc_id, body) VALUES (?, ?, ?, ?)", numbered)
    db.executemany("INSERT INTO fts_docs (fts_rowid, doc_id) VALUES (?, ?)", [(r[0], r[2]) for r in numbered])
    lexicon.add(db, [(r[0], r[3]) for r in numbered])


def unindex_lexically(db: sqlite3.Connection, doc_ids: Sequence[str]) -> None:
    """Remove the articles' rows from the lexical index (inside the caller's transaction)."""
    for doc_id in doc_ids:
        rowids = [r[0] for r in db.execute("SELECT fts_rowid FROM fts_docs WHERE doc_id = ?", (doc_id,))]
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT fts_rowid FROM fts_docs WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM fts_docs WHERE doc_id = ?", (doc_id,))
        lexicon.remove(db, rowids)


def map_lexical_rows(db: sqlite3.Connection) -> None:
    """(Re)build fts_docs from the lexical index itself: for catalogs made before it existed, and for repairs."""
    with transaction(db):
        db.execute("DELETE FROM fts_docs")
        db.execute("INSERT INTO fts_docs (fts_rowid, doc_id) SELECT rowid, doc_id FROM chunks_fts")


def post_lexical_rows(db: sqlite3.Connection) -> None:
    """(Re)build the postings from the lexical index: for catalogs made before they existed, and for repairs."""
    with transaction(db):
        lexicon.rebuild(db)


def collection_name(embedder_id: str, settings: Settings) -> str:
    """Name the collection after everything that shaped its vectors, so a change builds a new one."""
    shape = json.dumps(
        {
            "embedder": embedder_id,
            "max_passage_tokens": settings.index.max_passage_tokens,
            "overlap": settings.index.overlap_sentences,
            "cleaner": CLEANER_VERSION,
            "chunker": CHUNKER_VERSION,
        },
        sort_keys=True,
    )
    return "news-" + hashlib.sha1(shape.encode()).hexdigest()[:16]


def chunk_id(doc_id: str, chunk: Chunk) -> str:
    """Deterministic chunk id: the same article content always gives the same ids."""
    digest = hashlib.sha1(f"{doc_id}\x1f{chunk.start}\x1f{chunk.end}\x1f{chunk.text}".encode()).hexdigest()
    return f"{doc_id}:{chunk.chunk_no}:{digest[:12]}"


class Store:
    """The catalog and the Chroma collection of one index, opened together."""

    def __init__(self, settings: Settings, embeddings: LocalEmbeddings, *, create: bool = True) -> None:
        """Open the index for `embeddings` under `settings.home`.

        With `create=False` (commands that only read) a missing index is not made on disk: the store opens an empty
        catalog in memory, so the command reports that nothing is indexed and leaves the data dir as it was.
        """
        self.settings = settings
        self.embeddings = embeddings
        self.name = collection_name(embeddings.model_id, settings)
        self.dir = Path(settings.home) / "indexes" / self.name
        catalog = self.dir / "catalog.sqlite3"
        if not create and not catalog.exists():
            catalog = Path(":memory:")
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
        # Chat's typeahead retrieves from a background thread, never at the same time as the main thread
        # (assistant/typeahead.py hands the index over), so the connection may cross threads.
        self.db = sqlite3.connect(catalog, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        if self.db.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM fts_docs) AND EXISTS (SELECT 1 FROM chunks_fts)"
        ).fetchone()[0]:
            map_lexical_rows(self.db)
        lexicon.prepare(self.db)
        if not lexicon.in_step(self.db):
            with transaction(self.db):
                if not lexicon.in_step(self.db):  # another process may have built them while this one waited
                    lexicon.rebuild(self.db)
        self.postings = lexicon.Postings(self.db)
        self._listed: dict[Filters, tuple[Any, tuple[list[str], Any, Any]]] = {}
        self._lexical_listed: dict[Filters, tuple[Any, tuple[Any, Any]]] = {}
        self._passages_read: dict[str, tuple[Any, ...]] = {}  # catalog rows by chunk id, until it changes
        self._passages_version: tuple[int, int] | None = None
        statements.prepare(self.db)
        self._collection: Collection | None = None
        self.info = catalogs.record(self)  # what built this catalog: embedder, chunking, its id

    # -- Chroma ---------------------------------------------------------------------------------------------

    @property
    def collection(self) -> Collection:
        """The Chroma collection (embedded, or on the `chroma_url` server), opened on first use with our embeddings."""
        if self._collection is None:
            from index.chroma import open_collection, vector_store

            collection = open_collection(self.settings, self.name, self.embeddings.model_id, self.info["catalog_id"])
            catalogs.note_vector_store(self, vector_store(self.settings))
            self._collection = collection
        return self._collection

    # -- Writing -----------------------------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, recover: bool = True) -> Iterator[None]:
        """Hold the index's write lock: a second ingest into the same index refuses instead of interleaving.

        With `recover=False` interrupted writes are left as they are (for `assistant doctor` to see them).
        """
        lock_path = self.dir / "write.lock"
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexStoreError(
                    f"another ingest or remove is writing to {self.settings.home}; wait for it to finish"
                ) from None
            try:
                if recover:
                    self.recover()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def content_hashes(self) -> dict[str, str]:
        """Return {doc_id: content_hash} of the ready articles."""
        rows = self.db.execute("SELECT doc_id, content_hash FROM articles WHERE state = 'ready'")
        return dict(rows.fetchall())

    def chunk_ids(self, doc_id: str) -> list[str]:
        """Return the catalog's chunk ids of one article."""
        rows = self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY chunk_no", (doc_id,))
        return [r[0] for r in rows]

    def write(
        self, batch: Sequence[tuple[Article, list[Chunk]]], on_embedded: Callable[[int], None] | None = None
    ) -> tuple[int, int]:
        """Add or replace the given articles and their chunks; return (chunks added, chunks removed).

        `on_embedded(n)` is called as new passages are embedded, before anything is written."""
        if not batch:
            return 0, 0
        planned: list[tuple[Article, list[tuple[str, Chunk]], list[str]]] = []
        for article, article_chunks in batch:
            old_ids = self.chunk_ids(article.doc_id)
            planned.append((article, [(chunk_id(article.doc_id, c), c) for c in article_chunks], old_ids))
        # Vectors first (slow, nothing written yet), only for chunks the index does not already hold.
        new: list[tuple[Article, str, Chunk]] = []
        for article, chunks, old_ids in planned:
            old = set(old_ids)
            new.extend((article, cid, c) for cid, c in chunks if cid not in old)
        texts = [_embedded_text(a, c) for a, _, c in new]
        vectors = self.embeddings.embed_documents(texts, on_progress=on_embedded) if new else []
        # Statements are found in the cleaned text, so their offsets index the same text as the chunks'.
        said = {a.doc_id: extract_statements(a.text) for a, _, _ in planned}
        lexical_rows = []
        with self._transaction():
            for article, chunks, old_ids in planned:
                self._put_article(article, "pending")
                if old_ids:
                    self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (article.doc_id,))
                    unindex_lexically(self.db, [article.doc_id])
                self.db.executemany(
                    'INSERT INTO chunks (chunk_id, doc_id, chunk_no, start, "end", text) VALUES (?, ?, ?, ?, ?, ?)',
                    [(cid, article.doc_id, c.chunk_no, c.start, c.end, c.text) for cid, c in chunks],
                )
                lexical_rows += [(cid, article.doc_id, _embedded_text(article, c)) for cid, c in chunks]
                statements.replace(self.db, article.doc_id, said[article.doc_id])
            index_lexically(self.db, lexical_rows)  # once for the batch: each call writes a segment of postings
            self.db.executemany(
                "INSERT OR REPLACE INTO chunk_vectors (chunk_id, vector) VALUES (?, ?)",
                [(cid, _vector_blob(v)) for (_, cid, _), v in zip(new, vectors, strict=True)],
            )
            stale_ids = [(cid,) for _, chunks, old_ids in planned for cid in set(old_ids) - {i for i, _ in chunks}]
            self.db.executemany("DELETE FROM chunk_vectors WHERE chunk_id = ?", stale_ids)
        stale = [cid for _, chunks, old_ids in planned for cid in set(old_ids) - {i for i, _ in chunks}]
        if stale:
            self.collection.delete(ids=stale)
        if new:
            self.collection.upsert(
                ids=[cid for _, cid, _ in new],
                embeddings=vectors,  # type: ignore[arg-type]
                metadatas=[_chunk_metadata(a, c) for a, _, c in new],
            )
        self._set_state([a.doc_id for a, _, _ in planned], "ready")
        return len(new), len(stale)

    def remove(self, doc_ids: Sequence[str]) -> int:
        """Remove articles and their chunks; return the number of chunks removed."""
        if not doc_ids:
            return 0
        self._set_state(doc_ids, "deleting")
        removed = 0
        for doc_id in doc_ids:
            ids = self.chunk_ids(doc_id)
            if ids:
                self.collection.delete(ids=ids)
            self.collection.delete(where={"doc_id": doc_id})  # anything an interrupted write left behind
            removed += len(ids)
        with self._transaction():
            unindex_lexically(self.db, doc_ids)
            self.db.executemany(
                "DELETE FROM chunk_vectors WHERE chunk_id IN (SELECT chunk_id FROM chunks WHERE doc_id = ?)",
                [(d,) for d in doc_ids],
            )
            statements.delete(self.db, doc_ids)
            self.db.executemany("DELETE FROM articles WHERE doc_id = ?", [(d,) for d in doc_ids])
        return removed

    def recover(self) -> list[str]:
        """Finish writes that were interrupted: make Chroma hold exactly the catalog's chunks of each article."""
        rows = self.db.execute("SELECT doc_id, state FROM articles WHERE state != 'ready'").fetchall()
        deleting = [doc_id for doc_id, state in rows if state == "deleting"]
        pending = [doc_id for doc_id, state in rows if state == "pending"]
        if deleting:
            self.remove(deleting)
        for doc_id in pending:
            wanted = self.chunk_ids(doc_id)
            held = set(self.collection.get(where={"doc_id": doc_id}, include=[])["ids"])
            extra = sorted(held - set(wanted))
            if extra:
                self.collection.delete(ids=extra)
            missing = [cid for cid in wanted if cid not in held]
            if missing:
                article = self.article(doc_id)
                chunks = [self._chunk(cid) for cid in missing]
                self.collection.upsert(
                    ids=missing,
                    embeddings=self.embeddings.embed_documents([_embedded_text(article, c) for c in chunks]),  # type: ignore[arg-type]
                    metadatas=[_chunk_metadata(article, c) for c in chunks],
                )
            self._set_state([doc_id], "ready")
        return deleting + pending

    # -- Reading ---------------------------------------------------------------------------------------------

    def article(self, doc_id: str) -> Article:
        """Return one stored article."""
        row = self.db.execute(
            "SELECT doc_id, path, title, source, published_at, author, url, text FROM articles WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            raise IndexStoreError(f"no article '{doc_id}' in the index")
        return Article(*row)

    def articles(self) -> list[ArticleInfo]:
        """Return every indexed article, newest first."""
        rows = self.db.execute(
            """SELECT a.doc_id, a.title, a.source, a.published_at, a.author, a.url, a.path, COUNT(c.chunk_id)
               FROM articles a LEFT JOIN chunks c ON c.doc_id = a.doc_id
               WHERE a.state = 'ready' GROUP BY a.doc_id ORDER BY a.published_at DESC, a.title"""
        )
        return [ArticleInfo(*row) for row in rows]

    def find(self, key: str) -> list[str]:
        """Return doc ids matching an id, or a file path (all records of a JSONL file)."""
        if self.db.execute("SELECT 1 FROM articles WHERE doc_id = ?", (key,)).fetchone():
            return [key]
        path = str(Path(key).expanduser())
        candidates = {key, path, str(Path(path).resolve())} if path else set()  # key as is: a URL
        rows = self.db.execute(
            f"SELECT doc_id FROM articles WHERE path IN ({','.join('?' * len(candidates))})", tuple(candidates)
        )
        return [r[0] for r in rows]

    def doc_ids_under(self, paths: Sequence[str]) -> dict[str, str]:
        """Return {doc_id: path} of articles whose path is one of, or below one of, `paths`."""
        out = {}
        for doc_id, path in self.db.execute("SELECT doc_id, path FROM articles"):
            if any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths):
                out[doc_id] = path
        return out

    def sources(self) -> list[str]:
        """Return the distinct outlet names of the indexed articles."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM articles WHERE source != ''")]

    def mentions(self, words: str) -> bool:
        """True when some passage (text or title header) contains `words` as a phrase, by the lexical index."""
        tokens = re.findall(r"\w+", words.lower())
        if not tokens:
            return True
        phrase = '"' + " ".join(tokens) + '"'
        return (
            self.db.execute("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (phrase,)).fetchone()
            is not None
        )

    def count_chunks(self) -> int:
        """Return the number of chunks in the catalog."""
        return int(self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def dense_search(self, vector: Sequence[float], k: int, filters: Filters | None = None) -> list[Passage]:
        """Return the k passages nearest to `vector`, best first, with cosine similarity as score."""
        if self.db.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is None:
            return []
        scope: dict[str, Any] = {}
        if filters and filters.chroma_where():
            if len(filters.sources) > 1:
                # Outlet by outlet, then the best k of them all: the same passages (cosine does not depend on the
                # filter), and each outlet's list is the one its own searches keep.
                each = [self._filtered_vectors(replace(filters, sources=(s,))) for s in filters.sources]
                if all(listed is not None for listed in each):
                    found = [pair for listed in each if listed for pair in _nearest(vector, *listed, k)]
                    return self._catalog_passages(sorted(found, key=lambda pair: -pair[1])[:k])
            else:
                listed = self._filtered_vectors(filters)
                if listed is not None:
                    return self._catalog_passages(_nearest(vector, *listed, k))
            scope = {"where": filters.chroma_where()}
        result = self.collection.query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]  # chromadb's stubs want numpy or Sequence
            n_results=k,
            include=["distances"],
            **scope,
        )
        # Passages come from the catalog: Chroma holds vectors and metadata only (storing the text there too kept it
        # three times over: about 10 kB a passage, BENCHMARKS.md, scale). Its metadata is not read back either: that
        # doubled a query's time on a Chroma server (7 ms against 3.5 at 100k), and the catalog keeps the same.
        # A vector whose catalog row is gone (an interrupted remove) is no passage.
        dists = (result["distances"] or [[]])[0]
        return self._catalog_passages([(cid, 1.0 - dist) for cid, dist in zip(result["ids"][0], dists, strict=True)])

    def _filtered_vectors(self, filters: Filters) -> tuple[list[str], Any] | None:
        """(chunk ids, float32 matrix of their vectors) of the passages a filter allows; None past the limit.

        Kept for the next searches until the catalog changes: a decomposed question searches each outlet it names
        several times, and a chat's questions name the same outlets again. An outlet's passages are kept whole and
        a date range applied to them, so that other dates for the same outlet find them kept.
        """
        import numpy as np

        if len(filters.sources) == 1 and (filters.since or filters.until):
            whole = self._listed_vectors(replace(filters, since=0, until=0))
            if whole is not None:
                ids, matrix, days = whole
                keep = np.ones(len(ids), dtype=bool)
                if filters.since:
                    keep &= days >= filters.since
                if filters.until:
                    keep &= days <= filters.until
                rows = np.flatnonzero(keep)
                return [ids[i] for i in rows], matrix[rows]
        listed = self._listed_vectors(filters)
        return None if listed is None else listed[:2]

    def _listed_vectors(self, filters: Filters) -> tuple[list[str], Any, Any] | None:
        """(chunk ids, float32 matrix of their vectors, publication days) of the passages a filter allows, kept until
        the catalog changes; None past the limit."""
        import numpy as np

        version = self._version()
        if self._listed.get(filters, (None,))[0] == version:
            return self._listed[filters][1]
        condition, params = filters.sql("a")
        allowed = self.db.execute(
            f"""SELECT COUNT(*) FROM (SELECT 1 FROM articles a JOIN chunks c ON c.doc_id = a.doc_id
                WHERE {condition} LIMIT ?)""",
            (*params, _LISTED_FILTER_MAX + 1),
        ).fetchone()[0]
        if allowed > _LISTED_FILTER_MAX:
            return None  # counted before reading any vector
        sql = f"""SELECT c.chunk_id, v.vector, a.published_day FROM articles a JOIN chunks c ON c.doc_id = a.doc_id
                  LEFT JOIN chunk_vectors v ON v.chunk_id = c.chunk_id WHERE {condition}"""
        rows = self.db.execute(sql, params).fetchall()
        if any(blob is None for _, blob, _ in rows):  # an index made before the catalog kept vectors
            self._copy_all_vectors()
            rows = [row for row in self.db.execute(sql, params) if row[1]]
        ids = [cid for cid, _, _ in rows]
        matrix = np.frombuffer(b"".join(blob for _, blob, _ in rows), dtype="<f2").reshape(len(ids), -1 if ids else 0)
        listed = (ids, matrix.astype(np.float32), np.array([day for _, _, day in rows], dtype=np.int64))
        if sum(len(entry[1][0]) for entry in self._listed.values()) + len(ids) > _LISTED_CACHE_ROWS:
            self._listed.clear()
        self._listed[filters] = (version, listed)
        return listed

    def _copy_all_vectors(self) -> None:
        uncopied = [
            r[0]
            for r in self.db.execute(
                "SELECT chunk_id FROM chunks WHERE chunk_id NOT IN (SELECT chunk_id FROM chunk_vectors)"
            )
        ]
        if len(uncopied) > 10_000:
            log.warning("copying %d passage vectors from the vector store into the catalog (once)", len(uncopied))
        self.cache_vectors(uncopied)

    def cache_vectors(self, chunk_ids: Sequence[str]) -> int:
        """Copy the given passages' vectors from Chroma into the catalog; return how many were copied."""
        copied = 0
        for i in range(0, len(chunk_ids), 5000):
            got = self.vectors(chunk_ids[i : i + 5000])
            with self._transaction():
                self.db.executemany(
                    "INSERT OR REPLACE INTO chunk_vectors (chunk_id, vector) VALUES (?, ?)",
                    [(cid, _vector_blob(v)) for cid, v in got.items()],
                )
            copied += len(got)
        return copied

    def _chunk_ids_allowed(self, filters: Filters, limit: int) -> list[str]:
        """Return the ids of up to `limit` passages that the filter allows."""
        condition, params = filters.sql("a")
        rows = self.db.execute(
            f"SELECT c.chunk_id FROM articles a JOIN chunks c ON c.doc_id = a.doc_id WHERE {condition} LIMIT ?",
            (*params, limit),
        )
        return [r[0] for r in rows]

    def knows_word(self, word: str) -> bool:
        """Whether `word` (as BM25 reads it: lower case, stemmed) occurs in some indexed passage."""
        terms = lexicon.words_to_terms(self.db, [word]) if word.strip() else None
        return terms is not None and len(terms) == 1 and lexicon.has_term(self.db, terms[0])

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Passage]:
        """Return up to k passages by BM25 over chunk text and title header, best first (score: -bm25)."""
        words = lexical_words(query)
        if not words:
            return []
        terms = lexicon.words_to_terms(self.db, words)
        if terms is None:  # some word is several FTS tokens: a phrase, which only FTS5 can match
            return self._fts_search(words, k, filters)
        rowids, scores = self.postings.scores(terms)
        if filters and filters.chroma_where():
            keep = _member(rowids, self._lexical_rows(filters))
            rowids, scores = rowids[keep], scores[keep]
        return self._catalog_passages(self._chunk_ids_of(lexicon.best(rowids, scores, k)))

    def lexical_search_by_source(self, query: str, k: int, filters: Filters) -> dict[str, list[Passage]]:
        """Return, for each outlet in `filters.sources`, what `lexical_search` returns when filtered to that outlet.

        One scoring of the question serves every outlet.
        """
        found: dict[str, list[Passage]] = {source: [] for source in filters.sources}
        words = lexical_words(query)
        if not words or not filters.sources:
            return found
        terms = lexicon.words_to_terms(self.db, words)
        if terms is None:
            return {source: self._fts_search(words, k, replace(filters, sources=(source,))) for source in found}
        rowids, scores = self.postings.scores(terms)
        for source in found:
            keep = _member(rowids, self._lexical_rows(replace(filters, sources=(source,))))
            found[source] = self._catalog_passages(self._chunk_ids_of(lexicon.best(rowids[keep], scores[keep], k)))
        return found

    def _lexical_rows(self, filters: Filters) -> Any:
        """The FTS rowids of the passages the filter allows, as a numpy array.

        Read outlet by outlet and kept until the catalog changes (a decomposed question searches each outlet it names
        several times, and a chat's questions name the same outlets again); a date range is applied to the kept
        lists. A filter by dates alone is read and kept whole.
        """
        import numpy as np

        if not filters.sources:
            return self._lexical_rows_kept(filters)[0]
        allowed = []
        for source in filters.sources:
            rowids, days = self._lexical_rows_kept(Filters(sources=(source,)))
            keep = np.ones(len(rowids), dtype=bool)
            if filters.since:
                keep &= days >= filters.since
            if filters.until:
                keep &= days <= filters.until
            allowed.append(rowids[keep])
        return np.concatenate(allowed)

    def _lexical_rows_kept(self, filters: Filters) -> tuple[Any, Any]:
        """(FTS rowids, publication days) of the passages the filter allows, kept until the catalog changes."""
        version = self._version()
        if self._lexical_listed.get(filters, (None,))[0] != version:
            if len(self._lexical_listed) >= 256:
                self._lexical_listed.clear()
            self._lexical_listed[filters] = (version, self._lexical_rows_read(filters))
        return self._lexical_listed[filters][1]

    def _lexical_rows_read(self, filters: Filters) -> tuple[Any, Any]:
        """(FTS rowids, publication days) of the passages the filter allows, from the catalog."""
        import numpy as np

        condition, params = filters.sql("a")
        rows = self.db.execute(
            f"""SELECT m.fts_rowid, a.published_day FROM fts_docs m JOIN articles a ON a.doc_id = m.doc_id
                WHERE {condition}""",
            params,
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64)

    def _version(self) -> tuple[int, int]:
        """Changes whenever the catalog's passages may have: another connection committed, or this one wrote."""
        return self.db.execute("PRAGMA data_version").fetchone()[0], lexicon.generation(self.db)

    def _chunk_ids_of(self, best: Sequence[tuple[int, float]]) -> list[tuple[str, float]]:
        if not best:
            return []
        marks = ",".join("?" * len(best))  # one statement: FTS5 looks each rowid up, as for `rowid = ?`
        query = f"SELECT rowid, chunk_id FROM chunks_fts WHERE rowid IN ({marks})"
        chunk_ids = dict(self.db.execute(query, [rowid for rowid, _ in best]).fetchall())
        return [(chunk_ids[rowid], score) for rowid, score in best if rowid in chunk_ids]

    def _fts_search(self, words: Sequence[str], k: int, filters: Filters | None) -> list[Passage]:
        """`lexical_search` by FTS5's own bm25(): for questions with a word the postings cannot score alone."""
        match = " OR ".join(f'"{w}"' for w in words)
        if not match:
            return []
        condition, params = (filters or Filters()).sql("a")
        # Two statements: the best k from the FTS table alone (joined to articles through fts_docs only to filter),
        # then their rows. At 100k passages, joining every match to its text made this 5x slower (BENCHMARKS.md).
        join = "JOIN fts_docs m ON m.fts_rowid = f.rowid JOIN articles a ON a.doc_id = m.doc_id" if filters else ""
        best = self.db.execute(
            f"""SELECT f.chunk_id, -bm25(chunks_fts) FROM chunks_fts f {join}
                WHERE chunks_fts MATCH ? AND {condition} ORDER BY bm25(chunks_fts) LIMIT ?""",
            (match, *params, k),
        ).fetchall()
        return self._catalog_passages(best)

    def _catalog_passages(self, best: Sequence[tuple[str, float]]) -> list[Passage]:
        """Read the passages of (chunk id, score) pairs from the catalog, in the given order."""
        if not best:
            return []
        version = self._version()
        if version != self._passages_version:
            self._passages_read.clear()
            self._passages_version = version
        missing = [cid for cid, _ in best if cid not in self._passages_read]
        if missing:
            # Kept until the catalog changes: the parts of a question, and its outlets, find many of the same passages.
            if len(self._passages_read) + len(missing) > _KEPT_PASSAGES:
                self._passages_read.clear()
            marks = ",".join("?" * len(missing))
            self._passages_read.update(
                (row[0], row)
                for row in self.db.execute(
                    f"""SELECT c.chunk_id, c.chunk_no, c.start, c."end", c.text,
                               a.doc_id, a.title, a.source, a.published_at, a.path
                        FROM chunks c JOIN articles a ON a.doc_id = c.doc_id WHERE c.chunk_id IN ({marks})""",
                    missing,
                )
            )
        rows = self._passages_read
        passages = []
        for cid, score in best:
            if cid not in rows:
                continue
            _, no, start, end, text, doc_id, title, source, published_at, path = rows[cid]
            passages.append(
                Passage(
                    chunk_id=cid,
                    doc_id=doc_id,
                    chunk_no=no,
                    title=title,
                    source=source,
                    published_at=published_at,
                    path=path,
                    start=start,
                    end=end,
                    text=text,
                    score=float(score),
                )
            )
        return passages

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[float]]:
        """Return the stored embeddings of the given chunks."""
        if not chunk_ids:
            return {}
        got = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        embeddings = got["embeddings"] if got["embeddings"] is not None else []
        return {cid: list(map(float, vec)) for cid, vec in zip(got["ids"], embeddings, strict=False)}

    def unit_vectors(self, chunk_ids: Sequence[str]) -> dict[str, Any]:
        """The stored embeddings of the given chunks as unit float32 arrays: from the catalog's copy (float16), else
        from the vector store. The catalog is local even when Chroma is a server, and one read serves them all."""
        import numpy as np

        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(f"SELECT chunk_id, vector FROM chunk_vectors WHERE chunk_id IN ({marks})", chunk_ids)
        found = {cid: np.frombuffer(blob, dtype="<f2").astype(np.float32) for cid, blob in rows}
        missing = [cid for cid in chunk_ids if cid not in found]
        for cid, vector in self.vectors(missing).items():  # an index made before the catalog kept vectors
            v = np.asarray(vector, dtype=np.float32)
            found[cid] = v / (np.linalg.norm(v) or 1.0)
        return found

    def close(self) -> None:
        """Close the catalog connection."""
        self.db.close()

    # -- Internals -------------------------------------------------------------------------------------------

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self.db)

    def _put_article(self, a: Article, state: str) -> None:
        self.db.execute(
            """INSERT INTO articles (doc_id, path, title, source, published_at, published_day, author, url, text,
                                     content_hash, state)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(doc_id) DO UPDATE SET path=excluded.path, title=excluded.title,
                 source=excluded.source, published_at=excluded.published_at,
                 published_day=excluded.published_day, author=excluded.author, url=excluded.url,
                 text=excluded.text, content_hash=excluded.content_hash, state=excluded.state,
                 updated_at=datetime('now')""",
            (
                a.doc_id,
                a.path,
                a.title,
                a.source,
                a.published_at,
                date_key(a.published_at),
                a.author,
                a.url,
                a.text,
                a.content_hash,
                state,
            ),
        )

    def _set_state(self, doc_ids: Sequence[str], state: str) -> None:
        with self._transaction():
            self.db.executemany("UPDATE articles SET state = ? WHERE doc_id = ?", [(state, d) for d in doc_ids])

    def _chunk(self, cid: str) -> Chunk:
        no, start, end, text = self.db.execute(
            'SELECT chunk_no, start, "end", text FROM chunks WHERE chunk_id = ?', (cid,)
        ).fetchone()
        return Chunk(no, start, end, text)


def lexical_words(query: str) -> list[str]:
    """The words of a question that lexical search looks for: all but stopwords, lower-cased, each once."""
    return list(dict.fromkeys(t for t in re.findall(r"\w+", query.lower()) if t not in _LEXICAL_STOPWORDS))


def _vector_blob(vector: Sequence[float]) -> bytes:
    """A unit vector as float16 bytes (normalised here, so that a dot product is the cosine)."""
    import numpy as np

    v = np.asarray(vector, dtype=np.float64)
    return (v / (np.linalg.norm(v) or 1.0)).astype("<f2").tobytes()


def _nearest(vector: Sequence[float], ids: list[str], matrix: Any, k: int) -> list[tuple[str, float]]:
    """The k of `ids` whose unit vectors (rows of `matrix`) are nearest to `vector` by cosine, best first."""
    import numpy as np

    if not ids:
        return []
    query = np.asarray(vector, dtype=np.float32)
    scores = matrix @ (query / (np.linalg.norm(query) or 1.0))
    top = np.argpartition(-scores, k - 1)[:k] if len(ids) > k else np.arange(len(ids))
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top]


def _member(rowids: Any, allowed: Any) -> Any:
    """A mask over `rowids`: which are in `allowed` (numpy arrays of rowids)."""
    import numpy as np

    if not len(allowed):
        return np.zeros(len(rowids), dtype=bool)
    mask = np.zeros(max(int(allowed.max()), int(rowids.max()) if len(rowids) else 0) + 1, dtype=bool)
    mask[allowed] = True
    return mask[rowids]


def _embedded_text(article: Article, chunk: Chunk) -> str:
    return header_for(article.title, article.source, article.published_at) + chunk.text


def _chunk_metadata(article: Article, chunk: Chunk) -> dict[str, str | int]:
    return {
        "doc_id": article.doc_id,
        "chunk_no": chunk.chunk_no,
        "start": chunk.start,
        "end": chunk.end,
        "title": article.title,
        "source": article.source,
        "published_at": article.published_at,
        "published_day": date_key(article.published_at),
        "path": article.path,
    }
