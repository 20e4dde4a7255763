"""Served models: `ask` and `chat` through a real OpenAI-compatible server (llama.cpp serving SmolLM2-135M) with
streaming, and every way a provider fails (unknown, missing extra, missing key, server down, timeout, 429, 401)
ending in one `Error: ...` line and exit code 3, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import cli
from assistant.errors import ConfigError, ModelError
from tests.servers import LlamaServer, free_port, llama_server, silent_server, status_server

pytestmark = pytest.mark.server
runner = CliRunner()
QUESTION = "Which outlets reported the ceasefire, and when?"  # answered by the model (not from extracted quotes)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-cpp-python's OpenAI-compatible server serving the packaged SmolLM2-135M GGUF, for this module."""
    from assistant.weights import smollm2_path

    with llama_server(smollm2_path(), tmp_path_factory.mktemp("llama")) as server:
        yield server


@pytest.fixture
def served(llama: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> LlamaServer:
    """Point openai:NAME at the local server, as a user of vLLM or LM Studio would: no key at all."""
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", llama.base_url)
    # Plumbing, not quality: a short prompt and a short reply keep each request to seconds on 2 busy cores.
    monkeypatch.setenv("ASSISTANT_LLM__MAX_TOKENS", "32")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__K", "2")
    return llama


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI stream tokens as it does on a terminal (CliRunner's stdout is not one)."""
    monkeypatch.setattr(cli, "_streamer", cli._Streamer)


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli.app, list(args), input=input)


def test_answer_streams_from_the_server(served: LlamaServer, sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    from assistant.answer import answer
    from assistant.llm import make_chat_model

    settings.model = "openai:smollm2"
    llm = make_chat_model(settings.model, settings)
    tokens: list[str] = []
    before = served.completions()
    result = answer(QUESTION, settings=settings, llm=llm, retriever=sample_retriever, on_token=tokens.append)
    assert served.completions() == before + 1
    assert len([t for t in tokens if t]) > 3, "the reply should arrive as many streamed chunks"
    assert result.passages and result.question == QUESTION


def test_ask_through_the_server(served: LlamaServer, sample_home: Path, terminal: None) -> None:
    before = served.completions()
    result = run("ask", QUESTION, "--model", "openai:smollm2", "--index-dir", str(sample_home))
    assert result.exit_code == 0, result.output
    assert "Checked answer" in result.stdout  # tokens were streamed first, then the checked answer printed

    result = run("ask", QUESTION, "--model", "openai:smollm2", "--index-dir", str(sample_home), "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {"question", "answer", "refused", "citations", "sentences"}
    assert served.completions() == before + 2


def test_chat_through_the_server(served: LlamaServer, sample_home: Path, terminal: None) -> None:
    before = served.completions()
    script = f"{QUESTION}\nWhen did it take effect?\n/reset\nWhere was the Aldebaran Star boarded?\n/quit\n"
    result = run("chat", "--model", "openai:smollm2", "--index-dir", str(sample_home), input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Checked answer") >= 2  # two answers streamed (the follow-up may be refused)
    # Two answers and the rewrite of the follow-up at least; its answer too unless retrieval refused it.
    assert served.completions() >= before + 3


def test_unknown_provider_and_missing_name() -> None:
    from assistant.llm import make_chat_model
    from assistant.settings import load_settings

    with pytest.raises(ConfigError, match=r"unknown model 'mistral:large'.*openai:NAME"):
        make_chat_model("mistral:large", load_settings())
    with pytest.raises(ConfigError, match="needs a model name"):
        make_chat_model("openai:", load_settings())


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.llm import make_chat_model
    from assistant.settings import load_settings

    monkeypatch.setitem(sys.modules, "langchain_anthropic", None)  # import fails as if the extra were absent
    with pytest.raises(ModelError, match=r"pip install 'assistant\[anthropic\]'"):
        make_chat_model("anthropic:claude-sonnet-4-5", load_settings())


def test_missing_key(sample_home: Path) -> None:
    for spec, variable in (
        ("openai:gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
    ):
        result = run("ask", QUESTION, "--model", spec, "--index-dir", str(sample_home))
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith(f"Error: {spec} needs an API key: export {variable}=")
        assert "Traceback" not in result.output


def test_server_down(sample_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ASSISTANT_LLM__MAX_RETRIES", "0")
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", f"{closed}/v1")
    monkeypatch.setenv("ASSISTANT_OLLAMA_BASE_URL", closed)
    for spec, fix in (("openai:smollm2", "ASSISTANT_OPENAI_BASE_URL"), ("ollama:llama3.2", "ollama serve")):
        result = run("ask", QUESTION, "--model", spec, "--index-dir", str(sample_home))
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith("Error: cannot reach ") and closed in result.stderr and fix in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output

    result = run("chat", "--model", "openai:smollm2", "--index-dir", str(sample_home), input=f"{QUESTION}\n")
    assert result.exit_code == 3 and "Error: cannot reach" in result.stderr


def test_timeout(sample_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__TIMEOUT", "1")
    monkeypatch.setenv("ASSISTANT_LLM__MAX_RETRIES", "0")
    with silent_server() as url:
        monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", url)
        result = run("ask", QUESTION, "--model", "openai:smollm2", "--index-dir", str(sample_home))
    assert result.exit_code == 3, result.output
    assert "did not answer within 1s" in result.stderr and "ASSISTANT_LLM__TIMEOUT" in result.stderr


def test_rate_limit_and_refused_key(sample_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__MAX_RETRIES", "0")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    cases = [
        (429, "rate_limit_exceeded", "is rate-limiting requests (HTTP 429)"),
        (401, "invalid_api_key", "refused the request (HTTP 401): set a valid OPENAI_API_KEY"),
    ]
    for status, code, message in cases:
        with status_server(status, {"error": {"message": "no", "type": code, "code": code}}) as server:
            monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", server.url)
            result = run("ask", QUESTION, "--model", "openai:gpt-4o-mini", "--index-dir", str(sample_home))
        assert result.exit_code == 3, result.output
        assert message in result.stderr and "Traceback" not in result.output
        [(method, path, headers)] = server.requests
        assert (method, path) == ("POST", "/v1/chat/completions")
        assert {k.lower(): v for k, v in headers.items()}[
            "authorization"
        ] == "Bearer sk-wrong"  # the key from OPENAI_API_KEY was sent
