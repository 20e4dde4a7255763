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

    from assistant.chat import Chat
    from assistant.evaluation import AnswerRecord
    from assistant.retrieval import Retriever
    from assistant.settings import Settings
    from assistant.types import Answer, Filters
    from index.doctor import Health
    from index.ingest import IngestReport

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
    typer.Option(
        "--model",
        "-m",
        help="Chat model: local, smollm2, gguf:PATH, openai:NAME, anthropic:NAME, ollama:NAME [env: ASSISTANT_MODEL].",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
TopK = Annotated[int | None, typer.Option("-k", help="Passages to retrieve [env: ASSISTANT_RETRIEVAL__K].")]
EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="Embedder: minilm or a sentence-transformers folder [env: ASSISTANT_EMBEDDER; default: minilm].",
    ),
]
ChromaUrl = Annotated[
    str | None,
    typer.Option(
        "--chroma-url",
        help="Chroma server for the vectors, http://HOST:PORT [env: ASSISTANT_CHROMA_URL; default: embedded].",
    ),
]
SourceOpt = Annotated[
    list[str] | None, typer.Option("--source", help="Only articles from this outlet (repeatable; exact name).")
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only articles published on or after YYYY-MM-DD.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Only articles published on or before YYYY-MM-DD.")]


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


def _filters(source: list[str] | None, since: str | None, until: str | None) -> Filters:
    from assistant.types import Filters

    return Filters(tuple(source or ()), _day(since, "--since") or 0, _day(until, "--until") or 0)


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders (searched recursively) or web page URLs.", show_default=False),
    ] = None,
    feed: Annotated[
        list[str] | None, typer.Option("--feed", help="RSS/Atom feed URL: index its new items (repeatable).")
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove indexed articles whose files under PATHS are gone.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    embedder: EmbedderOpt = None,
    chroma_url: ChromaUrl = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Index articles: .txt, .md, .html, .json/.jsonl (one article per record), .pdf, web pages and feeds.

    Unchanged files are skipped (size, mtime and hash); a changed file replaces its old passages. Each file that
    cannot be read is named with the reason on stderr and the exit code is 1 (the others are still indexed).

    Example: assistant ingest examples/ https://example.org/news/story --feed https://example.org/rss --prune
    """
    with _errors():
        from assistant.errors import InputError
        from index.fetching import is_url
        from index.ingest import ingest as run_ingest

        if not paths and not feed:
            raise InputError("give at least one file, folder or URL, or --feed URL")
        settings = _settings(config, home=index_dir, embedder=embedder, chroma_url=chroma_url)
        report = run_ingest(
            [Path(p) for p in paths or [] if not is_url(p)],
            settings,
            urls=[p for p in paths or [] if is_url(p)],
            feeds=feed or [],
            prune=prune,
            dry_run=dry_run,
            show_progress=not quiet and not as_json and sys.stderr.isatty(),
        )
        for failure in report.failed:
            print(f"Error: {failure.path}: {failure.error}", file=sys.stderr)
        if as_json:
            print(json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            _render_ingest(report)
        if report.failed:
            raise typer.Exit(1)


def _render_ingest(report: IngestReport) -> None:
    if report.dry_run:
        for change in report.changes:
            print(f"would {change.action}: {change.path} ({change.doc_id})")
    articles = report.added + report.updated + report.unchanged
    would = "Dry run, nothing written: would have " if report.dry_run else ""
    print(
        f"{would}{articles} article{'s' if articles != 1 else ''}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged{f', {report.removed} removed' if report.removed else ''}; "
        f"{report.chunks_added} passages added, {report.chunks_removed} removed; {len(report.failed)} failed."
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.", show_default=False)],
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    model: ModelOpt = None,
    embedder: EmbedderOpt = None,
    chroma_url: ChromaUrl = None,
    k: TopK = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer one question from the indexed articles, citing passages as [n], then list the sources.

    --source, --since and --until answer from those outlets and dates only (quote-first answers too).

    Example: assistant ask "What did Okafor say about the sailors?" --source "The Lisport Observer"
    """
    with _errors():
        from assistant.answer import answer, prompt_start
        from assistant.llm import lazy_chat_model
        from assistant.quoting import parse_quote_question

        flags = {"home": index_dir, "model": model, "embedder": embedder, "chroma_url": chroma_url}
        settings = _retrieval_overrides(_settings(config, **flags), k)
        filters = _filters(source, since, until)
        retriever = _open_index(settings)
        # A local model loads and reads the prompt's fixed start while retrieval runs (see `ModelLoader`); not for
        # a question that quote-first will likely answer without it (the load would only hold its exit back): that
        # one loads the model only if it needs it after all.
        ahead = not parse_quote_question(question)
        llm = lazy_chat_model(settings.model, settings, read_ahead=prompt_start(), background=ahead)
        stream = None if as_json else _streamer()
        try:
            result = answer(question, settings=settings, llm=llm, retriever=retriever, on_token=stream, filters=filters)
        finally:
            llm.close()
        if as_json:
            print(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            _render_answer(result, streamed=stream is not None and getattr(stream, "used", False))


def _open_index(settings: Settings) -> Retriever:
    from assistant.retrieval import open_retriever
    from index.catalogs import ensure_indexed

    retriever = open_retriever(settings, create=False)  # a read never makes an index on disk
    ensure_indexed(retriever.store)  # an empty index, or one built with another embedder: say which
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
    _print_unbacked(result)
    if result.refused:
        if result.reason:
            console.print(f"({result.reason})", style="dim", markup=False)
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
    embedder: EmbedderOpt = None,
    chroma_url: ChromaUrl = None,
    k: TopK = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Talk with the archive: follow-up questions keep their context.

    Commands inside the chat: /sources (sources of the last answer), /reset, /help, /quit (or Ctrl-D).
    --source, --since and --until keep the whole conversation to those outlets and dates.

    Example: assistant chat --since 2024-03-01
    """
    with _errors():
        from assistant.chat import Chat
        from assistant.llm import is_llama_cpp, make_chat_model

        flags = {"home": index_dir, "model": model, "embedder": embedder, "chroma_url": chroma_url}
        settings = _retrieval_overrides(_settings(config, **flags), k)
        filters = _filters(source, since, until)
        session = Chat(settings, make_chat_model(settings.model, settings), _open_index(settings), filters=filters)
        session.warm_up()
        read_line = _line_reader(session if settings.llm.typeahead and is_llama_cpp(session.llm) else None)
        print("Ask about the indexed articles. /help for commands, /quit or Ctrl-D to leave.")
        try:
            while True:
                try:
                    line = read_line().strip()
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
        finally:
            if session.typeahead is not None:
                session.typeahead.close()  # before the model is freed at exit


def _line_reader(session: Chat | None) -> Callable[[], str]:
    """Chat's input: on a terminal, a line editor that passes every keystroke to the typeahead; else plain lines."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return lambda: input("> ")
    from prompt_toolkit import PromptSession

    prompt: PromptSession[str] = PromptSession()
    if session is not None:
        typeahead = session.start_typeahead()
        prompt.default_buffer.on_text_changed += lambda buffer: typeahead.draft(buffer.text)
    return lambda: prompt.prompt("> ")


def _render_answer_text(result: Answer, *, streamed: bool) -> None:
    console = _console()
    if streamed:
        console.print()
        console.rule("Checked answer", style="dim")
    console.print(result.text, markup=False)
    _print_unbacked(result)
    if result.refused and result.reason:
        console.print(f"({result.reason})", style="dim", markup=False)
    if result.citations:
        console.print(
            "Sources: " + "; ".join(f"[{c.n}] {c.passage.title} ({c.passage.source})" for c in result.citations),
            style="dim",
            markup=False,
        )


def _print_unbacked(result: Answer) -> None:
    """Name the kept sentences whose cited passages do not back them (`"supported": false` in --json)."""
    sentences = getattr(result.checked, "sentences", None) or []
    weak = [s.text for s in sentences if not s.supported]
    if weak and not result.refused:
        shown = "; ".join(t if len(t) <= 80 else t[:77] + "..." for t in weak)
        _console().print(f"(not backed by the passages it cites: {shown})", style="dim", markup=False)


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
    embedder: EmbedderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the indexed articles, newest first.

    Example: assistant sources --json
    """
    with _errors():
        from index.embedding import LocalEmbeddings
        from index.store import Store

        settings = _settings(config, home=index_dir, embedder=embedder)
        store = Store(settings, LocalEmbeddings(settings.embedder), create=False)
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
    embedder: EmbedderOpt = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Remove articles and their passages from the index.

    Example: assistant remove harbor-water-rationing-1a2b3c4d
    """
    with _errors():
        from assistant.errors import InputError
        from index.embedding import LocalEmbeddings
        from index.store import Store

        settings = _settings(config, home=index_dir, embedder=embedder, chroma_url=chroma_url)
        store = Store(settings, LocalEmbeddings(settings.embedder))
        with store.writing():
            found = {key: store.find(key) for key in docs}
            missing = [key for key, ids in found.items() if not ids]
            if missing:
                raise InputError(f"not in the index: {', '.join(missing)} (see `assistant sources`)")
            ids = sorted({doc_id for ids in found.values() for doc_id in ids})
            removed = store.remove(ids)
        print(f"Removed {len(ids)} article{'s' if len(ids) != 1 else ''} ({removed} passages).")


@app.command()
def quotes(
    speaker: Annotated[
        str | None,
        typer.Argument(help="Who: full name, surname alone or a spelling variant (Miller, Matthew Miller)."),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only outlets whose name contains this.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only articles published on/after YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only articles published on/before YYYY-MM-DD.")] = None,
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    embedder: EmbedderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List what a speaker said (quotes and reported speech) with article, outlet and date; no speaker: who spoke.

    Exits 1 when nobody by that name said anything in the chosen articles.

    Example: assistant quotes Miller --since 2023-06-01 --json
    """
    with _errors():
        from assistant.errors import InputError
        from index import statements
        from index.embedding import LocalEmbeddings
        from index.store import Store

        days = {"since": _day(since, "--since"), "until": _day(until, "--until")}
        settings = _settings(config, home=index_dir, embedder=embedder)
        store = Store(settings, LocalEmbeddings(settings.embedder), create=False)
        if speaker is None:
            speakers = statements.speakers(store.db, source=source, **days)
            if as_json:
                print(json.dumps([s.to_dict() for s in speakers], ensure_ascii=False))
            elif not speakers:
                print("No statements indexed yet: run `assistant ingest PATH`.")
            else:
                _render_speakers(speakers)
            return
        said = statements.find(store.db, speaker, source=source, **days)
        if not said:
            where = " in the chosen outlets and dates" if source or since or until else ""
            raise InputError(f"no statements by '{speaker}'{where} (`assistant quotes` lists the speakers)")
        if as_json:
            print(json.dumps([s.to_dict() for s in said], ensure_ascii=False))
        else:
            _render_statements(said)


def _day(value: str | None, option: str) -> int | None:
    """YYYY-MM-DD as the catalog's day number YYYYMMDD."""
    from datetime import date

    if value is None:
        return None
    try:
        return int(date.fromisoformat(value).strftime("%Y%m%d"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2023-06-27", param_hint=option) from None


def _render_speakers(speakers: list[Any]) -> None:
    from rich.table import Table

    table = Table("speaker", "role", "statements", "articles")
    for s in speakers:
        table.add_row(s.speaker, s.role, str(s.statements), str(s.articles))
    _console().print(table)


def _render_statements(said: list[Any]) -> None:
    console = _console()
    heading = None
    for s in said:
        if (s.speaker, s.doc_id) != heading:
            heading = (s.speaker, s.doc_id)
            who = f"{s.speaker}, {s.role}" if s.role else s.speaker
            console.print(f"\n{who} — {s.title} ({_meta(s.source, s.published_at)})", style="bold", markup=False)
        text = f"“{s.text}”" if s.kind == "direct" else s.text
        console.print(f"  {s.kind:<9}{text}  [{s.doc_id} {s.start}:{s.end}]", markup=False)


@app.command()
def doctor(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed, then check again.")] = False,
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    embedder: EmbedderOpt = None,
    chroma_url: ChromaUrl = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that the catalog, the lexical index, the vector store and the quote store agree.

    Without --repair it only reports. Exits 0 when no problem remains, 4 when some do.

    Example: assistant doctor --repair
    """
    with _errors():
        from index.doctor import examine
        from index.embedding import LocalEmbeddings
        from index.store import Store

        settings = _settings(config, home=index_dir, embedder=embedder, chroma_url=chroma_url)
        store = Store(settings, LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size))
        health = examine(store, repair=repair)
        if as_json:
            print(json.dumps(health.to_dict(), ensure_ascii=False))
        else:
            _render_health(health, repair=repair)
        if not health.ok:
            raise typer.Exit(4)


def _render_health(health: Health, *, repair: bool) -> None:
    shown = {name: n for name, n in health.tables.items() if name not in {"chunks", "chunks_fts", "fts_docs"}}
    tables = "".join(f"; {name}: {n} rows" for name, n in shown.items())
    print(f"Index {health.index}")
    print(
        f"{health.articles} articles, {health.passages} passages; lexical index: {health.lexical} rows; "
        f"vector store: {health.vectors} vectors{tables}."
    )
    for f in health.findings:
        print(f"Problem: {f.problem}{' (repaired)' if f.repaired else ''}.")
    left = sum(not f.repaired for f in health.findings)
    if not left:
        print("OK: repaired; the stores agree." if health.findings else "OK: the stores agree.")
    else:
        hint = "." if repair else "; run `assistant doctor --repair`."
        print(f"{left} problem{'s remain' if left != 1 else ' remains'}{hint}")


@app.command("config")
def show_config(
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    model: ModelOpt = None,
    embedder: EmbedderOpt = None,
    chroma_url: ChromaUrl = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the effective settings and where each came from: flag, env (which variable), file, or default.

    Keys and tokens are shown as ****. The same flags as the other commands can be given, to see their effect.

    Example: ASSISTANT_MODEL=openai:gpt-4o-mini assistant config --json
    """
    with _errors():
        from assistant.settings import explain_settings

        flags = {"home": index_dir, "model": model, "embedder": embedder, "chroma_url": chroma_url}
        report = explain_settings(config, **flags)
        if as_json:
            print(json.dumps(report.to_dict(), ensure_ascii=False))
            return
        from rich.table import Table

        print(f"Config file: {report.config_file or 'none'}")
        table = Table("setting", "value", "source")
        for item in report.items:
            source = f"{item.source} ({item.origin})" if item.source == "env" else item.source
            table.add_row(item.name, "" if item.value is None else str(item.value), source)
        _console().print(table)


eval_app = typer.Typer(help="Measure retrieval and answers on benchmark questions (MultiHop-RAG's JSONL shape).")
app.add_typer(eval_app, name="eval")

ModeOpt = Annotated[str, typer.Option("--mode", help="Retrieval: hybrid, dense or lexical.")]


def _mode(retriever: Retriever, mode: str) -> Retriever:
    if mode not in {"hybrid", "dense", "lexical"}:
        raise typer.BadParameter(f"{mode!r}: use hybrid, dense or lexical", param_hint="--mode")
    retriever.mode = mode
    return retriever


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="The question or keywords.", show_default=False)] = None,
    queries: Annotated[
        Path | None, typer.Option("--queries", help="JSONL with `id` and `question`: one JSON line out per question.")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Passages to show.")] = 10,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    mode: ModeOpt = "hybrid",
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages retrieval finds for a question, without calling a model (the same retrieval as ask).

    Example: assistant search "Sarn River ceasefire" -k 5 --json
    """
    with _errors():
        from assistant.errors import InputError

        if (query is None) == (queries is None):
            raise InputError("give either a QUERY or --queries FILE")
        settings = _settings(config, home=index_dir)
        retriever = _mode(_open_index(settings), mode)
        filters = _filters(source, since, until)
        if queries is not None:
            from assistant.evaluation import load_queries

            for q in load_queries(queries):
                passages = retriever.search(q.question, k, filters)
                print(json.dumps({"id": q.id, "passages": _ranked_dicts(passages)}, ensure_ascii=False))
            return
        passages = retriever.search(query or "", k, filters)
        if as_json:
            print(json.dumps(_ranked_dicts(passages), ensure_ascii=False))
            return
        console = _console()
        for rank, p in enumerate(passages, start=1):
            console.print(f"{rank}. {p.title} — {_meta(p.source, p.published_at)}  (score {p.score:.2f})", markup=False)
            console.print(f"   {p.doc_id} [{p.start}:{p.end}]", style="dim", markup=False)
            console.print("   " + p.text.replace("\n", "\n   "), markup=False)


def _ranked_dicts(passages: list[Any]) -> list[dict[str, Any]]:
    keys = ("doc_id", "title", "source", "published_at", "start", "end", "text", "score")
    return [{"rank": rank, **{key: getattr(p, key) for key in keys}} for rank, p in enumerate(passages, start=1)]


@eval_app.command("retrieval")
def eval_retrieval(
    queries: Annotated[Path, typer.Option("--queries", help="Questions with gold evidence (JSONL).")],
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N questions.")] = None,
    mode: ModeOpt = "hybrid",
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    as_json: JsonOpt = False,
) -> None:
    """Score retrieval over the current index: Hits@4/10, MRR@10, fact-recall@10, all-evidence@10 (top 10).

    Null queries are excluded. --model is accepted for symmetry with `eval answers`; retrieval uses no model.

    Example: assistant eval retrieval --queries ../shared/eval/multihop/queries.dev.jsonl --limit 200
    """
    with _errors():
        from assistant.evaluation import evaluate_retrieval, load_queries

        settings = _settings(config, home=index_dir, model=model)
        retriever = _mode(_open_index(settings), mode)
        filters = _filters(source, since, until)
        questions = [q for q in load_queries(queries, limit=limit) if not q.is_null]
        progress = _eval_progress(len(questions)) if not as_json and sys.stderr.isatty() else None
        try:
            report = evaluate_retrieval(
                questions,
                lambda question: retriever.search(question, 10, filters),
                retriever.store.embeddings.count_tokens,
                on_progress=(lambda: progress.advance(0)) if progress else None,
            )
        finally:
            if progress:
                progress.stop()
        data = report.to_dict()
        if as_json:
            print(json.dumps(data))
            return
        from rich.table import Table

        table = Table("questions", "n", "hits@4", "hits@10", "mrr@10", "fact_recall@10", "all_evidence@10")
        rows = [("all", data), *data["by_type"].items()]
        for name, row in rows:
            table.add_row(
                name,
                *(str(row[key]) for key in ("n", "hits@4", "hits@10", "mrr@10", "fact_recall@10", "all_evidence@10")),
            )
        _console().print(table)
        print(f"mean passage length: {data['mean_passage_tokens']} word-pieces")


@eval_app.command("answers")
def eval_answers(
    queries: Annotated[Path, typer.Option("--queries", help="Questions with gold answers and evidence (JSONL).")],
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N questions of the file.")] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", help="N null and N answerable questions drawn at random (after --limit).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of --sample.")] = 0,
    records: Annotated[
        Path | None,
        typer.Option("--records", help="Write one JSON line per question (answer, citations, scores) as it is scored."),
    ] = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    k: TopK = None,
    index_dir: IndexDir = None,
    config: ConfigFile = None,
    as_json: JsonOpt = False,
) -> None:
    """Score answers from the full answer chain (the same as ask): accuracy, refusals, citations, quotations.

    Accuracy is strict (gold contained in the answer; yes/no golds against the answer's verdict) beside MultiHop-RAG's
    lenient one (one word in common). Also: refusal rate on null questions, false refusals on answerable ones,
    citation validity, answers citing a gold-evidence article, and quotations not verbatim in a cited passage.

    Example: assistant eval answers --queries ../shared/eval/multihop/queries.dev.jsonl --sample 150 --records a.jsonl
    """
    with _errors():
        from assistant.answer import answer, prompt_start
        from assistant.errors import InputError
        from assistant.evaluation import evaluate_answers, load_queries, sample_queries
        from assistant.llm import lazy_chat_model

        settings = _retrieval_overrides(_settings(config, home=index_dir, model=model), k)
        filters = _filters(source, since, until)
        questions = load_queries(queries, limit=limit)
        if sample is not None:
            questions = sample_queries(questions, sample, seed)
        retriever = _open_index(settings)
        # Loaded once, on the first question that needs it, with the prompt's fixed start (saved state, if any).
        llm = lazy_chat_model(settings.model, settings, read_ahead=prompt_start(), background=False)
        try:
            out = records.open("w", encoding="utf-8") if records is not None else None
        except OSError as exc:
            raise InputError(f"{records}: cannot write records: {exc.strerror or exc}") from exc
        progress = _eval_progress(len(questions)) if sys.stderr.isatty() else None

        def scored(record: AnswerRecord) -> None:
            if out is not None:
                out.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
                out.flush()
            if progress is not None:
                progress.advance(0)

        try:
            report, _ = evaluate_answers(
                questions,
                lambda question: answer(question, settings=settings, llm=llm, retriever=retriever, filters=filters),
                on_progress=scored,
            )
        finally:
            if progress is not None:
                progress.stop()
            if out is not None:
                out.close()
        data = report.to_dict()
        if as_json:
            print(json.dumps(data))
            return
        _render_answer_report(data)


def _render_answer_report(data: dict[str, Any]) -> None:
    from rich.table import Column, Table

    metrics = {
        "questions": "n",
        "answerable": "answerable",
        "accuracy (strict)": "accuracy",
        "accuracy (lenient)": "accuracy_lenient",
        "accuracy when answered": "accuracy_answered",
        "null questions refused": "refusal_rate_null",
        "false refusals": "false_refusal_rate",
        "citations valid": "citation_validity",
        "citing a gold article": "citing_gold_article",
        "quotations (3+ words)": "quotes",
        "invented quotations": "invented_quotes",
        "seconds per answer": "seconds_per_answer",
    }
    # One column per question type ("_query" dropped to fit): metrics down the side keep the table narrow.
    columns = {"all": data} | {name.removesuffix("_query"): row for name, row in data["by_type"].items()}
    table = Table("", *(Column(name, justify="right") for name in columns))
    for label, key in metrics.items():
        table.add_row(label, *("–" if row[key] is None else str(row[key]) for row in columns.values()))
    _console().print(table)


def _eval_progress(total: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("Evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    progress.add_task("questions", total=total)
    progress.start()
    return progress


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
