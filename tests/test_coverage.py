"""Questions about outlets or names the index does not hold are refused up front, with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
from assistant.coverage import coverage_gap, names_in, outlet_mentions, unknown_outlets
from assistant.llm import RecordingChatModel

SOURCES = ["The Northern Dispatch", "Continental Wire Service", "Pan-Oceanic News Agency"]


def _never_mentioned(name: str) -> bool:
    return False


def test_outlet_mentions_in_the_usual_phrasings() -> None:
    question = (
        "Does the Harbor Gazette article agree with a report from The Meridian Times, according to Radio Kestrel?"
    )
    names = [name for name, _ in outlet_mentions(question)]
    assert names == ["The Meridian Times", "Harbor Gazette", "Radio Kestrel"]


def test_indexed_outlets_are_known_with_or_without_the_article() -> None:
    question = "Did the Northern Dispatch report differ from the article by Continental Wire Service?"
    assert unknown_outlets(question, SOURCES, _never_mentioned) == []
    question = "Did the Northern Dispatch report differ from the article by the Daily Lantern?"
    assert unknown_outlets(question, SOURCES, _never_mentioned) == ["Daily Lantern"]


def test_according_to_a_person_the_articles_mention_is_not_an_outlet() -> None:
    question = "What did the ministry decide, according to Amara Lindqvist?"
    assert unknown_outlets(question, SOURCES, lambda name: name == "Amara Lindqvist") == []
    assert unknown_outlets(question, SOURCES, _never_mentioned) == ["Amara Lindqvist"]


def test_names_skip_openers_question_words_dates_and_possessives() -> None:
    question = "When did Lindqvist's team reach Sarnbrook? Tell me what Weller said in March."
    assert names_in(question) == ["Lindqvist", "Sarnbrook", "Weller"]


def test_gap_on_the_sample_index(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    store = sample_retriever.store
    assert coverage_gap("What did Amara Lindqvist say about the Sarn River ceasefire?", store) is None
    gap = coverage_gap("What did Amara Lindqvist tell the Oskarvik Herald about the ceasefire?", store)
    assert gap is not None and gap.kind == "name" and gap.missing == ("Oskarvik", "Herald")
    gap = coverage_gap("Did an article from the Daily Lantern report the Sarn River ceasefire?", store)
    assert gap is not None and gap.reason() == "no indexed article comes from Daily Lantern"


def test_ask_refuses_without_the_model_and_says_why(sample_home: Path) -> None:
    from assistant.answer import answer
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    settings = load_settings(home=sample_home)
    model = RecordingChatModel(messages=iter(["The ceasefire held [1]."]))
    question = "Which minister did the Daily Lantern interview about the Sarn River ceasefire?"
    result = answer(question, settings=settings, llm=model, retriever=open_retriever(settings))
    assert result.refused and model.received == []
    assert result.reason == "no indexed article comes from Daily Lantern"

    run = CliRunner().invoke(
        app, ["ask", question, "--model", "fake", "--index-dir", str(sample_home), "--json"], catch_exceptions=False
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["refused"] and data["citations"] == [] and data["sentences"] == []
    assert data["reason"] == "no indexed article comes from Daily Lantern"
    assert data["closest"] and all("Sarn" in c["text"] or "Sarn" in c["title"] for c in data["closest"][:1])
