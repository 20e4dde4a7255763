"""BM25 over our own postings, scored in numpy: the ranking of FTS5's bm25(), without visiting matches row by row.

FTS5 scores a query by stepping through every row that matches any of its words, calling bm25() on each. A long
question matches most of an archive (92% of a 100k-passage index for MultiHop-shaped questions), and that walk cost
~115 ms at 100k passages and ~1.3 s at 1M (BENCHMARKS.md, scale). Here each word's postings (row ids and term
counts) are stored as blobs beside the FTS table and scored as arrays: the same formula, the same scores (to the
last digit or two) and the same top k (checked against FTS5 in tests and on the scale indexes).

Layout, all in the catalog and written in the caller's transaction, so the postings are always in step with
`chunks_fts` (same rowids):
- `lex_segments`: one row per segment of rows: their rowids and token counts. Each write adds a segment of level 0;
  when a level holds `_FANOUT` segments they are merged into one of the next level (an LSM tree), so a word's
  postings are a few dozen blobs at most even at millions of rows.
- `lex_postings`: per word and segment, the rowids that contain it and how often.
- `lex_dead`: rows removed from the FTS table whose postings are still in a segment; merges drop them.

Words are the FTS table's own tokens (porter stemming, unicode61): they are read back from a temporary FTS5 table
with the same tokenizer through fts5vocab, for passages at write time and for a question's words at query time.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

TOKENIZER = "porter unicode61 remove_diacritics 2"  # must be chunks_fts's (index/store.py)

SCHEMA = """
CREATE TABLE IF NOT EXISTS lex_segments (
    seg INTEGER PRIMARY KEY,
    level INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    max_rowid INTEGER NOT NULL,
    rowids BLOB NOT NULL,   -- uint32 little-endian
    lengths BLOB NOT NULL   -- uint32: the row's token count, FTS5's document length
);
CREATE TABLE IF NOT EXISTS lex_postings (
    term TEXT NOT NULL,
    seg INTEGER NOT NULL,
    rowids BLOB NOT NULL,   -- uint32
    tfs BLOB NOT NULL,      -- uint16: occurrences of the term in the row
    PRIMARY KEY (term, seg)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lex_postings_seg ON lex_postings(seg);
CREATE TABLE IF NOT EXISTS lex_dead (fts_rowid INTEGER PRIMARY KEY);
-- Bumped by every change, so that readers know when their cached row statistics are stale.
CREATE TABLE IF NOT EXISTS lex_generation (one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL);
"""

# FTS5's bm25() constants.
K1 = 1.2
B = 0.75
_FANOUT = 8
# Postings kept in memory between questions, in entries (a row id and a count: 16 bytes as scored). The parts of one
# decomposed question, and the questions of a chat, share most of their words.
_CACHED_POSTINGS = 4_000_000
_KEPT_WORDS = 100_000  # words whose FTS tokens `words_to_terms` keeps
_TOKENS_OF: dict[str, tuple[str, ...]] = {}
_TOKENIZE_ROWS = 2000  # rows per pass through the temporary FTS table

log = logging.getLogger(__name__)


def prepare(db: sqlite3.Connection) -> None:
    """Create the tables (idempotent)."""
    db.executescript(SCHEMA)


def next_rowid(db: sqlite3.Connection) -> int:
    """A rowid for a new FTS row that neither the FTS table nor any segment has used (rowids are never reused)."""
    row = db.execute(
        "SELECT MAX(COALESCE((SELECT MAX(fts_rowid) FROM fts_docs), 0), "
        "COALESCE((SELECT MAX(max_rowid) FROM lex_segments), 0))"
    ).fetchone()
    return int(row[0]) + 1


def add(db: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> None:
    """Add postings for (fts rowid, body) rows as one new segment, then merge full levels (caller's transaction)."""
    if not rows:
        return
    postings: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    lengths = dict.fromkeys((rowid for rowid, _ in rows), 0)
    for i in range(0, len(rows), _TOKENIZE_ROWS):
        for rowid, term, count in _tokenized(db, rows[i : i + _TOKENIZE_ROWS]):
            ids, tfs = postings[term]
            ids.append(rowid)
            tfs.append(count)
            lengths[rowid] += count
    rowids = np.fromiter(lengths.keys(), dtype=np.uint32, count=len(lengths))
    counts = np.fromiter(lengths.values(), dtype=np.uint32, count=len(lengths))
    _write_segment(db, 0, rowids, counts, ((t, np.array(i, np.uint32), np.array(f)) for t, (i, f) in postings.items()))
    _merge_full_levels(db)


def remove(db: sqlite3.Connection, rowids: Sequence[int]) -> None:
    """Mark FTS rows as removed: their postings stop counting at once and are dropped by the next merge."""
    if rowids:
        db.executemany("INSERT OR IGNORE INTO lex_dead (fts_rowid) VALUES (?)", [(r,) for r in rowids])
        _bump(db)


def held_rowids(db: sqlite3.Connection) -> set[int]:
    """The rowids whose postings count (for checks: should be exactly the FTS table's)."""
    held: set[int] = set()
    for (blob,) in db.execute("SELECT rowids FROM lex_segments"):
        held.update(np.frombuffer(blob, "<u4").tolist())
    return held - {r[0] for r in db.execute("SELECT fts_rowid FROM lex_dead")}


def in_step(db: sqlite3.Connection) -> bool:
    """True when the postings hold as many rows as the FTS table (cheap; one statement, so one snapshot)."""
    row = db.execute(
        """SELECT (SELECT COALESCE(SUM(rows), 0) FROM lex_segments) - (SELECT COUNT(*) FROM lex_dead)
                  = (SELECT COUNT(*) FROM fts_docs)"""
    ).fetchone()
    return bool(row[0])


def rebuild(db: sqlite3.Connection) -> None:
    """Build the postings again from every row of the FTS table (caller's transaction)."""
    n = int(db.execute("SELECT COUNT(*) FROM fts_docs").fetchone()[0])
    if n > 10_000:
        log.warning("building the lexical postings for %d passages (once): about %d s", n, n // 1600)
    db.execute("DELETE FROM lex_postings")
    db.execute("DELETE FROM lex_segments")
    db.execute("DELETE FROM lex_dead")
    cursor = db.execute("SELECT rowid, body FROM chunks_fts ORDER BY rowid")
    while batch := cursor.fetchmany(8 * _TOKENIZE_ROWS):
        add(db, batch)
    _bump(db)


def words_to_terms(db: sqlite3.Connection, words: Sequence[str]) -> list[str] | None:
    """The FTS token of each word, in order; None when some word is not exactly one token (FTS5 makes it a phrase).

    A word's tokens depend on the tokenizer only, so they are kept for the process: the parts of a question, and a
    chat's questions, share most words, and tokenizing through a temporary FTS table costs ~0.7 ms a call.
    """
    if not words:
        return []
    new = [w for w in dict.fromkeys(words) if w not in _TOKENS_OF]
    if new:
        found: dict[int, list[str]] = defaultdict(list)
        for rowid, term, count in _tokenized(db, list(enumerate(new, 1))):
            found[rowid] += [term] * count
        if len(_TOKENS_OF) + len(new) > _KEPT_WORDS:
            _TOKENS_OF.clear()
        _TOKENS_OF.update((word, tuple(found.get(i, []))) for i, word in enumerate(new, 1))
    terms = [_TOKENS_OF[w] for w in words]
    return [t[0] for t in terms] if all(len(t) == 1 for t in terms) else None


def has_term(db: sqlite3.Connection, term: str) -> bool:
    """Whether some indexed row holds the FTS token `term` (removed rows may still count until their segment merges)."""
    return db.execute("SELECT 1 FROM lex_postings WHERE term = ? LIMIT 1", (term,)).fetchone() is not None


@dataclass(frozen=True)
class _Rows:
    generation: int
    live: np.ndarray  # bool, by rowid
    norm: np.ndarray  # K1 * (1 - B + B * length / avgdl), by rowid
    n: int


class Postings:
    """Reads and scores one catalog's postings; keeps the per-row statistics, and each word's rows and BM25 weights
    once read, until the postings change."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._rows: _Rows | None = None
        self._read: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._read_entries = 0

    def scores(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, BM25 scores) of every live row that contains any term; FTS5's bm25() for `t1 OR t2 ...`, negated.

        A term given twice counts twice, as a phrase given twice does in FTS5.
        """
        rows = self._statistics()
        score = np.zeros(len(rows.live))
        for term in terms:
            ids, weights = self._weights(term, rows)
            score[ids] += weights
        found = np.flatnonzero(score > 0.0)  # every weight is > 0: the rows that hold some term (a mask: 7x faster)
        return found, score[found]

    def _weights(self, term: str, rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
        """The live rows holding `term` and its BM25 weight in each, kept until the postings change."""
        if term not in self._read:
            ids, tfs = self._postings(term, rows.live)
            idf = math.log((rows.n - len(ids) + 0.5) / (len(ids) + 0.5))
            idf = idf if idf > 0.0 else 1e-6  # as FTS5 does
            # The operations in FTS5's order (fts5_aux.c), so that the scores agree with its to ~1e-15.
            weights = idf * (tfs * (K1 + 1.0)) / (tfs + rows.norm[ids])
            if self._read_entries + len(ids) > _CACHED_POSTINGS:
                self._read.clear()
                self._read_entries = 0
            self._read[term] = ids, weights
            self._read_entries += len(ids)
        return self._read[term]

    def _postings(self, term: str, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blobs = self.db.execute("SELECT rowids, tfs FROM lex_postings WHERE term = ?", (term,)).fetchall()
        if not blobs:
            return np.zeros(0, np.int64), np.zeros(0)
        ids = np.concatenate([np.frombuffer(r, dtype="<u4") for r, _ in blobs]).astype(np.int64)
        tfs = np.concatenate([np.frombuffer(t, dtype="<u2") for _, t in blobs]).astype(np.float64)
        seen = ids < len(live)  # rows written since the statistics were read are not counted yet
        ids, tfs = ids[seen], tfs[seen]
        keep = live[ids]
        return ids[keep], tfs[keep]

    def _statistics(self) -> _Rows:
        now = generation(self.db)
        if self._rows is not None and self._rows.generation == now:
            return self._rows
        segments = self.db.execute("SELECT rowids, lengths FROM lex_segments").fetchall()
        rowids = np.concatenate([np.frombuffer(r, "<u4") for r, _ in segments] or [np.zeros(0, "<u4")]).astype(np.int64)
        lengths = np.concatenate([np.frombuffer(n, "<u4") for _, n in segments] or [np.zeros(0, "<u4")])
        size = int(rowids.max()) + 1 if len(rowids) else 1
        live = np.zeros(size, dtype=bool)
        live[rowids] = True
        dead = np.fromiter((r[0] for r in self.db.execute("SELECT fts_rowid FROM lex_dead")), dtype=np.int64)
        live[dead[dead < size]] = False
        length = np.zeros(size)
        length[rowids] = lengths
        n = int(live.sum())
        avgdl = float(length[live].sum()) / n if n else 1.0
        norm = K1 * (1 - B + B * length / avgdl)
        self._read.clear()  # read against the old rows
        self._read_entries = 0
        self._rows = _Rows(now, live, norm, n)
        return self._rows


def best(rowids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (rowid, score) pairs, best first; ties by rowid."""
    if len(rowids) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        rowids, scores = rowids[top], scores[top]
    order = np.lexsort((rowids, -scores))
    return [(int(rowids[i]), float(scores[i])) for i in order]


# -- Internals --------------------------------------------------------------------------------------------------


def _tokenized(db: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> list[tuple[int, str, int]]:
    """(rowid, token, count) of the rows' texts, by the FTS table's tokenizer."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.lex_tok USING fts5(body, tokenize = '{TOKENIZER}')")
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.lex_tok_terms USING fts5vocab(temp, lex_tok, instance)")
    db.executemany("INSERT INTO temp.lex_tok (rowid, body) VALUES (?, ?)", rows)
    try:
        return db.execute(
            "SELECT doc, term, COUNT(*) FROM temp.lex_tok_terms GROUP BY doc, term ORDER BY doc, MIN(offset)"
        ).fetchall()
    finally:
        db.execute("DELETE FROM temp.lex_tok")


def _write_segment(
    db: sqlite3.Connection,
    level: int,
    rowids: np.ndarray,
    lengths: np.ndarray,
    postings: Iterable[tuple[str, np.ndarray, np.ndarray]],
) -> None:
    seg = db.execute(
        "INSERT INTO lex_segments (level, rows, max_rowid, rowids, lengths) VALUES (?, ?, ?, ?, ?)",
        (
            level,
            len(rowids),
            int(rowids.max()) if len(rowids) else 0,
            rowids.astype("<u4").tobytes(),
            lengths.astype("<u4").tobytes(),
        ),
    ).lastrowid
    db.executemany(
        "INSERT INTO lex_postings (term, seg, rowids, tfs) VALUES (?, ?, ?, ?)",
        (
            (term, seg, ids.astype("<u4").tobytes(), np.minimum(tfs, 65535).astype("<u2").tobytes())
            for term, ids, tfs in postings
            if len(ids)
        ),
    )
    _bump(db)


def _merge_full_levels(db: sqlite3.Connection) -> None:
    while row := db.execute(
        "SELECT level FROM lex_segments GROUP BY level HAVING COUNT(*) >= ? ORDER BY level LIMIT 1", (_FANOUT,)
    ).fetchone():
        segs = [r[0] for r in db.execute("SELECT seg FROM lex_segments WHERE level = ? ORDER BY seg", (row[0],))]
        _merge(db, segs, row[0] + 1)


def _merge(db: sqlite3.Connection, segs: list[int], level: int) -> None:
    """Replace segments by one, without the rows removed since they were written."""
    marks = ",".join("?" * len(segs))
    parts = db.execute(f"SELECT rowids, lengths FROM lex_segments WHERE seg IN ({marks}) ORDER BY seg", segs).fetchall()
    rowids = np.concatenate([np.frombuffer(r, "<u4") for r, _ in parts])
    lengths = np.concatenate([np.frombuffer(n, "<u4") for _, n in parts])
    dead = np.fromiter((r[0] for r in db.execute("SELECT fts_rowid FROM lex_dead")), dtype=np.int64)
    dropped = dead[np.isin(dead, rowids)]
    keep = ~np.isin(rowids, dropped)
    grouped: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = defaultdict(lambda: ([], []))
    for term, ids, tfs in db.execute(
        f"SELECT term, rowids, tfs FROM lex_postings WHERE seg IN ({marks}) ORDER BY seg", segs
    ):
        grouped[term][0].append(np.frombuffer(ids, "<u4"))
        grouped[term][1].append(np.frombuffer(tfs, "<u2"))
    db.execute(f"DELETE FROM lex_postings WHERE seg IN ({marks})", segs)
    db.execute(f"DELETE FROM lex_segments WHERE seg IN ({marks})", segs)
    db.executemany("DELETE FROM lex_dead WHERE fts_rowid = ?", [(int(r),) for r in dropped])

    def merged_postings() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for term, (id_parts, tf_parts) in grouped.items():
            ids, tfs = np.concatenate(id_parts), np.concatenate(tf_parts)
            alive = ~np.isin(ids, dropped) if len(dropped) else slice(None)
            yield term, ids[alive], tfs[alive]

    _write_segment(db, level, rowids[keep], lengths[keep], merged_postings())


def _bump(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO lex_generation (one, generation) VALUES (1, 1) "
        "ON CONFLICT(one) DO UPDATE SET generation = generation + 1"
    )


def generation(db: sqlite3.Connection) -> int:
    """A number that changes with every write to the lexical index."""
    row = db.execute("SELECT generation FROM lex_generation").fetchone()
    return int(row[0]) if row else 0
