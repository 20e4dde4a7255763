"""One Settings object, passed down from the CLI (or a caller) to every function that needs it.

Precedence, highest first: explicit arguments (CLI flags), `ASSISTANT_*` environment variables, the TOML config
file (`--config`, else `ASSISTANT_CONFIG`, else `config.toml` in the user config dir), defaults. Nested sections
are set from the environment with a double underscore: `ASSISTANT_RETRIEVAL__K=8`. API keys keep the providers'
own variable names (OPENAI_API_KEY, ANTHROPIC_API_KEY). `explain_settings` says where each value came from.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator
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
    write_batch_passages: int = Field(
        1024, ge=1, description="Ingest writes articles in batches of about this many new passages (lost on a crash)."
    )
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds to wait for a web page or feed before giving up.")
    fetch_max_mb: float = Field(10.0, gt=0, description="Web pages and feeds larger than this are refused.")


class RetrievalSettings(BaseModel):
    """How passages are found for a question."""

    k: int = Field(5, ge=1, le=50, description="Passages shown to the model.")
    excerpt_sentences: list[Annotated[int, Field(ge=0, le=50)]] = Field(
        [3, 3, 2],
        min_length=1,
        description=(
            "Sentences the model reads of the best passage, the second, ... (the last number holds for the rest; "
            "one number for all; 0: the whole passage): those sharing most words with the question."
        ),
    )
    min_score: float = Field(
        0.30,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity below which the best passage counts as irrelevant (refuse without the LLM).",
    )
    show_score: float = Field(
        0.2,
        ge=-1.0,
        le=1.0,
        description="A passage other than the best is shown to the model only if its cosine similarity reaches this "
        "or it holds a capitalised name from the question (-1: show all k).",
    )

    @field_validator("excerpt_sentences", mode="before")
    @classmethod
    def _one_count_for_all(cls, value: Any) -> Any:
        """`3` (from a config file or `ASSISTANT_RETRIEVAL__EXCERPT_SENTENCES=3`) means 3 for every passage."""
        return [value] if isinstance(value, int) else value


class LLMSettings(BaseModel):
    """Generation parameters for the chat model."""

    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature; 0 is deterministic.")
    max_tokens: int = Field(256, ge=16, description="Most tokens an answer may have.")
    n_ctx: int = Field(4096, ge=512, description="Context window of the local model.")
    n_threads: int | None = Field(None, description="CPU threads for the local model; default: all cores.")
    yes_threshold: float = Field(
        0.63,
        ge=0.0,
        le=1.0,
        description="A yes/no question is answered Yes when the local model's P(Yes)/(P(Yes)+P(No)) reaches this "
        "(calibrated on MultiHop-RAG dev questions, see BENCHMARKS.md).",
    )
    seed: int = Field(42, description="Seed for the local model.")
    typeahead: bool = Field(
        True,
        description="In chat on a terminal, read the prompt of the question being typed into the local model ahead of "
        "enter, so the answer starts sooner.",
    )
    timeout: float = Field(120.0, gt=0, description="Seconds a model server may stay silent before the request fails.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries of a model server request that failed to connect.")


class Settings(BaseSettings):
    """Everything configurable, with its source recorded by `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,  # the API keys are read from the providers' own variable names (aliases)
    )

    home: Path = Field(default_factory=default_home, description="Data dir holding the index.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Cache dir for the joined model file.")
    model: str = Field(
        "local",
        description="Chat model: local, smollm2, gguf:PATH, openai:NAME, anthropic:NAME, ollama:NAME (fake: tests).",
    )
    embedder: str = Field(
        "minilm", description="Embedder: 'minilm' (packaged all-MiniLM-L6-v2) or a local sentence-transformers folder."
    )
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server for openai:NAME (vLLM, llama.cpp, LM Studio...)."
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias="OPENAI_API_KEY", description="Key for openai:NAME (optional with openai_base_url)."
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias="ANTHROPIC_API_KEY", description="Key for anthropic:NAME."
    )
    ollama_base_url: str | None = Field(
        None, description="Ollama server for ollama:NAME; default: OLLAMA_HOST, else http://localhost:11434."
    )
    chroma_url: str | None = Field(
        None, description="Chroma server (http://HOST:PORT) holding the vectors instead of the embedded store."
    )
    chroma_token: SecretStr | None = Field(
        None, description="Token sent to the Chroma server as 'Authorization: Bearer TOKEN'."
    )
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


def config_path(config_file: Path | None = None) -> Path:
    """Return the config file to read: `config_file` (which must exist), else ASSISTANT_CONFIG, else the default."""
    if config_file is None:
        env_config = os.environ.get("ASSISTANT_CONFIG")
        return Path(env_config) if env_config else default_config_file()
    if not config_file.is_file():
        from assistant.errors import ConfigError

        raise ConfigError(f"{config_file}: config file not found")
    return config_file


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from flags (`overrides`, None values ignored), environment, config file and defaults."""
    config_file = config_path(config_file)
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


@dataclass(frozen=True)
class SettingSource:
    """One effective setting and where its value came from."""

    name: str  # dotted for nested sections: "retrieval.k"
    value: Any  # JSON-ready; secrets are shown as "****"
    source: str  # "flag", "env", "file" or "default"
    origin: str  # the environment variable or the config file; "" for flags and defaults


@dataclass(frozen=True)
class SettingsReport:
    """What `assistant config` shows: the config file read (None if there is none) and every setting's source."""

    config_file: Path | None
    items: list[SettingSource]

    def to_dict(self) -> dict[str, Any]:
        """Return the report in the shape `assistant config --json` prints."""
        return {
            "config_file": str(self.config_file) if self.config_file else None,
            "settings": {i.name: {"value": i.value, "source": i.source, "origin": i.origin} for i in self.items},
        }


def explain_settings(config_file: Path | None = None, **overrides: Any) -> SettingsReport:
    """Load settings as `load_settings` does and say, for each one, whether a flag, env, file or default set it."""
    settings = load_settings(config_file, **overrides)
    path = config_path(config_file)
    file_values: dict[str, Any] = {}
    if path.is_file():
        with open(path, "rb") as f:
            file_values = tomllib.load(f)  # already parsed once without error by load_settings
    flags = {key: value for key, value in overrides.items() if value is not None}
    env = {name.upper(): value for name, value in os.environ.items()}
    items = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if not isinstance(value, BaseModel):
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            var = (alias or f"ASSISTANT_{name}").upper()
            in_file = name in file_values or alias in file_values
            items.append(_item(name, value, name in flags, var if var in env else None, in_file, path))
            continue
        section_var = f"ASSISTANT_{name}".upper()
        section_json = _json_object(env.get(section_var))  # a whole section as JSON: ASSISTANT_RETRIEVAL='{"k": 8}'
        for key in type(value).model_fields:
            key_var = f"{section_var}__{key.upper()}"
            env_name = key_var if key_var in env else section_var if key in section_json else None
            in_flags = key in flags.get(name, {})
            in_file = key in file_values.get(name, {})
            items.append(_item(f"{name}.{key}", getattr(value, key), in_flags, env_name, in_file, path))
    return SettingsReport(path if path.is_file() else None, items)


def _item(name: str, value: Any, in_flags: bool, env_name: str | None, in_file: bool, path: Path) -> SettingSource:
    if isinstance(value, SecretStr):
        value = "****" if value.get_secret_value() else ""
    elif isinstance(value, Path):
        value = str(value)
    if in_flags:
        return SettingSource(name, value, "flag", "")
    if env_name:
        return SettingSource(name, value, "env", env_name)
    if in_file:
        return SettingSource(name, value, "file", str(path))
    return SettingSource(name, value, "default", "")


def _json_object(text: str | None) -> dict[str, Any]:
    """Parse a JSON object; {} if absent or not one."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
