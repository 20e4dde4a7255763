"""`assistant config`: every effective setting with where it came from (flag, env, file, default), secrets hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


def test_config_names_each_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'model = "openai:from-file"\nopenai_base_url = "http://127.0.0.1:8080/v1"\n[retrieval]\nk = 3\n'
        "[llm]\ntimeout = 30\n"
    )
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    monkeypatch.setenv("ASSISTANT_LLM__TIMEOUT", "9")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("ASSISTANT_CHROMA_TOKEN", "chroma-secret")

    result = runner.invoke(app, ["config", "--json", "--embedder", "/models/e5"])
    assert result.exit_code == 0, result.output
    assert "secret" not in result.stdout
    data = json.loads(result.stdout)
    assert data["config_file"] == str(config)
    got = {name: (s["value"], s["source"], s["origin"]) for name, s in data["settings"].items()}
    assert got["embedder"] == ("/models/e5", "flag", "")
    assert got["model"] == ("openai:from-file", "file", str(config))
    assert got["openai_base_url"] == ("http://127.0.0.1:8080/v1", "file", str(config))
    assert got["retrieval.k"] == (3, "file", str(config))
    assert got["llm.timeout"] == (9.0, "env", "ASSISTANT_LLM__TIMEOUT")  # env beats the file
    assert got["openai_api_key"] == ("****", "env", "OPENAI_API_KEY")
    assert got["chroma_token"] == ("****", "env", "ASSISTANT_CHROMA_TOKEN")
    assert got["chroma_url"] == (None, "default", "")
    assert got["retrieval.min_score"] == (0.3, "default", "")
    assert got["home"][1:] == ("env", "ASSISTANT_HOME")  # the test fixture's data dir

    monkeypatch.setenv("ASSISTANT_MODEL", "ollama:from-env")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert "secret" not in result.stdout
    assert f"Config file: {config}" in result.stdout
    assert "ollama:from-env" in result.stdout and "env (ASSISTANT_MODEL)" in result.stdout

    result = runner.invoke(app, ["config", "--json", "--model", "openai:from-flag"])
    assert json.loads(result.stdout)["settings"]["model"] == {
        "value": "openai:from-flag",
        "source": "flag",
        "origin": "",
    }


def test_config_help_and_bad_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    result = runner.invoke(app, ["config", "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2 and "config file not found" in result.stderr
