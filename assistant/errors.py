"""Domain exceptions. The CLI turns each into one `Error: ...` line and an exit code."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the user can cause or fix; `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(AssistantError):
    """Settings or a config file that cannot be used."""

    exit_code = 2


class InputError(AssistantError):
    """A file or record that cannot be ingested."""

    exit_code = 1


class ModelError(AssistantError):
    """A chat model or embedder that cannot be loaded or run."""

    exit_code = 3


class IndexStoreError(AssistantError):
    """An index that is missing, locked, or built with other settings."""

    exit_code = 4
