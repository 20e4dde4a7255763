"""`assistant quotes` through CliRunner, and the seed check: Miller's four statements, listed and answered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tests.conftest import SEED

runner = CliRunner()
KEYS = {"speaker", "role", "kind", "text", "doc_id", "title", "source", "published_at", "start", "end"}


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def article_text(doc_id: str) -> str:
    from assistant.settings import load_settings
    from index.embedding import LocalEmbeddings
    from index.store import Store

    return Store(load_settings(), LocalEmbeddings()).article(doc_id).text


def test_quotes_lists_a_speaker_with_filters_and_json(articles_dir: Path) -> None:
    assert run("quotes").stdout.startswith("No statements indexed yet")
    assert run("ingest", str(articles_dir)).exit_code == 0

    result = run("quotes", "Okafor", "--json")
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    assert len(said) == 7
    for s in said:
        assert set(s) == KEYS
        assert (s["speaker"], s["role"]) == ("Daniel Okafor", "Foreign Ministry spokesperson")
        assert (s["source"], s["published_at"][:10]) == ("The Lisport Observer", "2024-02-27")
        assert article_text(s["doc_id"])[s["start"] : s["end"]] == s["text"]
    assert {s["kind"] for s in said} == {"direct", "reported"}
    assert [s["start"] for s in said] == sorted(s["start"] for s in said)  # in article order

    # Spelling variants and full names name the same speaker; the role alone names nobody.
    assert json.loads(run("quotes", "Daniel Okafer", "--json").stdout) == said
    assert json.loads(run("quotes", "Foreign Ministry spokesperson Daniel Okafor", "--json").stdout) == said
    assert run("quotes", "Foreign Minister", "--json").exit_code == 1

    text = run("quotes", "Okafor")
    assert text.exit_code == 0
    assert "Daniel Okafor, Foreign Ministry spokesperson" in text.stdout and "The Lisport Observer" in text.stdout
    assert f"“{said[0]['text']}”" in text.stdout

    assert len(json.loads(run("quotes", "Okafor", "--source", "lisport", "--json").stdout)) == 7
    assert (
        len(json.loads(run("quotes", "Okafor", "--since", "2024-02-27", "--until", "2024-02-27", "--json").stdout)) == 7
    )
    for flags in (["--source", "Northern Dispatch"], ["--since", "2024-02-28"], ["--until", "2024-02-26"]):
        result = run("quotes", "Okafor", *flags)
        assert result.exit_code == 1, flags
        assert "Error: no statements by 'Okafor' in the chosen outlets and dates" in result.stderr


def test_quotes_without_speaker_lists_speakers_with_counts(articles_dir: Path) -> None:
    assert run("ingest", str(articles_dir)).exit_code == 0
    speakers = json.loads(run("quotes", "--json").stdout)
    assert speakers and set(speakers[0]) == {"speaker", "role", "statements", "articles"}
    counts = [s["statements"] for s in speakers]
    assert counts == sorted(counts, reverse=True)
    by_name = {s["speaker"]: s for s in speakers}
    assert by_name["Daniel Okafor"]["statements"] == 7 and by_name["Daniel Okafor"]["articles"] == 1
    assert by_name["Amara Lindqvist"]["articles"] == 2  # the ceasefire story and the wire follow-up
    assert "Ruth Abernathy" not in by_name  # the minister said nothing; her ministry's spokesperson did
    assert by_name["Marcus Obi"]["statements"] == len(json.loads(run("quotes", "Marcus Obi", "--json").stdout))
    table = run("quotes")
    assert table.exit_code == 0 and "Daniel Okafor" in table.stdout and "statements" in table.stdout
    only_wire = json.loads(run("quotes", "--source", "Continental Wire", "--json").stdout)
    assert {s["speaker"] for s in only_wire} < set(by_name)


def test_chat_answers_quote_questions_and_follow_ups_from_statements(articles_dir: Path) -> None:
    assert run("ingest", str(articles_dir)).exit_code == 0
    script = "What did Okafor say?\n/sources\nand what did he say about the ambassador?\n/quit\n"
    result = runner.invoke(app, ["chat", "--model", "fake"], input=script)
    assert result.exit_code == 0, result.output
    assert "The first passage says" not in result.stdout  # the fake model answered nothing
    _, first, _sources, second = re.split(r"^> ", result.stdout, flags=re.MULTILINE)[:4]
    assert first.count("- Daniel Okafor") == 7  # all his statements
    assert 1 <= second.count("- Daniel Okafor") < 7 and "summoned Kestland's ambassador" in second  # those on it


def test_quotes_errors() -> None:
    result = run("quotes", "Nobody")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no statements by 'Nobody'")
    assert "Traceback" not in result.output
    result = run("quotes", "Miller", "--since", "27/06/2023")
    assert result.exit_code == 2 and "--since" in result.stderr
    help_text = run("quotes", "--help")
    assert help_text.exit_code == 0 and "Example:" in help_text.stdout


@pytest.mark.skipif(not SEED.is_dir(), reason="needs ../shared/eval/seed beside the clone")
def test_seed_miller_four_statements_listed_and_answered(tmp_path: Path) -> None:
    assert run("ingest", str(SEED)).exit_code == 0
    said = json.loads(run("quotes", "Miller", "--json").stdout)
    assert len(said) == 4, said
    assert {s["speaker"] for s in said} == {"Mathew Miller"}
    assert sorted(s["kind"] for s in said) == ["direct", "direct", "reported", "reported"]
    # The four the issue names: two quoted sentences, the LOC ceasefire commendation, the call to disband groups
    # including LeT and Jaish-i-Mohammed, and "We raise the issue regularly ...".
    first, ceasefire, disband, regularly = said
    assert first["kind"] == "direct" and len(re.findall(r"[.!?](?:\s|$)", first["text"])) == 2
    assert "LOC" in ceasefire["text"]
    assert "LeT" in disband["text"] and "Jaish-i-Mohammed" in disband["text"]
    assert regularly["kind"] == "direct" and regularly["text"].startswith("We raise the issue regularly")
    text = article_text(said[0]["doc_id"])
    paragraphs = {text.rfind("\n", 0, s["start"]) for s in said}
    assert len(paragraphs) == 3  # the paragraph naming him, "The US official also commended ...", "... he added"

    result = run("ask", "What did Miller say?", "--json", "--model", "fake")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not data["refused"]
    cited = {c["n"]: c for c in data["citations"]}
    lines = data["answer"].splitlines()
    for s in said:
        shown = f"“{s['text'].rstrip(',')}”" if s["kind"] == "direct" else s["text"]
        [line] = [ln for ln in lines if shown in ln]
        marks = [int(n) for n in re.findall(r"\[(\d+)\]", line)]
        assert marks, line
        assert any(cited[n]["start"] <= s["start"] and s["end"] <= cited[n]["end"] for n in marks)
        assert any(s["text"] in cited[n]["text"] for n in marks)
