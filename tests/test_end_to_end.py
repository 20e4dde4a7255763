"""End to end with the real local LLM (Qwen2.5-Coder-1.5B GGUF): structure and facts, never wording."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tests.conftest import EXAMPLES, SEED

pytestmark = pytest.mark.llm
runner = CliRunner()
QUOTE = re.compile(r"[\"“]([^\"“”]{3,}?)[\"”]")


def norm(text: str) -> str:
    return " ".join(text.replace("“", '"').replace("”", '"').replace("’", "'").replace("‘", "'").split())


def assert_quotes_verbatim_in_citations(data: dict) -> None:  # type: ignore[type-arg]
    cited_text = " ".join(norm(c["text"]) for c in data["citations"])
    for quote in QUOTE.findall(data["answer"]):
        assert norm(quote).rstrip(".,") in cited_text, f"quote not in a cited passage: {quote!r}"


def ask_json(question: str, home: Path) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["ask", question, "--json", "--index-dir", str(home)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_sample_question_gets_a_cited_answer(sample_home: Path) -> None:
    data = ask_json("What did Okafor say about the detained sailors?", sample_home)
    assert not data["refused"]
    assert data["citations"], data
    assert all(c["source"] == "The Lisport Observer" for c in data["citations"][:1])
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers and markers <= {c["n"] for c in data["citations"]}
    assert "Okafor" in " ".join(c["text"] for c in data["citations"])
    assert_quotes_verbatim_in_citations(data)


@pytest.mark.skipif(not SEED.is_dir(), reason="needs ../shared/eval/seed beside the clone (CI has it)")
def test_what_did_miller_say_on_the_seed_article(tmp_path: Path) -> None:
    home = tmp_path / "seed-home"
    result = runner.invoke(app, ["ingest", str(SEED), "--index-dir", str(home), "--json"])
    assert result.exit_code == 0, result.output
    data = ask_json("What did Miller say?", home)
    assert not data["refused"]
    assert any("remain committed to working with Pakistan" in c["text"] for c in data["citations"])
    assert QUOTE.search(data["answer"]), "Miller's words should be quoted"
    assert_quotes_verbatim_in_citations(data)
    for c in data["citations"]:
        assert "comments section" not in c["text"]  # the site's last line is not indexed


def test_chat_follow_up_retrieves_the_same_speaker(sample_retriever, settings, local_llm) -> None:  # type: ignore[no-untyped-def]
    from assistant.chat import Chat

    chat = Chat(settings, local_llm, sample_retriever)
    first = chat.ask("What did Okafor say about the sailors?")
    assert not first.refused
    second = chat.ask("What else did he say?")
    assert second.standalone_question and second.standalone_question != "What else did he say?"
    assert any("Okafor" in p.text for p in second.passages[:3])
    assert EXAMPLES.is_dir()


def test_yes_no_question_opens_with_the_verdict(sample_home: Path) -> None:
    data = ask_json("Did Amara Lindqvist broker the ceasefire between Kolmar and Esteria?", sample_home)
    assert not data["refused"], data
    assert data["answer"].split()[0].strip(".,") == "Yes", data["answer"]
    assert data["citations"] and any("Lindqvist" in c["text"] for c in data["citations"])
    assert_quotes_verbatim_in_citations(data)


def test_the_local_models_yes_probability_follows_the_passage(local_llm) -> None:  # type: ignore[no-untyped-def]
    from assistant.answer import answer_prompt, prompt_inputs
    from assistant.llm import yes_probability

    shown = "[1] Ferry council votes on the harbour budget (The Harbor Courier, 2024-03-14)\n"
    shown += "The Harbor City council approved the harbour budget on Monday by seven votes to two."
    probability = {}
    for verb in ("approve", "reject"):
        question = f"Did the Harbor City council {verb} the harbour budget?"
        messages = answer_prompt().format_messages(**prompt_inputs(shown, question))
        probability[verb] = yes_probability(local_llm, messages)
    assert probability["approve"] is not None and probability["reject"] is not None
    assert 0.0 < probability["reject"] < probability["approve"] < 1.0, probability
