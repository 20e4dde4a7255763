"""Every command through Typer's CliRunner: success paths, error paths and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input)


def test_help_for_every_command() -> None:
    assert run("--help").exit_code == 0
    for command in ("ingest", "ask", "chat", "sources", "remove", "doctor"):
        result = run(command, "--help")
        assert result.exit_code == 0, command
        assert "Example:" in result.output


def test_ingest_ask_sources_remove(articles_dir: Path) -> None:
    result = run("ingest", str(articles_dir), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        *("added", "updated", "unchanged", "removed", "failed", "chunks_added", "chunks_removed"),
        *("dry_run", "changes"),
    }
    assert report["added"] == 10 and report["failed"] == []

    result = run("ask", "What did Okafor say about the sailors?", "--model", "fake", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "refused", "citations", "sentences"}
    assert not data["refused"] and data["citations"]
    numbers = {c["n"] for c in data["citations"]}
    assert data["sentences"] and all(set(s) == {"text", "citations", "supported"} for s in data["sentences"])
    assert all(s["text"] in data["answer"] and set(s["citations"]) <= numbers for s in data["sentences"])
    for c in data["citations"]:
        assert set(c) == {"n", "doc_id", "title", "source", "published_at", "path", "start", "end", "text"}
        article_text = _article_text(c["doc_id"])
        assert article_text[c["start"] : c["end"]] == c["text"]

    result = run("ask", "What did Okafor say about the sailors?", "--model", "fake")
    assert result.exit_code == 0
    assert "Sources:" in result.stdout and "[1]" in result.stdout

    listed = json.loads(run("sources", "--json").stdout)
    assert len(listed) == 10
    assert {"The Lisport Observer", "Continental Wire Service"} <= {a["source"] for a in listed}

    result = run("remove", str(articles_dir / "wire.jsonl"))
    assert result.exit_code == 0 and "Removed 2 articles" in result.stdout
    assert len(json.loads(run("sources", "--json").stdout)) == 8


def _article_text(doc_id: str) -> str:
    from assistant.settings import load_settings
    from index.embedding import LocalEmbeddings
    from index.store import Store

    return Store(load_settings(), LocalEmbeddings()).article(doc_id).text


def test_ingest_failure_exit_code_and_message(articles_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x",')
    result = run("ingest", str(articles_dir), str(bad))
    assert result.exit_code == 1
    assert f"Error: {bad}: invalid JSON" in result.stderr
    assert "10 added" in result.stdout  # the good files are indexed all the same


def test_ask_on_empty_index_and_unknown_model(tmp_path: Path) -> None:
    result = run("ask", "Anything?")
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: the index under") and "assistant ingest" in result.stderr

    shutil.copytree(Path(__file__).parent.parent / "examples" / "articles", tmp_path / "a")
    assert run("ingest", str(tmp_path / "a")).exit_code == 0
    result = run("ask", "What did Okafor say?", "--model", "mystery")
    assert result.exit_code == 2
    assert "unknown model 'mystery'" in result.stderr
    assert "Traceback" not in result.output


def test_reading_commands_make_no_index_on_disk(articles_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    indexes = tmp_path / "home" / "indexes"
    for command in (["ask", "Anything?"], ["search", "anything"], ["sources"], ["quotes"]):
        run(*command)
    assert not indexes.exists()  # nothing indexed yet, and reading did not make an empty index

    assert run("ingest", str(articles_dir)).exit_code == 0
    built = sorted(p.name for p in indexes.iterdir())
    monkeypatch.setenv("ASSISTANT_INDEX__OVERLAP_SENTENCES", "2")  # settings that match no index there
    result = run("ask", "What did Okafor say?", "--model", "fake")
    assert result.exit_code == 4 and "overlap_sentences=1" in result.stderr
    assert run("search", "Okafor").exit_code == 4
    assert sorted(p.name for p in indexes.iterdir()) == built


def test_remove_unknown_doc() -> None:
    result = run("remove", "no-such-doc")
    assert result.exit_code == 1
    assert "not in the index: no-such-doc" in result.stderr


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[retrieval\n")
    result = run("sources", "--config", str(config))
    assert result.exit_code == 2 and result.stderr.startswith("Error: invalid settings")


def test_chat_session(articles_dir: Path) -> None:
    assert run("ingest", str(articles_dir)).exit_code == 0
    # Questions the model answers: "What did Okafor say ...?" would be answered from his statements (quote-first).
    script = "What did Okafor demand for the sailors?\n/sources\n/bogus\nWhat else did he demand?\n/quit\n"
    result = run("chat", "--model", "fake", input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("The first passage says") == 2
    assert "Unknown command /bogus" in result.stdout
    assert "Okafor" in result.stdout


def test_chat_ctrl_d_exits_cleanly(articles_dir: Path) -> None:
    assert run("ingest", str(articles_dir)).exit_code == 0
    result = run("chat", "--model", "fake", input="")
    assert result.exit_code == 0


def test_model_loads_only_when_a_question_needs_it(articles_dir: Path, tmp_path: Path) -> None:
    assert run("ingest", str(articles_dir)).exit_code == 0
    missing = f"gguf:{tmp_path / 'absent.gguf'}"
    quoted = run("ask", "What did Okafor say?", "--model", missing, "--json")
    assert quoted.exit_code == 0, quoted.output  # answered from his statements: no model was loaded
    assert json.loads(quoted.stdout)["citations"]
    needs_model = run("ask", "How many schools closed in the heatwave?", "--model", missing)
    assert needs_model.exit_code == 3 and "GGUF file not found" in needs_model.stderr
