"""The ledger of ingested files: size, mtime and hash per path, so an unchanged file is skipped without parsing.

A file is recorded only after every article it gave is written, and only if it loaded without a failure; a file
whose mtime is too recent to trust (it could change again within the same clock tick) is recorded with mtime -1,
so the next ingest compares its bytes' hash instead of its stat.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from index.cleaning import CLEANER_VERSION
from index.loaders import LOADER_VERSION
from index.sqlite import transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,        -- absolute path, as given (symlinks not resolved)
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,    -- -1: too recent to trust; compare the hash
    sha256 TEXT NOT NULL,
    reader TEXT NOT NULL,         -- loader and cleaner versions that read it
    articles TEXT NOT NULL        -- JSON {doc_id: content_hash} of the articles it gave
);
"""
READER = f"loader {LOADER_VERSION}, cleaner {CLEANER_VERSION}"
# A file modified this recently may change again without its (size, mtime) changing: git's "racy" case.
_RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileRecord:
    """What the ledger knows of one file."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    reader: str
    articles: dict[str, str]

    def same_stat(self, stat: os.stat_result) -> bool:
        """True when size and mtime match and the record can be trusted on them alone."""
        return (
            self.reader == READER
            and self.mtime_ns >= 0
            and (self.size, self.mtime_ns)
            == (
                stat.st_size,
                stat.st_mtime_ns,
            )
        )

    def still_indexed(self, known: Mapping[str, str]) -> bool:
        """True when every article the file gave is in the index with the same content."""
        return all(known.get(doc_id) == digest for doc_id, digest in self.articles.items())


def trusted_mtime(stat: os.stat_result) -> int:
    """The mtime to record for a file stat()ed just now: -1 when it is too recent to be trusted later."""
    return stat.st_mtime_ns if time.time_ns() - stat.st_mtime_ns > _RACY_NS else -1


class Ledger:
    """The `files` table in an index's catalog."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(_SCHEMA)

    def get(self, path: str) -> FileRecord | None:
        """Return the record of a file (absolute path), or None."""
        row = self.db.execute(
            "SELECT path, size, mtime_ns, sha256, reader, articles FROM files WHERE path = ?", (path,)
        ).fetchone()
        return None if row is None else _record(row)

    def all(self) -> list[FileRecord]:
        """Return every record."""
        rows = self.db.execute("SELECT path, size, mtime_ns, sha256, reader, articles FROM files")
        return [_record(row) for row in rows]

    def record(self, entries: Iterable[tuple[str, int, int, str, Mapping[str, str]]]) -> None:
        """Record (path, size, `trusted_mtime`, sha256, {doc_id: content_hash}) of files whose articles are written."""
        rows = [
            (path, size, mtime_ns, digest, READER, json.dumps(dict(articles), sort_keys=True))
            for path, size, mtime_ns, digest, articles in entries
        ]
        if rows:
            with transaction(self.db):
                self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)

    def forget(self, paths: Iterable[str]) -> None:
        """Drop the records of these paths."""
        with transaction(self.db):
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])


def _record(row: tuple[Any, ...]) -> FileRecord:
    path, size, mtime_ns, digest, reader, articles = row
    return FileRecord(path, size, mtime_ns, digest, reader, json.loads(articles))
