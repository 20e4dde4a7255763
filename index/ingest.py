"""`ingest(paths, settings)`: load, clean, chunk, embed and store articles; report what changed.

Files, web pages (`urls=`) and RSS/Atom feeds (`feeds=`) are read one after the other; new and changed articles are
written in batches (each batch crash-safe, see `index.store`). A file whose size, mtime and hash the ledger already
holds is skipped without being parsed; `prune=True` removes articles whose files are gone; `dry_run=True` reports
what would change and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import InputError
from index.chunking import Chunk, chunk_text, header_for
from index.fetching import Fetcher, is_url, iter_feed, load_page
from index.ledger import READER, Ledger, trusted_mtime
from index.loaders import Article, LoadFailure, iter_files, parse_file, read_file
from index.progress import IngestProgress, RichProgress

if TYPE_CHECKING:
    from assistant.settings import Settings
    from index.embedding import LocalEmbeddings
    from index.store import Store


@dataclass(frozen=True)
class Change:
    """One article that was (or, in a dry run, would be) added, updated or removed."""

    action: str  # "add" | "update" | "remove"
    doc_id: str
    path: str


@dataclass
class IngestReport:
    """What an ingest did (or would do, when `dry_run`). `added` ... `removed` count articles."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[LoadFailure] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report in the shape `ingest --json` prints."""
        return asdict(self)


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    urls: Sequence[str] = (),
    feeds: Sequence[str] = (),
    prune: bool = False,
    dry_run: bool = False,
    store: Store | None = None,
    show_progress: bool = False,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Index the articles under `paths`, at `urls` and in `feeds`; unchanged articles are skipped, changed ones
    replaced; with `prune`, articles whose files under `paths` are gone are removed."""
    from index.store import Store

    if store is None:
        from index.embedding import LocalEmbeddings

        store = Store(settings, LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size))
    if progress is None:
        progress = RichProgress() if show_progress else IngestProgress()
    report = IngestReport(dry_run=dry_run)
    # A dry run writes nothing, so it neither takes the write lock nor finishes interrupted writes.
    with nullcontext() if dry_run else store.writing():
        _Run(store, settings, report, progress).run(paths, urls, feeds, prune=prune)
    return report


def chunk_article(article: Article, settings: Settings, embeddings: LocalEmbeddings) -> list[Chunk]:
    """Chunk one article for the embedder, title header included in the budget."""
    return chunk_text(
        article.text,
        header=header_for(article.title, article.source, article.published_at),
        count_tokens=embeddings.count_tokens,
        max_tokens=settings.index.max_passage_tokens,
        overlap_sentences=settings.index.overlap_sentences,
    )


class _Run:
    """The state of one ingest: what the index holds, what was seen, the batch being filled."""

    def __init__(self, store: Store, settings: Settings, report: IngestReport, progress: IngestProgress) -> None:
        self.store = store
        self.settings = settings
        self.report = report
        self.progress = progress
        self.dry_run = report.dry_run
        self.max_bytes = int(settings.index.max_file_mb * 1_000_000)
        self.known = store.content_hashes()
        self.ledger = Ledger(store.db)
        self.seen: set[str] = set()
        self.batch: list[tuple[Article, list[Chunk]]] = []
        self.batch_passages = 0
        self.embedding = 0  # new passages in the batch, for the progress bar
        # Files read in full whose articles are all queued: recorded in the ledger once the batch is written.
        self.unrecorded: list[tuple[str, int, int, str, dict[str, str]]] = []
        # Absolute path of each file read without a failure -> the doc ids it gave (for `prune`).
        self.complete: dict[str, set[str]] = {}

    def run(self, paths: Sequence[Path], urls: Sequence[str], feeds: Sequence[str], *, prune: bool) -> None:
        files = list(iter_files(paths))
        self.progress.start(len(files) + len(urls) + len(feeds))
        try:
            for item in files:
                if isinstance(item, LoadFailure):
                    self.report.failed.append(item)
                else:
                    self.file(item)
                self.progress.source_done()
            if urls or feeds:
                index = self.settings.index
                with Fetcher(timeout=index.fetch_timeout, max_bytes=int(index.fetch_max_mb * 1_000_000)) as fetcher:
                    for url in urls:
                        self.page(fetcher, url)
                        self.progress.source_done()
                    for url in feeds:
                        self.feed(fetcher, url)
                        self.progress.source_done()
            self.flush()
            if prune:
                self.prune(paths)
        finally:
            self.progress.stop()

    # -- sources ------------------------------------------------------------------------------------------------

    def file(self, path: Path) -> None:
        where = os.path.abspath(path)
        record = self.ledger.get(where)
        try:
            stat = path.stat()
        except OSError as exc:
            self.report.failed.append(LoadFailure(str(path), f"cannot read file: {exc.strerror or exc}"))
            return
        mtime = trusted_mtime(stat)  # judged now, when the bytes are read, not when the ledger is written
        if record is not None and record.same_stat(stat) and record.still_indexed(self.known):
            self.skip_file(where, record.articles)
            return
        raw = read_file(path, max_bytes=self.max_bytes)
        if isinstance(raw, LoadFailure):
            self.report.failed.append(raw)
            return
        digest = hashlib.sha256(raw).hexdigest()
        if (
            record is not None
            and (record.reader, record.sha256) == (READER, digest)
            and record.still_indexed(self.known)
        ):
            self.skip_file(where, record.articles)
            self.unrecorded.append((where, stat.st_size, mtime, digest, record.articles))  # new mtime, same bytes
            return
        clean = True
        produced: dict[str, str] = {}
        for loaded in parse_file(path, raw):
            if isinstance(loaded, LoadFailure):
                self.report.failed.append(loaded)
                clean = False
            elif self.article(loaded):
                produced[loaded.doc_id] = loaded.content_hash
            else:
                clean = False
        if clean:
            self.complete[where] = set(produced)
            self.unrecorded.append((where, stat.st_size, mtime, digest, produced))

    def skip_file(self, where: str, articles: dict[str, str]) -> None:
        for doc_id in articles:
            if doc_id in self.seen:
                self.report.failed.append(LoadFailure(where, f"duplicate article id '{doc_id}'"))
            self.seen.add(doc_id)
        self.report.unchanged += len(articles)
        self.complete[where] = set(articles)

    def page(self, fetcher: Fetcher, url: str) -> None:
        try:
            article = load_page(fetcher, url)
        except InputError as exc:
            self.report.failed.append(LoadFailure(url, str(exc)))
            return
        self.article(article)

    def feed(self, fetcher: Fetcher, url: str) -> None:
        # Items already indexed (by id, or by link as a page or another feed's item) are not fetched again.
        skip = set(self.known) | self.seen
        skip.update(row[0] for row in self.store.db.execute("SELECT url FROM articles WHERE url != ''"))
        for item in iter_feed(fetcher, url, skip):
            if isinstance(item, str):
                self.report.unchanged += 1
            elif isinstance(item, LoadFailure):
                self.report.failed.append(item)
            else:
                self.article(item)

    # -- articles and batches -----------------------------------------------------------------------------------

    def article(self, article: Article) -> bool:
        """Queue a new or changed article; False when its id was already seen in this ingest."""
        from index.store import chunk_id

        if article.doc_id in self.seen:
            self.report.failed.append(LoadFailure(article.path, f"duplicate article id '{article.doc_id}'"))
            return False
        self.seen.add(article.doc_id)
        if self.known.get(article.doc_id) == article.content_hash:
            self.report.unchanged += 1
            return True
        update = article.doc_id in self.known
        if update:
            self.report.updated += 1
        else:
            self.report.added += 1
        self.report.changes.append(Change("update" if update else "add", article.doc_id, article.path))
        chunks = chunk_article(article, self.settings, self.store.embeddings)
        ids = {chunk_id(article.doc_id, c) for c in chunks}
        old = set(self.store.chunk_ids(article.doc_id))
        if self.dry_run:
            self.report.chunks_added += len(ids - old)
            self.report.chunks_removed += len(old - ids)
            return True
        self.progress.passages_queued(len(ids - old))
        self.embedding += len(ids - old)
        self.batch.append((article, chunks))
        self.batch_passages += len(chunks)
        if self.batch_passages >= self.settings.index.write_batch_passages:
            self.flush()
        return True

    def flush(self) -> None:
        if self.dry_run:
            return
        if self.batch:
            embedded = 0

            def advance(n: int) -> None:
                nonlocal embedded
                embedded += n
                self.progress.passages_embedded(n)

            added, removed = self.store.write(self.batch, on_embedded=advance)
            self.report.chunks_added += added
            self.report.chunks_removed += removed
            self.progress.passages_embedded(max(0, self.embedding - embedded))
        self.batch, self.batch_passages, self.embedding = [], 0, 0
        self.ledger.record(self.unrecorded)
        self.unrecorded = []

    # -- prune ----------------------------------------------------------------------------------------------------

    def prune(self, paths: Sequence[Path]) -> None:
        """Remove articles under `paths` whose file is gone, or whose record is gone from a file read in full."""
        roots = [os.path.abspath(p) for p in paths]
        gone: dict[str, str] = {}
        for doc_id, path in self.store.db.execute("SELECT doc_id, path FROM articles"):
            if is_url(path):
                continue
            where = os.path.abspath(path)
            if not any(where == root or where.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
                continue
            if where in self.complete:
                if doc_id not in self.complete[where]:
                    gone[doc_id] = path
            elif not os.path.exists(path):
                gone[doc_id] = path
        if not gone:
            return
        ids = sorted(gone)
        self.report.removed += len(ids)
        self.report.changes.extend(Change("remove", doc_id, gone[doc_id]) for doc_id in ids)
        if self.dry_run:
            self.report.chunks_removed += sum(len(self.store.chunk_ids(doc_id)) for doc_id in ids)
            return
        self.report.chunks_removed += self.store.remove(ids)
        self.ledger.forget({os.path.abspath(gone[d]) for d in ids if not os.path.exists(gone[d])})
