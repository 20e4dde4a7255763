"""The `assistant` command: parses options, builds Settings, calls the library, renders, maps errors to exit codes.

Heavy libraries (torch, chromadb, llama-cpp) are imported inside commands so that `--help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.retrieval import Retriever
    from assistant.settings import Settings
    from assistant.types import Answer

app = typer.Typer(
    name="assistant",
    help="Ask questions of a news archive and get answers that cite the exact passages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

IndexDir = Annotated[
    Path | None,
    typer.Option("--index-dir", help="Data dir of the index [env: ASSISTANT_HOME; default: per-user data dir]."),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config file [env: ASSISTANT_CONFIG; default: per-user config.toml]."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Chat model: local, smollm2, gguf:PATH [env: ASSISTANT_MODEL]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
TopK = Annotated[int | None, typer.Option("-k", help="Passages to retrieve [env: ASSISTANT_RETRIEVAL__K].")]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn library errors into one `Error: ...` line on stderr and the error's exit code."""
    from assistant.errors import AssistantError

    try:
        yield
    except AssistantError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        raise typer.Exit(130) from None


def _settings(config: Path | None, **flags: Any) -> Settings:
    from assistant.settings import load_settings

    return load_settings(config, **flags)


def _retrieval_overrides(settings: Settings, k: int | None) -> Settings:
    if k is not None:
        settings.retrieval.k = k
    return settings


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).", show_default=False)],
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Index articles: .txt, .md, .html, .json/.jsonl (one article per record) and .pdf.

    Unchanged articles are skipped; a changed file replaces its old passages. Exits 1 if any file failed
    (the others are still indexed).

    Example: assistant ingest examples/
    """
    with _errors():
        from index.ingest import ingest as run_ingest

        settings = _settings(config, home=index_dir)
        report = run_ingest(paths, settings, show_progress=not quiet and not as_json and sys.stderr.isatty())
        for failure in report.failed:
            print(f"Error: {failure.path}: {failure.error}", file=sys.stderr)
        if as_json:
            print(json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            articles = report.added + report.updated + report.unchanged
            print(
                f"{articles} article{'s' if articles != 1 else ''}: {report.added} added, {report.updated} updated, "
                f"{report.unchanged} unchanged; {report.chunks_added} passages added, "
                f"{report.chunks_removed} removed; {len(report.failed)} failed."
            )
        if report.failed:
            raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.", show_default=False)],
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    model: ModelOpt = None,
    k: TopK = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer one question from the indexed articles, citing passages as [n], then list the sources.

    Example: assistant ask "What did Okafor say about the sailors?"
    """
    with _errors():
        from assistant.answer import answer
        from assistant.llm import make_chat_model

        settings = _retrieval_overrides(_settings(config, home=index_dir, model=model), k)
        retriever = _open_index(settings)
        llm = make_chat_model(settings.model, settings)
        stream = None if as_json else _streamer()
        result = answer(question, settings=settings, llm=llm, retriever=retriever, on_token=stream)
        if as_json:
            print(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            _render_answer(result, streamed=stream is not None and getattr(stream, "used", False))


def _open_index(settings: Settings) -> Retriever:
    from assistant.errors import IndexStoreError
    from assistant.retrieval import open_retriever

    retriever = open_retriever(settings)
    if retriever.store.count_chunks() == 0:
        raise IndexStoreError(f"the index under {settings.home} is empty: run `assistant ingest PATH` first")
    return retriever


class _Streamer:
    """Prints tokens as they arrive when stdout is a terminal; the checked answer is printed after."""

    def __init__(self) -> None:
        self.used = False

    def __call__(self, token: str) -> None:
        self.used = True
        sys.stdout.write(token)
        sys.stdout.flush()


def _streamer() -> Callable[[str], None] | None:
    return _Streamer() if sys.stdout.isatty() else None


def _render_answer(result: Answer, *, streamed: bool) -> None:
    console = _console()
    if streamed:
        console.print()
        console.rule("Checked answer", style="dim")
    console.print(result.text)
    if result.refused:
        if result.passages:
            console.print("\nClosest passages:", style="bold")
            for p in result.passages[:3]:
                console.print(f"  - {p.title} ({_meta(p.source, p.published_at)}), score {p.score:.2f}")
        return
    if result.citations:
        console.print("\nSources:", style="bold")
        for c in result.citations:
            p = c.passage
            console.print(f"[{c.n}] {p.title} — {_meta(p.source, p.published_at)}", markup=False)
            console.print(f"    {p.path} [{p.start}:{p.end}]", style="dim", markup=False)
            console.print("    " + p.text.replace("\n", "\n    "), markup=False)


def _meta(source: str, published_at: str) -> str:
    return ", ".join(x for x in (source or "unknown outlet", published_at[:10] or "undated") if x)


@app.command()
def chat(
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    model: ModelOpt = None,
    k: TopK = None,
) -> None:
    """Talk with the archive: follow-up questions keep their context.

    Commands inside the chat: /sources (sources of the last answer), /reset, /help, /quit (or Ctrl-D).

    Example: assistant chat
    """
    with _errors():
        from assistant.chat import Chat
        from assistant.llm import make_chat_model

        settings = _retrieval_overrides(_settings(config, home=index_dir, model=model), k)
        session = Chat(settings, make_chat_model(settings.model, settings), _open_index(settings))
        print("Ask about the indexed articles. /help for commands, /quit or Ctrl-D to leave.")
        while True:
            try:
                line = input("> ").strip()
            except EOFError:
                print()
                return
            if not line:
                continue
            if line in {"/quit", "/exit", "/q"}:
                return
            if line == "/help":
                print("/sources  sources of the last answer\n/reset    forget the conversation\n/quit     leave")
            elif line == "/reset":
                session.reset()
                print("Conversation forgotten.")
            elif line == "/sources":
                if session.last is None or not session.last.citations:
                    print("No sources yet.")
                else:
                    _render_sources(session.last)
            elif line.startswith("/"):
                print(f"Unknown command {line}; /help lists them.")
            else:
                stream = _streamer()
                result = session.ask(line, on_token=stream)
                _render_answer_text(result, streamed=stream is not None and getattr(stream, "used", False))


def _render_answer_text(result: Answer, *, streamed: bool) -> None:
    console = _console()
    if streamed:
        console.print()
        console.rule("Checked answer", style="dim")
    console.print(result.text, markup=False)
    if result.citations:
        console.print(
            "Sources: " + "; ".join(f"[{c.n}] {c.passage.title} ({c.passage.source})" for c in result.citations),
            style="dim",
            markup=False,
        )


def _render_sources(result: Answer) -> None:
    console = _console()
    for c in result.citations:
        p = c.passage
        console.print(f"[{c.n}] {p.title} — {_meta(p.source, p.published_at)}", markup=False)
        console.print("    " + p.text.replace("\n", "\n    "), markup=False)


@app.command()
def sources(
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    as_json: JsonOpt = False,
) -> None:
    """List the indexed articles, newest first.

    Example: assistant sources --json
    """
    with _errors():
        from index.embedding import LocalEmbeddings
        from index.store import Store

        settings = _settings(config, home=index_dir)
        store = Store(settings, LocalEmbeddings(settings.embedder))
        articles = store.articles()
        if as_json:
            print(json.dumps([a.to_dict() for a in articles], ensure_ascii=False))
            return
        if not articles:
            print("No articles indexed yet: run `assistant ingest PATH`.")
            return
        from rich.table import Table

        table = Table("id", "date", "outlet", "title", "passages")
        for a in articles:
            table.add_row(a.doc_id, a.published_at[:10], a.source, a.title, str(a.chunks))
        _console().print(table)


@app.command()
def remove(
    docs: Annotated[list[str], typer.Argument(help="Article ids (see `assistant sources`) or file paths.")],
    index_dir: IndexDir = None,
    config: ConfigFile = None,
) -> None:
    """Remove articles and their passages from the index.

    Example: assistant remove harbor-water-rationing-1a2b3c4d
    """
    with _errors():
        from assistant.errors import InputError
        from index.embedding import LocalEmbeddings
        from index.store import Store

        settings = _settings(config, home=index_dir)
        store = Store(settings, LocalEmbeddings(settings.embedder))
        with store.writing():
            found = {key: store.find(key) for key in docs}
            missing = [key for key, ids in found.items() if not ids]
            if missing:
                raise InputError(f"not in the index: {', '.join(missing)} (see `assistant sources`)")
            ids = sorted({doc_id for ids in found.values() for doc_id in ids})
            removed = store.remove(ids)
        print(f"Removed {len(ids)} article{'s' if len(ids) != 1 else ''} ({removed} passages).")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
