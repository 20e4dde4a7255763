"""Settings precedence: CLI flag, then environment, then config file, then default."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.settings import default_home, load_settings


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "from-file"\nembedder = "minilm"\n[retrieval]\nk = 3\nmin_score = 0.5\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    monkeypatch.delenv("ASSISTANT_HOME")

    s = load_settings()
    assert (s.model, s.retrieval.k, s.retrieval.min_score) == ("from-file", 3, 0.5)
    assert s.home == default_home()

    monkeypatch.setenv("ASSISTANT_MODEL", "from-env")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__K", "7")
    s = load_settings()
    assert (s.model, s.retrieval.k, s.retrieval.min_score) == ("from-env", 7, 0.5)

    s = load_settings(model="from-flag", home=tmp_path / "h")
    assert (s.model, s.home) == ("from-flag", tmp_path / "h")


def test_bad_settings_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__K", "many")
    with pytest.raises(ConfigError, match="invalid settings"):
        load_settings()
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
