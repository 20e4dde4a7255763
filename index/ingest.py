"""`ingest(paths, settings)`: load, clean, chunk, embed and store articles; report what changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.chunking import Chunk, chunk_text, header_for
from index.loaders import Article, LoadFailure, iter_files, load_file

if TYPE_CHECKING:
    from assistant.settings import Settings
    from index.embedding import LocalEmbeddings
    from index.store import Store

# Articles are written in batches of about this many new chunks: large enough to keep the encoder busy,
# small enough that an interrupted ingest loses little work.
_BATCH_CHUNKS = 256


@dataclass
class IngestReport:
    """What an ingest did. `added`, `updated` and `unchanged` count articles."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[LoadFailure] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report in the shape `ingest --json` prints."""
        data = asdict(self)
        data["failed"] = [{"path": f.path, "error": f.error} for f in self.failed]
        return data


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    store: Store | None = None,
    show_progress: bool = False,
) -> IngestReport:
    """Index the articles under `paths`; unchanged articles are skipped, changed ones replaced."""
    from index.store import Store

    if store is None:
        from index.embedding import LocalEmbeddings

        store = Store(settings, LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size))
    report = IngestReport()
    with store.writing():
        known = store.content_hashes()
        seen: set[str] = set()
        batch: list[tuple[Article, list[Chunk]]] = []
        pending_chunks = 0
        for article in _articles(paths, settings, report, show_progress=show_progress):
            if article.doc_id in seen:
                report.failed.append(LoadFailure(article.path, f"duplicate article id '{article.doc_id}'"))
                continue
            seen.add(article.doc_id)
            if known.get(article.doc_id) == article.content_hash:
                report.unchanged += 1
                continue
            if article.doc_id in known:
                report.updated += 1
            else:
                report.added += 1
            chunks = chunk_article(article, settings, store.embeddings)
            batch.append((article, chunks))
            pending_chunks += len(chunks)
            if pending_chunks >= _BATCH_CHUNKS:
                _flush(store, batch, report)
                batch, pending_chunks = [], 0
        _flush(store, batch, report)
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


def _flush(store: Store, batch: list[tuple[Article, list[Chunk]]], report: IngestReport) -> None:
    added, removed = store.write(batch)
    report.chunks_added += added
    report.chunks_removed += removed


def _articles(
    paths: Sequence[Path], settings: Settings, report: IngestReport, *, show_progress: bool
) -> Iterable[Article]:
    max_bytes = int(settings.index.max_file_mb * 1_000_000)
    files = list(iter_files(paths))
    progress = _progress(len(files)) if show_progress else None
    try:
        for item in files:
            if isinstance(item, LoadFailure):
                report.failed.append(item)
            else:
                for loaded in load_file(item, max_bytes=max_bytes):
                    if isinstance(loaded, LoadFailure):
                        report.failed.append(loaded)
                    else:
                        yield loaded
            if progress is not None:
                progress.advance(0)
    finally:
        if progress is not None:
            progress.stop()


def _progress(total: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("Indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    progress.add_task("files", total=total)
    progress.start()
    return progress
