"""Progress of an ingest: files read, passages chunked, passages embedded. A rich bar on a terminal, else nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class IngestProgress:
    """Receives counts as an ingest goes; this base class ignores them (no terminal, `--quiet`, tests)."""

    def start(self, sources: int) -> None:
        """Called once with the number of files, pages and feeds to read."""

    def source_done(self, n: int = 1) -> None:
        """Called when a file, page or feed has been read (and its articles queued or skipped)."""

    def passages_queued(self, n: int) -> None:
        """Called with the number of new passages an article was cut into, to be embedded."""

    def passages_embedded(self, n: int) -> None:
        """Called as passages are embedded and written."""

    def stop(self) -> None:
        """Called once at the end, also after an error."""


class RichProgress(IngestProgress):
    """Two bars on stderr: sources read, and passages embedded out of those queued so far, each with an ETA."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._files: Any = None
        self._passages: Any = None
        self._queued = 0

    def start(self, sources: int) -> None:
        """Show the bars."""
        self._files = self._progress.add_task("Reading", total=sources, unit="files")
        self._passages = self._progress.add_task("Embedding", total=0, unit="passages")
        self._progress.start()

    def source_done(self, n: int = 1) -> None:
        """Advance the files bar."""
        self._progress.advance(self._files, n)

    def passages_queued(self, n: int) -> None:
        """Grow the passages bar's total."""
        self._queued += n
        self._progress.update(self._passages, total=self._queued)

    def passages_embedded(self, n: int) -> None:
        """Advance the passages bar."""
        self._progress.advance(self._passages, n)

    def stop(self) -> None:
        """Remove the bars."""
        self._progress.stop()
