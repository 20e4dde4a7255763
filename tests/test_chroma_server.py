"""The vectors on a real Chroma server (`chroma run` on 127.0.0.1): ingest, ask, update and remove behave as with the
embedded store, the catalog and lexical index stay under the data dir, and failures are one-line errors."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tests.conftest import EXAMPLES
from tests.servers import chroma_server, free_port, status_server

pytestmark = pytest.mark.server
runner = CliRunner()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server with a temporary path, for this module."""
    workdir = tmp_path_factory.mktemp("chroma")
    with chroma_server(workdir / "data", workdir) as url:
        yield url


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def server_counts(url: str) -> dict[str, int]:
    """{collection name: vectors} on the server, read through Chroma's REST API (no client to leave open)."""
    base = f"{url}/api/v2/tenants/default_tenant/databases/default_database/collections"
    with urllib.request.urlopen(base, timeout=10) as response:
        collections = json.load(response)
    counts = {}
    for c in collections:
        with urllib.request.urlopen(f"{base}/{c['id']}/count", timeout=10) as response:
            counts[c["name"]] = int(json.load(response))
    return counts


def test_ingest_ask_update_remove_on_a_server(chroma_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLES, articles)
    home = tmp_path / "home"
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", chroma_url)  # the env variable; the flag is used below
    before = server_counts(chroma_url)

    result = run("ingest", str(articles), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 10 and report["failed"] == []
    [(name, count)] = [(n, c) for n, c in server_counts(chroma_url).items() if n not in before]
    assert count == report["chunks_added"] > 0
    assert not (home / "chroma").exists()  # no embedded store: the vectors went to the server
    assert (home / "indexes").is_dir()  # the catalog and its lexical index stay under the data dir

    question = "Which outlets reported the ceasefire, and when?"
    result = run("ask", question, "--model", "fake", "--json", "--chroma-url", chroma_url)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not data["refused"] and "ceasefire" in " ".join(c["text"] for c in data["citations"]).lower()

    story = articles / "harbor-water-rationing.txt"
    story.write_text(story.read_text() + "\nThe desalination barge Kittiwake arrived in the harbour on Friday.\n")
    result = run("ingest", str(articles), "--json", "--chroma-url", chroma_url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["updated"], report["unchanged"]) == (1, 9) and report["chunks_added"] >= 1
    assert server_counts(chroma_url)[name] == count + report["chunks_added"] - report["chunks_removed"]
    result = run("ask", "What arrived in the harbour on Friday?", "--model", "fake", "--json")
    assert result.exit_code == 0, result.output
    assert "Kittiwake" in " ".join(c["text"] for c in json.loads(result.stdout)["citations"])

    count = server_counts(chroma_url)[name]
    result = run("remove", str(articles / "wire.jsonl"), "--chroma-url", chroma_url)
    assert result.exit_code == 0, result.output
    removed = int(result.stdout.split("(")[1].split()[0])
    assert "Removed 2 articles" in result.stdout and removed > 0
    assert server_counts(chroma_url)[name] == count - removed
    assert len(json.loads(run("sources", "--json").stdout)) == 8

    # The same data dir without the server: its vectors are elsewhere, and the error says where.
    monkeypatch.delenv("ASSISTANT_CHROMA_URL")
    result = run("ask", question, "--model", "fake")
    assert result.exit_code == 4
    assert "holds none of their vectors" in result.stderr and chroma_url in result.stderr
    assert run("doctor", "--repair").exit_code == 0  # the fix the error names: embed them again, here
    assert run("ask", question, "--model", "fake").exit_code == 0


def test_two_data_dirs_never_share_a_server_collection(chroma_url: str, tmp_path: Path) -> None:
    one = EXAMPLES / "marenia-detained-sailors.txt"
    before = server_counts(chroma_url)
    for home in ("a", "b"):
        result = run("ingest", str(one), "--index-dir", str(tmp_path / home), "--chroma-url", chroma_url)
        assert result.exit_code == 0, result.output
    new = {n: c for n, c in server_counts(chroma_url).items() if n not in before}
    assert len(new) == 2 and len(set(new.values())) == 1  # the same passages, in a collection per data dir

    result = run("remove", str(one), "--index-dir", str(tmp_path / "b"), "--chroma-url", chroma_url)
    assert result.exit_code == 0, result.output
    assert sorted(c for n, c in server_counts(chroma_url).items() if n in new) == [0, max(new.values())]


def test_server_down_and_bad_url(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = run("ingest", str(EXAMPLES / "wire.jsonl"), "--chroma-url", down)
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"Error: cannot use the Chroma server at {down}") and "chroma run" in result.stderr
    assert "Traceback" not in result.output

    result = run("ingest", str(EXAMPLES / "wire.jsonl"), "--chroma-url", "ftp://somewhere")
    assert result.exit_code == 2 and "is not http(s)://HOST[:PORT]" in result.stderr


def test_token_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHROMA_TOKEN", "team-secret")
    with status_server(401, {"error": "Unauthorized", "message": "bad token"}) as server:
        url = server.url.removesuffix("/v1")
        result = run("ingest", str(EXAMPLES / "wire.jsonl"), "--chroma-url", url)
    assert result.exit_code == 4, result.output
    assert "team-secret" not in result.output
    assert server.requests, "the client never reached the server"
    for _, _, headers in server.requests:
        assert {k.lower(): v for k, v in headers.items()}["authorization"] == "Bearer team-secret"
