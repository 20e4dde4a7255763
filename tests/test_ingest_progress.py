"""Progress: counts of files and passages reach the reporter; a bar on a terminal, nothing otherwise."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from assistant.cli import app
from index.ingest import ingest
from index.progress import IngestProgress, RichProgress


class Recorder(IngestProgress):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def start(self, sources: int) -> None:
        self.calls.append(("start", sources))

    def source_done(self, n: int = 1) -> None:
        self.calls.append(("source", n))

    def passages_queued(self, n: int) -> None:
        self.calls.append(("queued", n))

    def passages_embedded(self, n: int) -> None:
        self.calls.append(("embedded", n))

    def stop(self) -> None:
        self.calls.append(("stop", 0))

    def total(self, kind: str) -> int:
        return sum(n for k, n in self.calls if k == kind)


def test_counts_reach_the_reporter(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    settings.index.write_batch_passages = 8  # several batches
    recorder = Recorder()
    report = ingest([articles_dir, articles_dir / "missing.txt"], settings, store=store, progress=recorder)
    assert recorder.calls[0] == ("start", 10) and recorder.calls[-1] == ("stop", 0)
    assert recorder.total("source") == 10
    assert recorder.total("queued") == recorder.total("embedded") == report.chunks_added > 8
    assert len([k for k, _ in recorder.calls if k == "embedded"]) > 1  # advanced batch by batch

    again = Recorder()
    ingest([articles_dir], settings, store=store, progress=again)
    assert again.total("queued") == again.total("embedded") == 0


def test_rich_bar_draws_on_a_terminal(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    ingest([articles_dir], settings, store=store, progress=RichProgress(console))
    drawn = out.getvalue()
    assert "Reading" in drawn and "Embedding" in drawn and "files" in drawn and "passages" in drawn


def test_no_bar_when_stderr_is_not_a_terminal(articles_dir: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(articles_dir)])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_embedding_with_progress_keeps_the_order_and_counts_every_passage(settings) -> None:  # type: ignore[no-untyped-def]
    from index.embedding import LocalEmbeddings

    embeddings = LocalEmbeddings(settings.embedder, batch_size=2)  # progress every 4 batches: 8 passages
    texts = [f"Passage {n}: " + "the council voted on the harbour budget " * (n % 5 + 1) for n in range(19)]
    seen: list[int] = []
    with_progress = embeddings.embed_documents(texts, on_progress=seen.append)
    assert seen == [8, 8, 3]
    plain = embeddings.embed_documents(texts)
    assert len(with_progress) == len(plain) == 19
    for a, b in zip(with_progress, plain, strict=True):
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.999  # the same passage's vector, in its place
