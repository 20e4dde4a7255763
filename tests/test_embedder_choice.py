"""`--embedder`: the packaged MiniLM or a local sentence-transformers folder, and an index is never read with another
embedder (or other chunking): the user is told which one built it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import IndexStoreError
from tests.conftest import EXAMPLES

runner = CliRunner()
SAILORS = EXAMPLES / "marenia-detained-sailors.txt"
QUESTION = "Where was the Aldebaran Star boarded?"


@pytest.fixture(scope="module")
def other_embedder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model folder: MiniLM's files linked, config.json rewritten (same content), so its id differs."""
    from index.embedding import model_dir

    source = model_dir("minilm")
    folder = tmp_path_factory.mktemp("embedder") / "minilm-copy"
    folder.mkdir()
    for item in source.iterdir():
        if item.name == "config.json":
            (folder / item.name).write_text(json.dumps(json.loads(item.read_text()), indent=1))
        else:
            (folder / item.name).symlink_to(item)
    return folder


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_a_local_folder_embedder_and_the_wrong_one(other_embedder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("ingest", str(SAILORS), "--embedder", str(other_embedder), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 1

    result = run("ask", QUESTION, "--model", "fake", "--embedder", str(other_embedder), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["citations"]

    result = run("ask", QUESTION, "--model", "fake")  # the default embedder finds nothing it built
    assert result.exit_code == 4
    assert f"built with embedder '{other_embedder}': pass --embedder {other_embedder}" in result.stderr
    assert "Traceback" not in result.output

    monkeypatch.setenv("ASSISTANT_EMBEDDER", str(other_embedder))
    assert run("ask", QUESTION, "--model", "fake").exit_code == 0


def test_index_built_with_minilm_asked_with_another(other_embedder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("ingest", str(SAILORS)).exit_code == 0
    result = run("chat", "--model", "fake", "--embedder", str(other_embedder))
    assert result.exit_code == 4
    assert "built with embedder 'minilm': pass --embedder minilm" in result.stderr

    monkeypatch.setenv("ASSISTANT_INDEX__MAX_PASSAGE_TOKENS", "128")
    result = run("ask", QUESTION, "--model", "fake")
    assert result.exit_code == 4
    assert "built with max_passage_tokens=256" in result.stderr


def test_a_collection_is_never_opened_with_another_embedder(settings) -> None:  # type: ignore[no-untyped-def]
    from index.chroma import open_collection

    open_collection(settings, "news-guard", "embedder-a", "0" * 32)
    with pytest.raises(IndexStoreError, match="holds vectors of embedder embedder-a, not embedder-b"):
        open_collection(settings, "news-guard", "embedder-b", "0" * 32)
