"""Chat model backends behind LangChain's `BaseChatModel`, chosen by a model string.

- `local`: the packaged Qwen2.5-Coder-1.5B-Instruct GGUF (joined and verified on first use), via llama-cpp-python.
- `smollm2`: the packaged SmolLM2-135M-Instruct GGUF: fast and weak, for plumbing tests.
- `gguf:PATH`: any GGUF file.
- `openai:NAME`, `anthropic:NAME`, `ollama:NAME`: served models (see assistant/providers.py); `openai:NAME` also
  reaches any OpenAI-compatible server through `openai_base_url`.
- `fake`: a recording fake that quotes the first passage it is shown (tests and demos of plumbing only).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

from assistant.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from langchain_core.callbacks import CallbackManagerForLLMRun

    from assistant.settings import Settings

# Loaded GGUF models are kept for the life of the process: chat, eval and benchmarks reuse one load.
_LOADED: dict[tuple[Any, ...], BaseChatModel] = {}


def check_model_spec(spec: str) -> None:
    """Raise ConfigError for a model string no backend understands, without loading anything."""
    kind, _, arg = spec.partition(":")
    if spec in {"local", "smollm2", "fake"} or (kind == "gguf" and arg):
        return
    from assistant.providers import PROVIDERS

    if kind not in PROVIDERS:
        raise ConfigError(
            f"unknown model '{spec}': use local, smollm2, gguf:PATH, openai:NAME, anthropic:NAME or ollama:NAME"
        )


def lazy_chat_model(
    spec: str, settings: Settings, read_ahead: Sequence[BaseMessage] | None = None, *, background: bool = True
) -> ModelLoader:
    """Check `spec` now and return a loader that builds the model on first call (quote-first answers need none).

    With `read_ahead` (the fixed start of the answer prompt), a local GGUF model is loaded at once in the background
    and reads those messages into its cache while retrieval runs; see `ModelLoader`. With `background=False` it is
    loaded on first call, and reads them then (from a saved state when there is one: `prefill_saved`).
    """
    check_model_spec(spec)
    return ModelLoader(spec, settings, read_ahead, background=background)


def _is_local(spec: str) -> bool:
    return spec in {"local", "smollm2"} or spec.startswith("gguf:")


class ModelLoader:
    """A chat model built on first call. With `read_ahead`, a local model is loaded and reads those messages on a
    background thread from the start: a one-shot `ask` spends ~6-8 s on 2 cores importing and loading what
    retrieval needs, long enough to load the model and read the ~280 tokens of the system rules (BENCHMARKS.md).
    The first call waits for that thread. `close()` stops a reading no answer needs (a quote-first answer, a
    refusal) within a step, so the process can exit at once.
    """

    def __init__(
        self,
        spec: str,
        settings: Settings,
        read_ahead: Sequence[BaseMessage] | None = None,
        *,
        background: bool = True,
    ) -> None:
        import threading

        self.spec = spec
        self.settings = settings
        self._read_ahead = list(read_ahead or [])
        self._model: BaseChatModel | None = None
        self._interrupt: Interrupt | None = None
        self._error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if read_ahead and background and _is_local(spec):
            self._thread = threading.Thread(target=self._load_and_read, args=(list(read_ahead),), daemon=True)
            self._thread.start()

    def _load_and_read(self, messages: list[BaseMessage]) -> None:
        try:
            model = make_chat_model(self.spec, self.settings)
            self._interrupt = Interrupt.of(model)
            self._model = model
            if not self._stopping.is_set():
                prefill_saved(model, messages, self.settings.cache_dir, self._interrupt)
        except BaseException as exc:  # raised again by the call that needs the model
            self._error = exc

    def _join(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
            if self._interrupt is not None:
                self._interrupt.clear()
            if self._error is not None:
                raise self._error

    def __call__(self) -> BaseChatModel:
        self._join()
        if self._model is None:
            self._model = make_chat_model(self.spec, self.settings)
            if self._read_ahead:
                prefill_saved(self._model, self._read_ahead, self.settings.cache_dir)
        return self._model

    def close(self) -> None:
        """Stop the background reading (if still under way) and wait for it; a load error no one asked for is
        dropped."""
        if self._thread is None:
            return
        self._stopping.set()
        if self._interrupt is not None:
            self._interrupt.set()
        self._error = None
        with contextlib.suppress(BaseException):
            self._join()


def make_chat_model(spec: str, settings: Settings) -> BaseChatModel:
    """Return the chat model named by `spec` (see module docstring)."""
    check_model_spec(spec)
    kind, _, arg = spec.partition(":")
    if spec == "local":
        from assistant.weights import local_model_path

        return _llama_cpp(local_model_path(settings.cache_dir), settings)
    if spec == "smollm2":
        from assistant.weights import smollm2_path

        return _llama_cpp(smollm2_path(), settings)
    if kind == "gguf" and arg:
        path = Path(arg).expanduser()
        if not path.is_file():
            raise ModelError(f"{path}: GGUF file not found")
        return _llama_cpp(path, settings)
    if spec == "fake":
        return RecordingChatModel(responder=quote_first_passage)
    from assistant.providers import make_provider_model

    return make_provider_model(kind, arg, settings)


def _llama_cpp(path: Path, settings: Settings) -> BaseChatModel:
    llm = settings.llm
    key = (str(path), llm.n_ctx, llm.n_threads, llm.temperature, llm.max_tokens, llm.seed)
    if key in _LOADED:
        return _LOADED[key]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain_community announces its own sunset on import
            from langchain_community.chat_models import ChatLlamaCpp
    except ImportError as exc:
        raise ModelError("llama-cpp-python is not installed: run `make install`") from exc
    try:
        model = ChatLlamaCpp(
            model_path=str(path),
            n_ctx=llm.n_ctx,
            n_threads=llm.n_threads or os.cpu_count() or 1,  # llama.cpp's own default is half the cores
            n_batch=512,  # the default of 8 makes prompt reading several times slower
            model_kwargs={"flash_attn": True},  # ~4% faster prompt reading on this CPU (BENCHMARKS.md)
            temperature=llm.temperature,
            top_k=1 if llm.temperature == 0 else 40,
            repeat_penalty=1.0,  # a penalty on repeats fights verbatim quoting
            max_tokens=llm.max_tokens,
            seed=llm.seed,
            streaming=True,
            verbose=False,
        )
    except ValueError as exc:
        raise ModelError(f"cannot load GGUF model {path}: {exc}".splitlines()[0]) from exc
    _LOADED[key] = model
    return model


def verdict_first(model: BaseChatModel, verdict: str | None = None) -> Runnable[Any, Any]:
    """For a yes/no question: a local model whose answer must open with "Yes" or "No", or be the refusal sentence.

    Small local models answer a yes/no question with a summary that never says which (measured on MultiHop-RAG
    dev questions); a llama.cpp grammar fixes the first word and leaves the rest free. With `verdict` ("Yes" or
    "No", decided by `yes_probability`) the first word can only be that one. Other models are returned as they are:
    the prompt asks them for the same.
    """
    if not is_llama_cpp(model):
        return model
    from llama_cpp import LlamaGrammar

    from assistant.prompting import REFUSAL

    if verdict not in _VERDICT_GRAMMARS:
        words = f'"{verdict}"' if verdict else '("Yes" | "No")'
        rules = f'root ::= {words} [.,] rest | "{REFUSAL}"\nrest ::= [^\\x00]*'
        _VERDICT_GRAMMARS[verdict] = LlamaGrammar.from_string(rules, verbose=False)
    return model.bind(grammar=_VERDICT_GRAMMARS[verdict])


_VERDICT_GRAMMARS: dict[str | None, Any] = {}


def yes_probability(model: BaseChatModel, messages: Sequence[BaseMessage]) -> float | None:
    """How much the local model prefers "Yes" over "No" as the first word of its reply, from its logits.

    P(Yes) / (P(Yes) + P(No)) for the first token, or None for models whose logits are out of reach. A small model
    says "Yes" to most yes/no questions (measured on MultiHop-RAG dev questions); comparing this probability with a
    threshold calibrated on dev questions (`llm.yes_threshold`) corrects that bias. The prompt is read once: the
    answer that follows reuses llama.cpp's cache of it.
    """
    if not is_llama_cpp(model):
        return None
    from llama_cpp import LogitsProcessorList

    llama = getattr(model, "client")  # noqa: B009 (ChatLlamaCpp only)
    yes, no = (llama.tokenize(word, add_bos=False, special=False)[0] for word in (b"Yes", b"No"))
    seen: list[tuple[float, float]] = []

    def capture(input_ids: Any, scores: Any) -> Any:
        if not seen:
            seen.append((float(scores[yes]), float(scores[no])))
        return scores

    _one_token(model, messages, temperature=0.0, logits_processor=LogitsProcessorList([capture]))
    if not seen:
        return None
    logit_yes, logit_no = seen[0]
    return 1.0 / (1.0 + math.exp(max(-50.0, min(50.0, logit_no - logit_yes))))


def prefill(model: BaseChatModel, messages: Sequence[BaseMessage]) -> None:
    """Read `messages` into a local model's prompt cache, all at once (see `prefill_steps`)."""
    for _ in prefill_steps(model, messages, step=512):
        pass


def prefill_saved(
    model: BaseChatModel, messages: Sequence[BaseMessage], states_dir: Path, interrupt: Interrupt | None = None
) -> None:
    """Read `messages` (the fixed start of a prompt) into a local model's cache, from a file when one was saved.

    Reading the 300 tokens of the answer prompt's start costs ~4 s of both cores on this CPU, in every process that
    answers (chat's warm-up, `ask`'s read-ahead), at the same time as retrieval's imports. llama.cpp can write its
    state (the cache of those tokens: 8.6 MB for Qwen-1.5B) to a file and read it back in milliseconds. The file's
    name is a hash of everything the state depends on: the model file, the llama.cpp build and CPU features, the
    context settings and the tokens. A file that does not load, or holds other tokens, is read anew and replaced.
    A reading stopped by `interrupt` is not saved. Other models need nothing.
    """
    if not is_llama_cpp(model):
        return
    llama = getattr(model, "client")  # noqa: B009 (ChatLlamaCpp only)
    tokens = _prompt_tokens(llama, messages)
    path = _state_path(llama, tokens, states_dir) if tokens else None
    if tokens and path and llama.n_tokens == 0 and path.is_file() and _load_state(llama, path, tokens):
        return
    for _ in prefill_steps(model, messages, step=512, interrupt=interrupt):
        pass
    if tokens and path and llama.n_tokens == len(tokens) and llama.input_ids[: len(tokens)].tolist() == tokens:
        _save_state(llama, path, tokens)


def _state_path(llama: Any, tokens: list[int], states_dir: Path) -> Path | None:
    import hashlib

    import llama_cpp

    try:
        stat = os.stat(llama.model_path)
        context = llama.context_params
        facts = [
            os.path.realpath(llama.model_path),
            stat.st_size,
            stat.st_mtime_ns,
            llama_cpp.__version__,
            llama_cpp.llama_print_system_info(),
            *(repr(getattr(context, name, None)) for name in _STATE_CONTEXT_FIELDS),
            tokens,
        ]
    except (OSError, AttributeError):
        return None
    digest = hashlib.sha256(repr(facts).encode()).hexdigest()[:24]
    return states_dir / "prompt-states" / f"{Path(llama.model_path).stem}-{digest}.state"


# The context settings a saved state depends on (llama_context_params).
_STATE_CONTEXT_FIELDS = (
    *("n_ctx", "n_batch", "n_ubatch", "n_seq_max", "type_k", "type_v", "flash_attn_type", "flash_attn", "swa_full"),
    *("kv_unified", "rope_freq_base", "rope_freq_scale", "attention_type"),
)


def _load_state(llama: Any, path: Path, tokens: list[int]) -> bool:
    """Load a saved state into an empty cache; False (and the cache left empty) unless it holds exactly `tokens`."""
    import ctypes

    import llama_cpp

    found = (llama_cpp.llama_token * (len(tokens) + 1))()
    count = ctypes.c_size_t(0)
    loaded = llama_cpp.llama_state_load_file(
        llama._ctx.ctx, str(path).encode(), found, len(tokens) + 1, ctypes.byref(count)
    )
    if loaded and list(found[: count.value]) == tokens:
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        return True
    llama._ctx.kv_cache_clear()
    llama.n_tokens = 0
    return False


def _save_state(llama: Any, path: Path, tokens: list[int]) -> None:
    """Write the cache (holding exactly `tokens`) to `path`, replacing other saved states of the same model file."""
    import llama_cpp

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        if not llama_cpp.llama_state_save_file(llama._ctx.ctx, str(partial).encode(), array, len(tokens)):
            partial.unlink(missing_ok=True)
            return
        os.replace(partial, path)
        stem = path.name.rsplit("-", 1)[0]
        for old in path.parent.glob(f"{stem}-*.state"):
            if old != path:
                old.unlink(missing_ok=True)


class Interrupt:
    """A switch that stops a local model's prompt reading from another thread, in the middle of a step.

    llama.cpp asks an abort callback between the operations of its compute graph. A Python callback would take the
    GIL a thousand times a step, and wait for it whenever another thread runs Python; so the callback is libc's
    `strlen` over a two-byte flag: 1 ("\\x01") stops, 0 ("") goes on, and no Python runs in llama.cpp's loop. Either
    value reads as a C `bool`. An aborted step leaves the cache as before it (llama.cpp drops the step's tokens, and
    `Llama.eval` raises before it counts them), so a later read goes on from there.
    """

    def __init__(self, llama: Any) -> None:
        import ctypes

        import llama_cpp

        self._flag = ctypes.create_string_buffer(2)
        strlen = ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p).value
        if strlen is None:
            raise OSError("libc's strlen has no address")
        self._callback = llama_cpp.ggml_abort_callback(strlen)  # kept: llama.cpp holds only its address
        llama_cpp.llama_set_abort_callback(llama._ctx.ctx, self._callback, ctypes.cast(self._flag, ctypes.c_void_p))

    @classmethod
    def of(cls, model: BaseChatModel) -> Interrupt | None:
        """The interrupt of a local model, installed on first use; None for other models or where libc is not
        reachable this way (then a step under way is finished)."""
        if not is_llama_cpp(model):
            return None
        llama = getattr(model, "client")  # noqa: B009 (ChatLlamaCpp only)
        if getattr(llama, "_assistant_interrupt", None) is None:
            try:
                llama._assistant_interrupt = cls(llama)
            except (OSError, AttributeError, TypeError):
                return None
        interrupt: Interrupt = llama._assistant_interrupt
        return interrupt

    def set(self) -> None:
        self._flag[0] = b"\x01"

    def clear(self) -> None:
        self._flag[0] = b"\x00"

    def is_set(self) -> bool:
        return self._flag[0] != b"\x00"


def prefill_steps(
    model: BaseChatModel, messages: Sequence[BaseMessage], step: int = 64, interrupt: Interrupt | None = None
) -> Iterator[int]:
    """Read `messages` into a local model's prompt cache `step` tokens at a time, yielding the count cached so far.

    The part already cached (the longest common prefix with what llama.cpp last read) is kept, so a prompt that
    shares its start with the previous one costs only the rest. Between steps the caller may stop: what was read stays
    cached, and the answer that follows reuses as much of it as its own prompt shares. `interrupt`, once set, ends the
    reading within the step under way (its tokens are dropped). Models whose prompt tokens are out of reach are read
    in one go; other models need nothing.
    """
    if not is_llama_cpp(model):
        return
    llama = getattr(model, "client")  # noqa: B009 (ChatLlamaCpp only)
    tokens = _prompt_tokens(llama, messages)
    if tokens is None:
        _one_token(model, messages)
        yield llama.n_tokens
        return
    cached = llama.input_ids[: llama.n_tokens].tolist()
    common = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        common += 1
    llama.n_tokens = common  # `eval` drops the cache beyond this point before it reads on
    yield common
    for start in range(common, len(tokens), step):
        if interrupt is None:
            llama.eval(tokens[start : start + step])
        elif not _eval_unless_interrupted(llama, tokens[start : start + step], interrupt):
            return
        yield llama.n_tokens


def _eval_unless_interrupted(llama: Any, tokens: list[int], interrupt: Interrupt) -> bool:
    """`llama.eval(tokens)`, or False if `interrupt` stopped it (llama.cpp then logs the dropped step: muted)."""
    import logging

    if interrupt.is_set():
        return False
    log = logging.getLogger("llama-cpp-python")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        llama.eval(tokens)
    except RuntimeError:
        if interrupt.is_set():
            return False
        raise
    finally:
        log.setLevel(level)
    return True


def _prompt_tokens(llama: Any, messages: Sequence[BaseMessage]) -> list[int] | None:
    """The tokens `create_chat_completion` reads for `messages` with the model's own chat template (None for others).

    Built as llama-cpp-python builds its default handler (`Llama.__init__`, `chat_formatter_to_chat_completion_handler`
    in 0.3.x); tests/test_typeahead.py checks that an answer after a prefill reads only what the prefill left out.
    """
    from langchain_community.chat_models.llamacpp import _convert_message_to_dict
    from llama_cpp import llama_chat_format

    template = llama.metadata.get("tokenizer.chat_template")
    if llama.chat_handler is not None or llama.chat_format != "chat_template.default" or not template:
        return None
    if getattr(llama, "_assistant_formatter", None) is None:
        eos, bos = llama.token_eos(), llama.token_bos()
        llama._assistant_formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
    result = llama._assistant_formatter(messages=[_convert_message_to_dict(m) for m in messages])
    tokens: list[int] = llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
    return tokens


def is_llama_cpp(model: BaseChatModel) -> bool:
    return type(model).__name__ == "ChatLlamaCpp"


def _one_token(model: BaseChatModel, messages: Sequence[BaseMessage], **options: Any) -> None:
    """Run a local model over `messages` for one token: the prompt lands in llama.cpp's cache, `options` see it."""
    from langchain_community.chat_models.llamacpp import _convert_message_to_dict

    llama = getattr(model, "client")  # noqa: B009 (ChatLlamaCpp only)
    llama.create_chat_completion(messages=[_convert_message_to_dict(m) for m in messages], max_tokens=1, **options)


@atexit.register
def _close_loaded() -> None:
    """Free llama.cpp models before interpreter teardown, when their finaliser would fail noisily."""
    for model in _LOADED.values():
        client = getattr(model, "client", None)
        if client is not None and hasattr(client, "close"):
            client.close()
    _LOADED.clear()


class RecordingChatModel(GenericFakeChatModel):
    """A fake chat model that records every prompt it receives; answers come from `responder` or `messages`."""

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    responder: Callable[[list[BaseMessage]], str] | None = None
    received: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.received.append(list(messages))
        if self.responder is not None:
            self.messages = iter([self.responder(list(messages))])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    @property
    def prompts(self) -> list[str]:
        """The text of every prompt received, messages joined."""
        return ["\n".join(str(m.content) for m in ms) for ms in self.received]


def quote_first_passage(messages: Sequence[BaseMessage]) -> str:
    """Fake responder: quote the first sentence of passage [1] of the prompt, cited; rewrite follow-ups as-is."""
    prompt = str(messages[-1].content)
    if "Standalone question:" in prompt:
        follow_up = re.search(r"Follow-up question: (.*)", prompt)
        return follow_up.group(1).strip() if follow_up else ""
    match = re.search(r"^\[1\][^\n]*\n(.+?)(?:\n\n|\Z)", prompt, re.MULTILINE | re.DOTALL)
    if not match:
        from assistant.prompting import REFUSAL

        return REFUSAL
    first = re.split(r"(?<=[.!?])\s", match.group(1).strip(), maxsplit=1)[0]
    return f'The first passage says: "{first}" [1]'
