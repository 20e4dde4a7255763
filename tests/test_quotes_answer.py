"""Quote-first answers: recognised questions, answers built from the statements, fallback, chat follow-ups."""

from __future__ import annotations

import re

import pytest

from assistant.answer import answer
from assistant.chat import Chat
from assistant.llm import RecordingChatModel, quote_first_passage
from assistant.quoting import QuoteQuestion, parse_quote_question
from index.statements import StoredStatement, find


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Miller say?", QuoteQuestion("Miller")),
        ("what has Matthew Miller said about the ceasefire?", QuoteQuestion("Matthew Miller", "the ceasefire")),
        ("How did the Foreign Office respond to the demarche?", QuoteQuestion("the Foreign Office", "the demarche")),
        ("How did Obi react?", QuoteQuestion("Obi")),
        ("What did Okafor tell reporters about the crew?", QuoteQuestion("Okafor", "the crew")),
        ("What did Okafor tell reporters?", QuoteQuestion("Okafor")),
        ("What did Lena Hart have to say about jobs?", QuoteQuestion("Lena Hart", "jobs")),
        ("And what else has Sandoval been saying on flooding?", QuoteQuestion("Sandoval", "flooding")),
        ("Tell me what Villanueva said about loans", QuoteQuestion("Villanueva", "loans")),
        ("What was Okafor's response to the boarding?", QuoteQuestion("Okafor", "the boarding")),
        ("Did Mikula say anything about rates?", QuoteQuestion("Mikula", "rates")),
        ("What did Miller say on Monday?", QuoteQuestion("Miller")),  # a day is not a topic
        # A follow-up chat could not rewrite: the pronoun is the earlier question's speaker.
        ("and what did she say about wages? (What did Lena Hart say?)", QuoteQuestion("Lena Hart", "wages")),
        ("What else did he say? (What did Okafor say about the sailors?)", QuoteQuestion("Okafor")),
        ("what about the subsidy? (What did Lena Hart say?)", QuoteQuestion("Lena Hart", "the subsidy")),
        ("What did he say?", QuoteQuestion("he")),
        ("Which outlets reported the ceasefire, and when?", None),
        ("How many schools closed in the heatwave?", None),
        ("Who said the ceasefire was holding?", None),
    ],
)
def test_quote_questions_are_recognised(question: str, expected: QuoteQuestion | None) -> None:
    assert parse_quote_question(question) == expected


def norm(text: str) -> str:
    return " ".join(text.replace("“", '"').replace("”", '"').split())


def cited_lines(result, said: list[StoredStatement]) -> dict[int, list[int]]:  # type: ignore[no-untyped-def]
    """For each statement, the markers on the one answer line that reports it verbatim."""
    lines = result.text.splitlines()
    out = {}
    for i, s in enumerate(said):
        shown = f"“{s.text.rstrip(',')}”" if s.kind == "direct" else s.text
        [line] = [ln for ln in lines if shown in ln]
        out[i] = [int(n) for n in re.findall(r"\[(\d+)\]", line)]
    return out


def test_answer_reports_every_statement_verbatim_and_cites_its_passage(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["the model must not be asked"]))
    result = answer("What did Okafor say?", settings=settings, llm=fake, retriever=sample_retriever)
    assert fake.received == []
    assert not result.refused
    said = find(sample_retriever.store.db, "Okafor")
    assert len(said) == 7
    passages = {c.n: c.passage for c in result.citations}
    assert [c.n for c in result.citations] == list(range(1, len(result.passages) + 1))
    for i, marks in cited_lines(result, said).items():
        s = said[i]
        assert marks and all(n in passages for n in marks)
        # The cited passage holds the quoted words, at the statement's own offsets in the article.
        assert any(
            s.text in passages[n].text and passages[n].start <= s.start < s.end <= passages[n].end for n in marks
        )
    for quoted in re.findall(r"“([^”]+)”", result.text):
        assert any(norm(quoted) in norm(p.text) for p in result.passages), quoted
    assert "Daniel Okafor, Foreign Ministry spokesperson," in result.text
    data = result.to_dict()
    assert set(data) == {"question", "answer", "refused", "citations", "sentences"}
    assert all(
        set(c) == {"n", "doc_id", "title", "source", "published_at", "path", "start", "end", "text"}
        for c in data["citations"]
    )


def test_about_topic_keeps_the_statements_on_it(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["unused"]))
    result = answer(
        "What did Okafor say about the ambassador?", settings=settings, llm=fake, retriever=sample_retriever
    )
    assert fake.received == []
    assert "summoned Kestland's ambassador" in result.text
    assert "9,400-tonne freighter" not in result.text  # said by Okafor, but about the ship's route
    assert len(result.text.splitlines()) < 1 + 7


def test_falls_back_to_retrieval_when_nobody_by_that_name_spoke(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    for question in (
        "What did Okafor say about football?",  # he said nothing on it
        "What did Foreign Minister Ruth Abernathy say about the detained sailors?",  # her spokesperson spoke
        "What did the mayor say about water?",  # a role alone names nobody
        "What did he say?",  # no earlier question to resolve "he"
    ):
        fake = RecordingChatModel(responder=quote_first_passage)
        result = answer(question, settings=settings, llm=fake, retriever=sample_retriever)
        assert len(fake.received) <= 1, question  # the model answered (or the question was refused first)
        if not result.refused:
            assert len(fake.received) == 1 and "[1]" in fake.prompts[0], question


def test_chat_follow_up_about_a_topic_stays_with_the_speaker(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    # The fake's rewrite leaves "she" in place, as a small model sometimes does: chat then sends the earlier
    # question along, and the quote-first path takes the speaker from it.
    fake = RecordingChatModel(responder=quote_first_passage)
    chat = Chat(settings, fake, sample_retriever)
    first = chat.ask("What did Lena Hart say?")
    assert fake.received == [] and "Lena Hart" in first.text
    second = chat.ask("and what did she say about jobs?")
    assert len(fake.received) == 1 and "Follow-up question" in fake.prompts[0]  # condense ran first
    assert second.standalone_question and "Lena Hart" in second.standalone_question
    assert not second.refused and "Lena Hart" in second.text
    hart = find(sample_retriever.store.db, "Lena Hart")
    jobs = [s for s in hart if "job" in s.text]
    assert jobs and all(s.text in second.text for s in jobs)
    assert all(any(s.text in c.passage.text for c in second.citations) for s in jobs)


def test_chat_follow_up_rewritten_by_the_model(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["What did Marcus Obi say about pay?"]))
    chat = Chat(settings, fake, sample_retriever)
    chat.ask("What did Obi say?")
    second = chat.ask("And what did he say about pay?")
    assert second.standalone_question == "What did Marcus Obi say about pay?"
    assert "Marcus Obi" in second.text and second.citations
    assert len(second.text.splitlines()) < len(chat.history[0][1].splitlines())  # only the statements on pay
