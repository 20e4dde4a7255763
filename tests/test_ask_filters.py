"""--source/--since/--until on ask and chat, over the invented ferry articles (three outlets, May 2019)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from assistant.answer import answer
from assistant.cli import app
from assistant.llm import make_chat_model
from assistant.types import Filters

runner = CliRunner()

QUESTION = "Why was the Kestrel Line ferry halted?"
COURIER, RADIO, GAZETTE = "The Wrenmouth Courier", "Halvard Coast Radio", "Brisk Valley Gazette"


def ask(home: Path, question: str, *options: str) -> dict[str, Any]:
    result = runner.invoke(app, ["ask", question, "--model", "fake", "--json", "--index-dir", str(home), *options])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_ask_source_cites_only_that_outlet(ferry_home: Path) -> None:
    assert {c["source"] for c in ask(ferry_home, QUESTION)["citations"]} == {COURIER}  # the best match, unfiltered
    data = ask(ferry_home, QUESTION, "--source", GAZETTE)
    assert not data["refused"] and data["citations"]
    assert {c["source"] for c in data["citations"]} == {GAZETTE}
    two = ask(ferry_home, QUESTION, "--source", GAZETTE, "--source", RADIO, "-k", "10")
    assert two["citations"] and {c["source"] for c in two["citations"]} <= {GAZETTE, RADIO}


def test_ask_since_until_exclude_articles_outside_the_range(ferry_home: Path) -> None:
    data = ask(ferry_home, QUESTION, "--since", "2019-05-09", "--until", "2019-05-18")
    assert data["citations"] and all("2019-05-09" <= c["published_at"][:10] <= "2019-05-18" for c in data["citations"])
    late = ask(ferry_home, QUESTION, "--since", "2019-05-20")
    assert {c["doc_id"] for c in late["citations"]} == {"gazette-2019-05-24-kestrel-refunds"}
    bad = runner.invoke(app, ["ask", QUESTION, "--until", "2019-02-30", "--index-dir", str(ferry_home)])
    assert bad.exit_code == 2 and "not a date" in bad.stderr


def test_every_passage_shown_respects_the_filters(ferry_home: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    from assistant.retrieval import Retriever
    from assistant.settings import load_settings
    from index.store import Store

    settings = load_settings(home=ferry_home)
    retriever = Retriever(Store(settings, embeddings), settings)
    fake = make_chat_model("fake", settings)
    try:
        everything = answer(QUESTION, settings=settings, llm=fake, retriever=retriever)
        assert len({p.source for p in everything.passages}) == 3
        result = answer(QUESTION, settings=settings, llm=fake, retriever=retriever, filters=Filters(sources=(RADIO,)))
        assert result.passages and {p.source for p in result.passages} == {RADIO}
        may = Filters(since=20190501, until=20190512)
        result = answer(QUESTION, settings=settings, llm=fake, retriever=retriever, filters=may)
        assert result.passages and all("2019-05-01" <= p.published_at[:10] <= "2019-05-12" for p in result.passages)
    finally:
        retriever.store.close()


def test_quote_first_answers_keep_to_the_filters(ferry_home: Path) -> None:
    both = ask(ferry_home, "What did Calloway say?")
    assert {c["source"] for c in both["citations"]} == {COURIER, RADIO}
    radio = ask(ferry_home, "What did Calloway say?", "--source", RADIO)
    assert "sea trials" in radio["answer"] and "cannot trust" not in radio["answer"]
    assert {c["source"] for c in radio["citations"]} == {RADIO}
    early = ask(ferry_home, "What did Calloway say?", "--until", "2019-05-05")
    assert "cannot trust" in early["answer"] and "sea trials" not in early["answer"]


def test_chat_keeps_the_whole_session_to_the_filters(ferry_home: Path) -> None:
    script = f"{QUESTION}\n/sources\nWhat happened to the refunds?\n/sources\n/quit\n"
    args = ["chat", "--model", "fake", "--source", GAZETTE, "--index-dir", str(ferry_home)]
    result = runner.invoke(app, args, input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(GAZETTE) >= 2
    assert COURIER not in result.stdout and RADIO not in result.stdout
