"""What shaped each catalog under a data dir, so that an index is never read with another embedder or vector store.

Every catalog records, in its `info` table, the embedder and chunking that built it, its own id and where its
vectors went. An index built with embedder X lives in a collection (and catalog) named after X, so under embedder
Y it looks empty: `ensure_indexed` then names the catalogs that do hold passages and the option that reaches them.
It also refuses an index whose vectors are in another vector store (another Chroma server, or none).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import IndexStoreError

if TYPE_CHECKING:
    from index.store import Store

_SHAPE_KEYS = ("embedder", "embedder_id", "max_passage_tokens", "overlap_sentences", "cleaner", "chunker")


def record(store: Store) -> dict[str, str]:
    """Record what shapes this catalog (first writer wins) and its id; return everything the catalog records."""
    from index.cleaning import CLEANER_VERSION
    from index.store import CHUNKER_VERSION

    settings, embeddings = store.settings, store.embeddings
    embedder = str(embeddings.path) if embeddings.spec != "minilm" else embeddings.spec
    values = {
        "embedder": embedder,
        "embedder_id": embeddings.model_id,
        "max_passage_tokens": str(settings.index.max_passage_tokens),
        "overlap_sentences": str(settings.index.overlap_sentences),
        "cleaner": CLEANER_VERSION,
        "chunker": CHUNKER_VERSION,
        "catalog_id": uuid.uuid4().hex,
    }
    info = _info(store.db)
    missing = {key: value for key, value in values.items() if key not in info}
    if missing:
        store.db.executemany("INSERT OR IGNORE INTO info (key, value) VALUES (?, ?)", list(missing.items()))
        info = _info(store.db)
    return info


def note_vector_store(store: Store, where: str) -> None:
    """Record where the catalog's vectors are written: while it holds no passages, or when it never said."""
    if not _ready_passages(store) or "vector_store" not in _info(store.db):
        store.db.execute("INSERT OR REPLACE INTO info (key, value) VALUES ('vector_store', ?)", (where,))


@dataclass(frozen=True)
class CatalogInfo:
    """Another index under the same data dir: what built it and how many passages it holds."""

    name: str
    passages: int
    info: dict[str, str]

    def differences(self, mine: dict[str, str]) -> dict[str, str]:
        """Return the shape settings in which this index differs from `mine`."""
        return {k: self.info[k] for k in _SHAPE_KEYS if k in self.info and self.info[k] != mine.get(k)}


def others(store: Store) -> list[CatalogInfo]:
    """Return the other indexes under the store's data dir that hold passages, largest first."""
    found = []
    for path in sorted((Path(store.settings.home) / "indexes").glob("*/catalog.sqlite3")):
        if path.parent == store.dir:
            continue
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                passages = int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
                info = _info(db) if passages else {}
            finally:
                db.close()
        except sqlite3.Error:
            continue  # not a catalog we can read: it cannot be the one the user meant
        if passages:
            found.append(CatalogInfo(path.parent.name, passages, info))
    return sorted(found, key=lambda c: -c.passages)


def ensure_indexed(store: Store) -> None:
    """Raise IndexStoreError unless the index holds passages; name the indexes built with other settings if any."""
    home = store.settings.home
    if store.count_chunks():
        built_in = _info(store.db).get("vector_store")  # read before opening the collection notes the current one
        ready = _ready_passages(store)
        if ready and store.collection.count() == 0:
            from index.chroma import vector_store

            raise IndexStoreError(
                f"the index under {home} has {ready} passages but {vector_store(store.settings)} holds none of "
                f"their vectors (they were written to {built_in or 'another vector store'}): point --chroma-url "
                "(ASSISTANT_CHROMA_URL) there, or run `assistant doctor --repair` to embed them again here"
            )
        return
    other = others(store)
    if not other:
        raise IndexStoreError(f"the index under {home} is empty: run `assistant ingest PATH` first")
    best = other[0]
    diff = best.differences(store.info)
    if "embedder" in diff or "embedder_id" in diff:
        built_with = diff.get("embedder", store.info.get("embedder", ""))
        raise IndexStoreError(
            f"nothing under {home} is indexed with embedder '{store.info.get('embedder')}'; the index there "
            f"({best.passages} passages) was built with embedder '{built_with}': pass --embedder {built_with} "
            "(or set ASSISTANT_EMBEDDER), or ingest again with this embedder"
        )
    shape = ", ".join(f"{k}={v}" for k, v in diff.items() if k in ("max_passage_tokens", "overlap_sentences"))
    if shape:
        raise IndexStoreError(
            f"nothing under {home} is indexed with these [index] settings; the index there ({best.passages} "
            f"passages) was built with {shape}: set them again (config file or ASSISTANT_INDEX__...), "
            "or ingest again with the new ones"
        )
    raise IndexStoreError(
        f"nothing under {home} is indexed with the current embedder and [index] settings, but an index built with "
        f"other ones (or an older version) holds {best.passages} passages: ingest again to rebuild it"
    )


def _ready_passages(store: Store) -> int:
    sql = "SELECT COUNT(*) FROM chunks c JOIN articles a ON a.doc_id = c.doc_id WHERE a.state = 'ready'"
    return int(store.db.execute(sql).fetchone()[0])


def _info(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM info").fetchall())
