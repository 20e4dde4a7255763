"""Attributed statements stored in the catalog beside the chunks, and the queries over them.

One row per quote or reported clause that `index.quotes.extract_statements` finds in an article's cleaned text, so
`start`/`end` index into the same text as chunk offsets. `Store.write` replaces an article's rows in the same
transaction as its chunks and `Store.remove` deletes them with the article, so they stay in step on update, remove
and recovery. Rows extracted by an older version of the extractor are re-extracted on first query.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.types import Passage
from index import quotes
from index.quotes import Statement, extract_statements, speaker_matches
from index.sqlite import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS statements (
    doc_id TEXT NOT NULL REFERENCES articles(doc_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('direct', 'reported')),
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
"""
# The extractor's own source names the version of the rows: any change to the rules re-extracts on next query.
EXTRACTOR_VERSION = hashlib.sha1(Path(quotes.__file__).read_bytes()).hexdigest()[:12]
_VERSION_KEY = "statements_extractor"
_BACKFILL_BATCH = 50  # articles per transaction, so a long re-extraction never blocks an ingest for long


@dataclass(frozen=True)
class StoredStatement:
    """A statement with the article it comes from, as `assistant quotes` lists it."""

    speaker: str
    role: str
    kind: str
    text: str
    doc_id: str
    title: str
    source: str
    published_at: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        """Return the statement in the shape `quotes --json` prints."""
        return self.__dict__.copy()


@dataclass(frozen=True)
class SpeakerCount:
    """A speaker with the number of statements and articles attributed to them."""

    speaker: str
    role: str  # the role the articles give most often, "" if none
    statements: int
    articles: int

    def to_dict(self) -> dict[str, Any]:
        """Return the speaker as a JSON-ready dict."""
        return self.__dict__.copy()


def prepare(db: sqlite3.Connection) -> None:
    """Create the table; an empty catalog is current by definition, so it never needs re-extraction."""
    db.executescript(SCHEMA)
    if _stored_version(db) is None and db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None:
        db.execute("INSERT OR IGNORE INTO info (key, value) VALUES (?, ?)", (_VERSION_KEY, EXTRACTOR_VERSION))


def replace(db: sqlite3.Connection, doc_id: str, statements: Sequence[Statement]) -> None:
    """Replace an article's statements; call inside the transaction that writes its chunks."""
    db.execute("DELETE FROM statements WHERE doc_id = ?", (doc_id,))
    db.executemany(
        'INSERT INTO statements (doc_id, seq, speaker, role, kind, text, start, "end") VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [(doc_id, n, s.speaker, s.role, s.kind, s.text, s.start, s.end) for n, s in enumerate(statements)],
    )


def delete(db: sqlite3.Connection, doc_ids: Sequence[str]) -> None:
    """Delete the statements of the given articles; call inside the transaction that deletes them."""
    db.executemany("DELETE FROM statements WHERE doc_id = ?", [(d,) for d in doc_ids])


def refresh(db: sqlite3.Connection) -> int:
    """Re-extract every article's statements if they come from another extractor version; return articles done."""
    if _stored_version(db) == EXTRACTOR_VERSION:
        return 0
    doc_ids = [r[0] for r in db.execute("SELECT doc_id FROM articles WHERE state != 'deleting' ORDER BY doc_id")]
    for i in range(0, len(doc_ids), _BACKFILL_BATCH):
        ids = doc_ids[i : i + _BACKFILL_BATCH]
        marks = ",".join("?" * len(ids))
        rows = db.execute(f"SELECT doc_id, content_hash, text FROM articles WHERE doc_id IN ({marks})", ids)
        extracted = [(doc_id, digest, extract_statements(text)) for doc_id, digest, text in rows.fetchall()]
        with transaction(db):
            # An ingest or remove may have touched an article meanwhile: its own rows are current, leave them.
            now = dict(db.execute(f"SELECT doc_id, content_hash FROM articles WHERE doc_id IN ({marks})", ids))
            for doc_id, digest, statements in extracted:
                if now.get(doc_id) == digest:
                    replace(db, doc_id, statements)
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO info (key, value) VALUES (?, ?)", (_VERSION_KEY, EXTRACTOR_VERSION))
    return len(doc_ids)


def find(
    db: sqlite3.Connection,
    speaker: str | None = None,
    *,
    source: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> list[StoredStatement]:
    """Statements of ready articles, oldest article first, in article order; filtered by speaker, outlet and day.

    `speaker` matches by `speaker_matches` (surname alone, spelling variants); it may also carry the role the
    articles give ("Foreign Minister Ruth Abernathy"), but a role alone never matches. `source` is a case-insensitive
    part of the outlet's name; `since`/`until` are inclusive days as YYYYMMDD.
    """
    refresh(db)
    where, args = _filters(source, since, until)
    rows = db.execute(
        f"""SELECT s.speaker, s.role, s.kind, s.text, s.doc_id, a.title, a.source, a.published_at, s.start, s."end"
            FROM statements s JOIN articles a ON a.doc_id = s.doc_id
            WHERE {where} ORDER BY a.published_day, a.published_at, a.doc_id, s.start""",
        args,
    ).fetchall()
    found = [StoredStatement(*row) for row in rows]
    if speaker is None:
        return found
    verdicts: dict[tuple[str, str], bool] = {}
    for s in found:
        if (s.speaker, s.role) not in verdicts:
            verdicts[(s.speaker, s.role)] = names_speaker(speaker, s.speaker, s.role)
    return [s for s in found if verdicts[(s.speaker, s.role)]]


def speakers(
    db: sqlite3.Connection, *, source: str | None = None, since: int | None = None, until: int | None = None
) -> list[SpeakerCount]:
    """Every speaker with statement and article counts, most statements first."""
    counts: Counter[str] = Counter()
    roles: dict[str, Counter[str]] = {}
    docs: dict[str, set[str]] = {}
    for s in find(db, source=source, since=since, until=until):
        counts[s.speaker] += 1
        if s.role:
            roles.setdefault(s.speaker, Counter())[s.role] += 1
        docs.setdefault(s.speaker, set()).add(s.doc_id)
    out = []
    for name, n in counts.items():
        common = roles.get(name, Counter()).most_common(1)
        role = common[0][0] if common else ""
        out.append(SpeakerCount(name, role, n, len(docs[name])))
    return sorted(out, key=lambda c: (-c.statements, c.speaker.lower()))


def names_speaker(query: str, speaker: str, role: str) -> bool:
    """Whether `query` names this speaker: by name, or by role and name, never by role alone.

    "Foreign Minister Ruth Abernathy" names Ruth Abernathy (role "Foreign Minister"), but "the foreign minister"
    names nobody: a role alone would also catch the ministry's spokesperson, who speaks for the minister.
    """
    if speaker_matches(query, speaker):
        return True
    if not role:
        return False
    role_words = _words(role)
    name_part = " ".join(w for w in query.split() if not any(speaker_matches(w, r) for r in role_words))
    return bool(name_part.strip()) and name_part != query and speaker_matches(name_part, speaker)


def spans(db: sqlite3.Connection, doc_id: str) -> list[tuple[int, int]]:
    """The (start, end) of every statement stored for one article."""
    return [
        (a, b) for a, b in db.execute('SELECT start, "end" FROM statements WHERE doc_id = ? ORDER BY start', (doc_id,))
    ]


def covering_passages(db: sqlite3.Connection, doc_id: str, start: int, end: int) -> list[Passage]:
    """The chunk that contains the span [start, end) of an article, else the fewest consecutive chunks covering it."""
    rows = db.execute(
        """SELECT c.chunk_id, c.doc_id, c.chunk_no, a.title, a.source, a.published_at, a.path, c.start, c."end", c.text
           FROM chunks c JOIN articles a ON a.doc_id = c.doc_id
           WHERE c.doc_id = ? AND c.start < ? AND c."end" > ? ORDER BY c.chunk_no""",
        (doc_id, max(end, start + 1), start),
    ).fetchall()
    passages = [Passage(*row) for row in rows]
    whole = [p for p in passages if p.start <= start and p.end >= end]
    if whole:
        return [whole[0]]
    cover: list[Passage] = []
    reached = start
    while reached < end:  # greedy: the chunk that reaches furthest past what is covered, skipping gaps between chunks
        containing = [q for q in passages if q.start <= reached < q.end]
        following = [q for q in passages if q.start > reached]
        if containing:
            best = max(containing, key=lambda q: q.end)
        elif following:
            best = min(following, key=lambda q: q.start)
        else:
            break
        cover.append(best)
        reached = best.end
    return cover


def _filters(source: str | None, since: int | None, until: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = ["a.state = 'ready'"]
    args: list[Any] = []
    if source:
        clauses.append("instr(lower(a.source), lower(?)) > 0")
        args.append(source)
    if since is not None:
        clauses.append("a.published_day >= ?")
        args.append(since)
    if until is not None:
        clauses.append("a.published_day BETWEEN 1 AND ?")
        args.append(until)
    return " AND ".join(clauses), args


def _stored_version(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM info WHERE key = ?", (_VERSION_KEY,)).fetchone()
    return None if row is None else str(row[0])


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() or c in "-'’" else " " for c in text.lower()).split() if w]
