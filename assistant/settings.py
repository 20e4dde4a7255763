"""One Settings object, passed down from the CLI (or a caller) to every function that needs it.

Precedence, highest first: explicit arguments (CLI flags), `ASSISTANT_*` environment variables, the TOML config
file (`--config`, else `ASSISTANT_CONFIG`, else `config.toml` in the user config dir), defaults. Nested sections
are set from the environment with a double underscore: `ASSISTANT_RETRIEVAL__K=8`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "assistant"


def default_home() -> Path:
    """Return the per-user data dir where indexes live by default."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_cache_dir() -> Path:
    """Return the per-user cache dir where the joined local model file lives."""
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_config_file() -> Path:
    """Return the config file read when neither `--config` nor `ASSISTANT_CONFIG` names one."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class IndexSettings(BaseModel):
    """How articles are cleaned, chunked and embedded."""

    max_passage_tokens: int = Field(
        256, ge=64, le=256, description="Word-piece budget of an embedded passage, title header included."
    )
    overlap_sentences: int = Field(1, ge=0, le=3, description="Sentences repeated at the start of the next chunk.")
    embed_batch_size: int = Field(64, ge=1, description="Passages per embedding batch.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped with an error.")


class RetrievalSettings(BaseModel):
    """How passages are found for a question."""

    k: int = Field(5, ge=1, le=50, description="Passages shown to the model.")
    min_score: float = Field(
        0.30,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity below which the best passage counts as irrelevant (refuse without the LLM).",
    )


class LLMSettings(BaseModel):
    """Generation parameters for the chat model."""

    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature; 0 is deterministic.")
    max_tokens: int = Field(400, ge=16, description="Most tokens an answer may have.")
    n_ctx: int = Field(4096, ge=512, description="Context window of the local model.")
    n_threads: int | None = Field(None, description="CPU threads for the local model; default: all cores.")
    seed: int = Field(42, description="Seed for the local model.")


class Settings(BaseSettings):
    """Everything configurable, with its source recorded by `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(default_factory=default_home, description="Data dir holding the index.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Cache dir for the joined model file.")
    model: str = Field("local", description="Chat model: 'local', 'smollm2', 'gguf:PATH', or 'fake' for tests.")
    embedder: str = Field("minilm", description="Embedder: 'minilm' (packaged all-MiniLM-L6-v2).")
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from flags (`overrides`, None values ignored), environment, config file and defaults."""
    if config_file is None:
        env_config = os.environ.get("ASSISTANT_CONFIG")
        config_file = Path(env_config) if env_config else default_config_file()
    elif not config_file.is_file():
        from assistant.errors import ConfigError

        raise ConfigError(f"{config_file}: config file not found")
    cls: type[Settings] = Settings
    if config_file.is_file():
        config = {**Settings.model_config, "toml_file": config_file}
        cls = type("FileSettings", (Settings,), {"model_config": config})
    flags = {key: value for key, value in overrides.items() if value is not None}
    try:
        return cls(**flags)
    except Exception as exc:  # pydantic.ValidationError or a TOML syntax error
        from assistant.errors import ConfigError

        raise ConfigError(f"invalid settings: {exc}".splitlines()[0]) from exc
