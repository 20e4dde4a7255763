"""`examine(store)`: check that the catalog, the lexical index, the vector store and every table that refers to
articles agree; with `repair=True` fix what can be fixed. The catalog's articles and chunks are the truth.

Checks, in order (repairs in the same order, so later checks see earlier repairs):
catalog integrity · interrupted writes · rows of any table whose `doc_id`/`chunk_id` refers to nothing ·
lexical rows missing, doubled, stale, out of step with the BM25 postings or a damaged FTS index · vectors missing or
extra · ledger records of articles that are gone.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from index import lexicon
from index.chunking import header_for
from index.ledger import Ledger
from index.sqlite import transaction
from index.store import index_lexically, map_lexical_rows, post_lexical_rows, unindex_lexically

if TYPE_CHECKING:
    from index.store import Store


@dataclass
class Finding:
    """One kind of disagreement, how many items it concerns, and whether it was repaired."""

    kind: str
    problem: str
    count: int
    repaired: bool = False


@dataclass
class Health:
    """What `assistant doctor` found. `ok` is true when no problem remains."""

    index: str
    articles: int = 0
    passages: int = 0
    lexical: int = 0
    vectors: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # every catalog table that refers to articles: rows
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every problem found was repaired (or none was found)."""
        return all(f.repaired for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """Return the report in the shape `doctor --json` prints."""
        return {**asdict(self), "ok": self.ok}


def examine(store: Store, *, repair: bool = False) -> Health:
    """Check that the stores of one index agree; with `repair`, fix what can be fixed, then check again.

    Holds the write lock (an ingest running meanwhile makes this raise IndexStoreError).
    """
    with store.writing(recover=False):
        first = _Examination(store, repair=repair).run()
        if not repair or not first.findings:
            return first
        after = _Examination(store, repair=False).run()
        left = {f.kind for f in after.findings}
        for finding in first.findings:
            finding.repaired = finding.kind not in left
        first.findings.extend(f for f in after.findings if f.kind not in {g.kind for g in first.findings})
        for name in ("articles", "passages", "lexical", "vectors", "tables"):
            setattr(first, name, getattr(after, name))
        return first


class _Examination:
    def __init__(self, store: Store, *, repair: bool) -> None:
        self.store = store
        self.db = store.db
        self.repair = repair
        self.health = Health(index=str(store.dir))

    def run(self) -> Health:
        self.integrity()
        self.interrupted()
        self.dangling_rows()
        self.lexical()
        self.vectors()
        self.ledger()
        h = self.health
        h.articles = self.scalar("SELECT COUNT(*) FROM articles")
        h.passages = self.scalar("SELECT COUNT(*) FROM chunks")
        h.lexical = self.scalar("SELECT COUNT(*) FROM chunks_fts")
        return h

    def found(self, kind: str, problem: str, count: int) -> None:
        if count:
            self.health.findings.append(Finding(kind, problem, count))

    def scalar(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        return int(self.db.execute(sql, args).fetchone()[0])

    def integrity(self) -> None:
        rows = [r[0] for r in self.db.execute("PRAGMA quick_check")]
        if rows != ["ok"]:
            self.found("catalog-damaged", f"the catalog database is damaged: {'; '.join(rows[:3])}", len(rows))

    def interrupted(self) -> None:
        n = self.scalar("SELECT COUNT(*) FROM articles WHERE state != 'ready'")
        self.found("interrupted-writes", f"{n} article(s) left half-written by an interrupted ingest or remove", n)
        if n and self.repair:
            self.store.recover()

    def dangling_rows(self) -> None:
        """Rows of any table (chunks, lexical index, statements, ...) that refer to an article or chunk not there."""
        for table, columns in _tables(self.db).items():
            if table != "articles" and "doc_id" in columns:
                self.health.tables[table] = self.scalar(f'SELECT COUNT(*) FROM "{table}"')
                where = f'FROM "{table}" WHERE doc_id NOT IN (SELECT doc_id FROM articles)'
                n = self.scalar(f"SELECT COUNT(*) {where}")
                self.found(f"dangling:{table}", f"{n} row(s) of '{table}' refer to an article that is not indexed", n)
                if n and self.repair:
                    self.db.execute(f"DELETE {where}")
            if table != "chunks" and "chunk_id" in columns:
                where = f'FROM "{table}" WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)'
                if "doc_id" in columns:  # rows of a missing article were counted (and deleted) above
                    where += " AND doc_id IN (SELECT doc_id FROM articles)"
                n = self.scalar(f"SELECT COUNT(*) {where}")
                self.found(f"dangling-chunk:{table}", f"{n} row(s) of '{table}' refer to a passage that is gone", n)
                if n and self.repair:
                    self.db.execute(f"DELETE {where}")

    def lexical(self) -> None:
        try:
            self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            self.found("lexical-damaged", f"the lexical index is damaged ({exc})", 1)
            if self.repair:
                self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        unmapped = self.scalar(
            """SELECT (SELECT COUNT(*) FROM chunks_fts f WHERE NOT EXISTS
                         (SELECT 1 FROM fts_docs m WHERE m.fts_rowid = f.rowid AND m.doc_id = f.doc_id))
                    + (SELECT COUNT(*) FROM fts_docs m WHERE NOT EXISTS
                         (SELECT 1 FROM chunks_fts f WHERE f.rowid = m.fts_rowid))"""
        )
        self.found("lexical-unmapped", f"{unmapped} lexical row(s) not in step with fts_docs", unmapped)
        if unmapped and self.repair:  # before the repairs below, which find an article's rows through fts_docs
            map_lexical_rows(self.db)
        expected = {
            cid: (doc_id, header_for(title, source, published_at) + text)
            for cid, doc_id, text, title, source, published_at in self.db.execute(
                """SELECT c.chunk_id, c.doc_id, c.text, a.title, a.source, a.published_at
                   FROM chunks c JOIN articles a ON a.doc_id = c.doc_id"""
            )
        }
        held: dict[str, list[str]] = {}
        for cid, body in self.db.execute("SELECT chunk_id, body FROM chunks_fts"):
            held.setdefault(cid, []).append(body)
        missing = [cid for cid in expected if cid not in held]
        doubled = [cid for cid, bodies in held.items() if len(bodies) > 1]
        stale = [cid for cid, bodies in held.items() if cid in expected and bodies[0] != expected[cid][1]]
        self.found("lexical-missing", f"{len(missing)} passage(s) missing from the lexical index", len(missing))
        self.found("lexical-doubled", f"{len(doubled)} passage(s) indexed more than once lexically", len(doubled))
        self.found("lexical-stale", f"{len(stale)} lexical row(s) whose text differs from the passage", len(stale))
        docs = sorted({expected[cid][0] for cid in (*missing, *doubled, *stale) if cid in expected})
        if docs and self.repair:
            with transaction(self.db):
                unindex_lexically(self.db, docs)
                broken = set(docs)
                index_lexically(self.db, [(cid, d, body) for cid, (d, body) in expected.items() if d in broken])
        rows = {r[0] for r in self.db.execute("SELECT rowid FROM chunks_fts")}
        off = len(rows ^ lexicon.held_rowids(self.db))
        self.found("lexical-postings", f"{off} lexical row(s) not in step with the BM25 postings", off)
        if off and self.repair:
            post_lexical_rows(self.db)

    def vectors(self) -> None:
        try:
            collection = self.store.collection
            held = set(collection.get(include=[])["ids"])
        except Exception as exc:  # a damaged vector store raises many types
            self.found("vectors-unreadable", f"the vector store cannot be read: {exc}".splitlines()[0], 1)
            return
        wanted = {cid: doc_id for cid, doc_id in self.db.execute("SELECT chunk_id, doc_id FROM chunks")}
        extra = sorted(held - set(wanted))
        missing = sorted(set(wanted) - held)
        self.health.vectors = len(held)
        self.found("vectors-extra", f"{len(extra)} vector(s) of passages that are not in the catalog", len(extra))
        self.found("vectors-missing", f"{len(missing)} passage(s) have no vector", len(missing))
        if self.repair and extra:
            collection.delete(ids=extra)
        if self.repair and missing:
            # `recover` embeds exactly the catalog's passages of pending articles: mark the affected ones pending.
            docs = sorted({wanted[cid] for cid in missing})
            with transaction(self.db):
                self.db.executemany("UPDATE articles SET state = 'pending' WHERE doc_id = ?", [(d,) for d in docs])
            self.store.recover()

    def ledger(self) -> None:
        ledger = Ledger(self.db)
        present = {r[0] for r in self.db.execute("SELECT doc_id FROM articles")}
        stale = [r.path for r in ledger.all() if any(d not in present for d in r.articles)]
        self.found("ledger-stale", f"{len(stale)} file record(s) name articles that are not indexed", len(stale))
        if stale and self.repair:
            ledger.forget(stale)  # those files are read again by the next ingest


def _tables(db: sqlite3.Connection) -> dict[str, set[str]]:
    """Every table of the catalog (FTS shadow tables left out) with its column names."""
    names = [
        r[0]
        for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if not r[0].startswith("chunks_fts_")
    ]
    return {name: {row[1] for row in db.execute(f'PRAGMA table_info("{name}")')} for name in names}
