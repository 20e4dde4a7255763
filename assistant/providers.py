"""Served chat models: `openai:NAME` (OpenAI or any OpenAI-compatible server), `anthropic:NAME`, `ollama:NAME`.

Each provider's LangChain package is an optional extra (`pip install 'assistant[openai]'`). Keys come from Settings,
which reads the providers' usual variables (OPENAI_API_KEY, ANTHROPIC_API_KEY). Every model streams. What the
provider raises (server down, timeout, rate limit, bad key, unknown model) becomes a one-line `ModelError` naming
the fix, also when it happens mid-stream inside `answer()`: the models are subclasses that translate in `_stream`
and `_generate`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from assistant.errors import AssistantError, ConfigError, ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.outputs import ChatGenerationChunk, ChatResult

    from assistant.settings import Settings

PROVIDERS = ("openai", "anthropic", "ollama")
# Local OpenAI-compatible servers (llama.cpp, vLLM without --api-key, LM Studio) take any key; the client needs one.
PLACEHOLDER_KEY = "unused"
OLLAMA_DEFAULT = "http://localhost:11434"


def make_provider_model(provider: str, name: str, settings: Settings) -> BaseChatModel:
    """Return a streaming chat model of `provider` ('openai', 'anthropic' or 'ollama') serving model `name`."""
    if not name:
        raise ConfigError(f"'{provider}:' needs a model name: --model {provider}:NAME")
    if provider == "openai":
        return _openai(name, settings)
    if provider == "anthropic":
        return _anthropic(name, settings)
    if provider == "ollama":
        return _ollama(name, settings)
    raise ConfigError(f"unknown provider '{provider}': use one of {', '.join(PROVIDERS)}")


def _missing_extra(provider: str) -> ModelError:
    return ModelError(f"{provider}:NAME needs the {provider} extra: pip install 'assistant[{provider}]'")


def _openai(name: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise _missing_extra("openai") from exc
    base_url = settings.openai_base_url
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if not key and not base_url:
        raise ModelError(
            f"openai:{name} needs an API key: export OPENAI_API_KEY=... "
            "(for an OpenAI-compatible server, set ASSISTANT_OPENAI_BASE_URL instead)"
        )
    where = f"the OpenAI-compatible server at {base_url}" if base_url else "the OpenAI API"
    llm = settings.llm
    return _translating(ChatOpenAI)(
        model=name,
        base_url=base_url,
        api_key=key or PLACEHOLDER_KEY,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,  # sent as max_completion_tokens, which llama.cpp's server ignores...
        extra_body={"max_tokens": llm.max_tokens} if base_url else None,  # ...so compatible servers get both
        seed=llm.seed,
        timeout=llm.timeout,
        max_retries=llm.max_retries,
        streaming=True,
        failure=Failure(
            spec=f"openai:{name}",
            where=where,
            key_var="OPENAI_API_KEY",
            url_fix="check ASSISTANT_OPENAI_BASE_URL and that the server is running"
            if base_url
            else "check your network",
            timeout=llm.timeout,
        ),
    )


def _anthropic(name: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_anthropic import ChatAnthropic
    except ImportError as exc:
        raise _missing_extra("anthropic") from exc
    if not settings.anthropic_api_key or not settings.anthropic_api_key.get_secret_value():
        raise ModelError(f"anthropic:{name} needs an API key: export ANTHROPIC_API_KEY=...")
    llm = settings.llm
    return _translating(ChatAnthropic)(
        model=name,
        api_key=settings.anthropic_api_key,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        timeout=llm.timeout,
        max_retries=llm.max_retries,
        streaming=True,
        failure=Failure(
            spec=f"anthropic:{name}",
            where="the Anthropic API",
            key_var="ANTHROPIC_API_KEY",
            url_fix="check your network",
            timeout=llm.timeout,
        ),
    )


def _ollama(name: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise _missing_extra("ollama") from exc
    llm = settings.llm
    base_url = settings.ollama_base_url
    return _translating(ChatOllama)(
        model=name,
        base_url=base_url,  # None: the ollama client's own default (OLLAMA_HOST, else localhost:11434)
        temperature=llm.temperature,
        num_predict=llm.max_tokens,
        num_ctx=llm.n_ctx,  # Ollama's default window is smaller than a prompt of k passages
        seed=llm.seed,
        client_kwargs={"timeout": llm.timeout},
        failure=Failure(
            spec=f"ollama:{name}",
            where=f"Ollama at {base_url}" if base_url else f"Ollama (OLLAMA_HOST, else {OLLAMA_DEFAULT})",
            key_var="",
            url_fix="start it with `ollama serve`, or set ASSISTANT_OLLAMA_BASE_URL",
            timeout=llm.timeout,
            not_found_fix=f"run `ollama pull {name}`",
        ),
    )


@dataclass(frozen=True)
class Failure:
    """What a provider error message names: the model, the server, the key variable, the fixes, the timeout."""

    spec: str
    where: str
    key_var: str
    url_fix: str
    timeout: float
    not_found_fix: str = ""


def provider_error(exc: BaseException, f: Failure) -> ModelError | None:
    """Return the one-line ModelError for an error a provider raised, or None when it is not a provider error.

    Classes are matched by name: LangChain's own (ModelTimeoutError...), the OpenAI and Anthropic SDKs' (same names
    in both), httpx's and ollama's, so that no provider package has to be imported here.
    """
    if isinstance(exc, AssistantError):
        return None
    status = _status(exc)
    detail = _detail(exc)
    if _named(exc, "ModelTimeoutError", "APITimeoutError", "TimeoutException"):
        return ModelError(
            f"{f.where} did not answer within {f.timeout:g}s: check the server, "
            "or raise [llm] timeout (ASSISTANT_LLM__TIMEOUT)"
        )
    if isinstance(exc, ConnectionError) or _named(exc, "ModelConnectionError", "APIConnectionError", "TransportError"):
        return ModelError(f"cannot reach {f.where} ({detail}): {f.url_fix}")
    if status == 429 or _named(exc, "ModelRateLimitError", "RateLimitError"):
        return ModelError(
            f"{f.where} is rate-limiting requests (HTTP 429): wait and try again, or check your plan's limits"
        )
    if status in (401, 403) or _named(
        exc, "ModelAuthenticationError", "ModelPermissionDeniedError", "AuthenticationError", "PermissionDeniedError"
    ):
        fix = f"set a valid {f.key_var}" if f.key_var else "check the server's access settings"
        return ModelError(f"{f.where} refused the request (HTTP {status or 401}): {fix}")
    if status == 404 or _named(exc, "ModelNotFoundError", "NotFoundError"):
        fix = f.not_found_fix or f"check the model name in --model {f.spec}"
        return ModelError(f"{f.where} does not serve the model of {f.spec} ({detail}): {fix}")
    if _named(exc, "ContextOverflowError"):
        return ModelError(f"the prompt is too long for {f.spec} ({detail}): lower -k (ASSISTANT_RETRIEVAL__K)")
    if status is not None or _named(exc, "ModelError", "APIError", "ResponseError"):
        return ModelError(f"{f.where} failed{f' (HTTP {status})' if status else ''}: {detail}")
    return None


def _named(exc: BaseException, *names: str) -> bool:
    """True when a class in the exception's MRO has one of `names`."""
    return any(cls.__name__ in names for cls in type(exc).__mro__)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) and status >= 400 else None


def _detail(exc: BaseException) -> str:
    text = str(getattr(exc, "error", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200]


@functools.cache
def _translating(base: type[BaseChatModel]) -> type[BaseChatModel]:
    """Subclass a LangChain chat model so that provider errors leave it as ModelErrors, streamed or not."""

    class Translating(base):  # type: ignore[valid-type,misc]  # the base is only known once its extra is imported
        failure: Failure = Field(exclude=True)

        def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
            try:
                return super()._generate(*args, **kwargs)
            except Exception as exc:
                raise self._translate(exc) from exc

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            try:
                yield from super()._stream(*args, **kwargs)
            except Exception as exc:
                raise self._translate(exc) from exc

        def _translate(self, exc: Exception) -> Exception:
            return provider_error(exc, self.failure) or exc

    Translating.__name__ = Translating.__qualname__ = base.__name__
    return Translating
