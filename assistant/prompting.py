"""Load prompt templates from the `prompts` package and check their variables against what the code supplies."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from assistant.errors import AssistantError

# Shared by the prompt (which tells the model to say it) and the code (which recognises it): one constant.
REFUSAL = "The indexed articles do not cover this question."


class PromptError(AssistantError):
    """A prompt file that is missing or whose variables do not match the code."""


def template_variables(template: str) -> set[str]:
    """Return the `{name}` variables used in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@cache
def load_prompt(name: str, variables: frozenset[str]) -> str:
    """Return the template `prompts/<name>.txt`, failing loudly unless it uses exactly `variables`."""
    try:
        text = resources.files("prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptError(f"prompt file prompts/{name}.txt is missing from the package") from exc
    found = template_variables(text)
    if found != set(variables):
        raise PromptError(
            f"prompts/{name}.txt uses variables {sorted(found)}, but the code supplies {sorted(variables)}"
        )
    return text


def render(name: str, **values: str) -> str:
    """Load a template and fill it with `values`."""
    return load_prompt(name, frozenset(values)).format(**values)
