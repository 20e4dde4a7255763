"""Chat reads the prompt of a question while it is typed: the answer then reads only what the draft's prompt lacked.

The real SmolLM2 GGUF (fast) stands in for the default model: what is checked is which tokens llama.cpp reads, and
that is plumbing, the same for any GGUF with a chat template.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

QUESTION = "How many prisoners will Kolmar and Esteria exchange under the ceasefire?"


@pytest.fixture(scope="module")
def smollm2() -> Iterator[Any]:
    from assistant.llm import make_chat_model
    from assistant.settings import load_settings

    yield make_chat_model("smollm2", load_settings())


@pytest.fixture
def reads(smollm2: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many tokens each `eval` of the model reads, from now on."""
    llama = smollm2.client
    counts: list[int] = []
    original = llama.eval

    def counting(tokens: Any) -> None:
        counts.append(len(tokens))
        original(tokens)

    monkeypatch.setattr(llama, "eval", counting)
    return counts


@pytest.fixture
def typing_chat(smollm2: Any, sample_retriever: Any, settings: Any) -> Iterator[tuple[Any, Any]]:
    """A chat on the sample index with its typeahead running, quick to read a draft (pause 0.05 s)."""
    from assistant.chat import Chat

    chat = Chat(settings, smollm2, sample_retriever)
    typeahead = chat.start_typeahead()
    typeahead.pause = 0.05
    try:
        yield chat, typeahead
    finally:
        typeahead.close()


def _until(condition: Callable[[], bool], limit: float = 120.0) -> None:
    """Wait for a background step to finish (a liveness guard, not a timing check)."""
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "the typeahead never finished"
        time.sleep(0.02)


def _messages(retriever: Any, settings: Any, question: str) -> list[Any]:
    from assistant.answer import plan_answer

    return plan_answer(question, settings=settings, retriever=retriever).messages()


def test_prefill_steps_read_exactly_the_tokens_the_chat_completion_reads(
    smollm2: Any, sample_retriever: Any, settings: Any, reads: list[int]
) -> None:
    from assistant.llm import _one_token, prefill_steps

    messages = _messages(sample_retriever, settings, QUESTION)
    assert messages, "the question must need the model"
    smollm2.client.n_tokens = 0
    steps = list(prefill_steps(smollm2, messages, step=40))
    total = steps[-1]
    assert total > 200 and all(n <= 40 for n in reads) and sum(reads) == total
    reads.clear()
    _one_token(smollm2, messages)
    assert sum(reads) <= 1  # the whole prompt was cached: at most the last token is read again for fresh logits
    # A prompt that shares only the system message with the cache costs the rest.
    reads.clear()
    other = _messages(sample_retriever, settings, "Why did the rail workers in Meridian go on strike?")
    again = list(prefill_steps(smollm2, other, step=40))
    assert again[0] < total and sum(reads) == again[-1] - again[0] > 100


def test_a_paused_draft_is_read_ahead_and_the_answer_reads_only_what_it_lacked(
    typing_chat: tuple[Any, Any], smollm2: Any, reads: list[int]
) -> None:
    chat, typeahead = typing_chat
    smollm2.client.n_tokens = 0
    typeahead.draft(QUESTION.rstrip("?"))  # read as if the "?" were typed: it moves MiniLM's vector
    _until(lambda: typeahead.last is not None and typeahead.last.tokens > 0)
    read_ahead = sum(reads)
    assert typeahead.last is not None and read_ahead == typeahead.last.tokens > 200
    reads.clear()
    result = chat.ask(QUESTION)
    assert not typeahead.errors
    # The answer read its prompt's last token again at most, then generated token by token.
    assert reads[0] <= 1 and set(reads[1:]) <= {1}, reads[:5]
    assert result.passages  # answered from the same passages, through the whole chain

    # Without the draft, the same question reads its whole user message.
    reads.clear()
    smollm2.client.n_tokens = 0
    chat.reset()
    chat.ask(QUESTION)
    assert reads[0] >= read_ahead - 5


def test_the_answer_keeps_the_excerpts_read_ahead_where_they_are_as_good(
    typing_chat: tuple[Any, Any], smollm2: Any, reads: list[int]
) -> None:
    """The last word typed ("water") changes which sentences of a passage are closest to the question, but the
    draft's choice shares as many words with it: the answer keeps it, and reads only its question again."""
    question = "Why did Harbor City ration water?"
    draft = question.rsplit(" ", 1)[0]
    chat, typeahead = typing_chat
    after_enter = []
    for keep in (True, False):
        typeahead.last = None
        smollm2.client.n_tokens = 0
        typeahead.draft(draft)
        _until(lambda: typeahead.last is not None and typeahead.last.tokens > 0)
        assert chat.read_ahead
        if not keep:
            chat.read_ahead = {}  # as before: each passage's sentences chosen for the question alone
        reads.clear()
        result = chat.ask(question)
        assert not typeahead.errors and result.passages
        after_enter.append(reads[0])
        chat.reset()
    kept, chosen_anew = after_enter
    assert kept < 60 < 200 < chosen_anew, after_enter


def test_a_word_still_being_typed_is_left_out_of_the_draft_unless_the_archive_has_it(
    typing_chat: tuple[Any, Any],
) -> None:
    _, typeahead = typing_chat
    head = "How many prisoners will Kolmar and Esteria exchange under the"
    for typed, read in ((f"{head} cea", f"{head}?"), (f"{head} ceasefire", f"{head} ceasefire?")):
        typeahead.draft(typed)
        _until(lambda typed=typed: typeahead.last is not None and typeahead.last.draft == typed)
        assert typeahead.last is not None and typeahead.last.question == read
    assert not typeahead.errors


def test_nothing_is_read_while_held_or_for_a_follow_up_that_needs_the_conversation(
    typing_chat: tuple[Any, Any],
) -> None:
    chat, typeahead = typing_chat
    typeahead.hold()
    typeahead.draft(QUESTION)
    time.sleep(0.5)
    assert typeahead.last is None  # held: the main thread has the model
    typeahead.release()
    typeahead.draft(QUESTION)
    _until(lambda: typeahead.last is not None and typeahead.last.draft == QUESTION)
    chat.history.append((QUESTION, "They will exchange 340 prisoners."))
    typeahead.draft("And what did he say about the observers")  # a pronoun: `ask` rewrites it with the model
    typeahead.draft("/sources")  # a command, not a question
    time.sleep(0.5)
    assert typeahead.last.draft == QUESTION


def _last_logits(llama: Any) -> Any:
    import llama_cpp
    import numpy as np

    row = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(llama.n_vocab(),)).copy()


def test_an_interrupt_stops_llama_cpp_within_a_step_and_leaves_the_cache_as_before_it(
    smollm2: Any, sample_retriever: Any, settings: Any
) -> None:
    import numpy as np

    from assistant.llm import Interrupt, _prompt_tokens, prefill_steps

    llama = smollm2.client
    messages = _messages(sample_retriever, settings, QUESTION)
    tokens = _prompt_tokens(llama, messages)
    assert tokens is not None and len(tokens) > 200
    llama.n_tokens = 0
    llama.eval(tokens[:100])
    llama.eval(tokens[100:])
    expected = _last_logits(llama)
    interrupt = Interrupt.of(smollm2)
    assert interrupt is not None
    llama.n_tokens = 0
    llama.eval(tokens[:100])
    interrupt.set()
    try:
        with pytest.raises(RuntimeError):  # llama.cpp asked the flag and stopped
            llama.eval(tokens[100:])
        assert llama.n_tokens == 100
        assert list(prefill_steps(smollm2, messages, step=40, interrupt=interrupt)) == [100]
    finally:
        interrupt.clear()
    llama.eval(tokens[100:])  # goes on from the cache as it was before the interrupted step
    assert np.array_equal(_last_logits(llama), expected)


def test_the_prompt_start_is_saved_once_then_loaded_with_the_same_logits(
    smollm2: Any, reads: list[int], tmp_path: Path
) -> None:
    import numpy as np

    from assistant.answer import prompt_start
    from assistant.llm import _prompt_tokens, prefill_saved

    llama = smollm2.client
    start = prompt_start()
    tokens = _prompt_tokens(llama, start)
    assert tokens is not None
    rest = llama.tokenize(b"\n\n[1] Harbor City council votes to expand the tram line", add_bos=False)
    llama.n_tokens = 0
    prefill_saved(smollm2, start, tmp_path)  # nothing saved yet: read, then saved
    assert sum(reads) == llama.n_tokens == len(tokens)
    (saved,) = (tmp_path / "prompt-states").glob("*.state")
    llama.eval(rest)
    expected = _last_logits(llama)

    llama.n_tokens = 0
    llama.eval(rest)  # the cache now holds other tokens, which the load must replace
    llama.n_tokens = 0
    reads.clear()
    prefill_saved(smollm2, start, tmp_path)
    assert reads == [] and llama.n_tokens == len(tokens)
    assert llama.input_ids[: len(tokens)].tolist() == tokens
    llama.eval(rest)
    assert np.allclose(_last_logits(llama), expected, atol=1e-4)

    saved.write_bytes(b"not a llama.cpp state")  # a broken file is read anew and replaced
    llama.n_tokens = 0
    reads.clear()
    prefill_saved(smollm2, start, tmp_path)
    assert sum(reads) == llama.n_tokens == len(tokens)
    assert saved.stat().st_size > 100_000


def test_a_prompt_start_whose_reading_was_interrupted_is_not_saved(smollm2: Any, tmp_path: Path) -> None:
    from assistant.answer import prompt_start
    from assistant.llm import Interrupt, prefill_saved

    interrupt = Interrupt.of(smollm2)
    assert interrupt is not None
    smollm2.client.n_tokens = 0
    interrupt.set()
    try:
        prefill_saved(smollm2, prompt_start(), tmp_path, interrupt)
    finally:
        interrupt.clear()
    assert smollm2.client.n_tokens == 0
    assert not list(tmp_path.rglob("*.state"))


def test_a_model_loader_reads_the_prompt_start_in_the_background(
    smollm2: Any, reads: list[int], tmp_path: Path
) -> None:
    from assistant.answer import prompt_start
    from assistant.llm import _prompt_tokens, lazy_chat_model
    from assistant.settings import load_settings

    start = prompt_start()
    smollm2.client.n_tokens = 0
    loader = lazy_chat_model("smollm2", load_settings(cache_dir=tmp_path), read_ahead=start)  # no state saved yet
    model = loader()  # waits for the background load and read
    assert model is smollm2  # the process's one load of this model
    tokens = _prompt_tokens(smollm2.client, start)
    assert tokens is not None and smollm2.client.n_tokens == len(tokens) == sum(reads) > 100
    loader.close()  # nothing left to stop

    # Closed before anyone asks: the reading stops (or had finished) and the model can still be had.
    smollm2.client.n_tokens = 0
    stopped = lazy_chat_model("smollm2", load_settings(cache_dir=tmp_path / "none"), read_ahead=start)
    stopped.close()
    assert smollm2.client.n_tokens <= len(tokens) and stopped() is smollm2
    assert not smollm2.client._assistant_interrupt.is_set()


def test_a_model_loader_without_background_reads_the_prompt_start_when_called(
    smollm2: Any, reads: list[int], tmp_path: Path
) -> None:
    from assistant.answer import prompt_start
    from assistant.llm import _prompt_tokens, lazy_chat_model, prefill_saved
    from assistant.settings import load_settings

    start = prompt_start()
    tokens = _prompt_tokens(smollm2.client, start)
    assert tokens is not None
    smollm2.client.n_tokens = 0
    prefill_saved(smollm2, start, tmp_path)  # an earlier process saved the state
    smollm2.client.n_tokens = 0
    reads.clear()
    loader = lazy_chat_model("smollm2", load_settings(cache_dir=tmp_path), read_ahead=start, background=False)
    time.sleep(0.2)
    assert reads == [] and smollm2.client.n_tokens == 0  # nothing happens until the model is needed
    assert loader() is smollm2
    assert reads == [] and smollm2.client.n_tokens == len(tokens)  # the saved state, loaded
    loader.close()


def _read_until(fd: int, needle: bytes, limit: float = 180.0) -> bytes:
    seen = b""
    end = time.monotonic() + limit
    while needle not in seen:
        assert time.monotonic() < end, f"never saw {needle!r}; got {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def test_chat_on_a_terminal_answers_a_typed_question(sample_home: Path, tmp_path: Path) -> None:
    """`assistant chat` on a pseudo-terminal: keystrokes go through the line editor and the typeahead (which reads
    the draft's prompt into SmolLM2 meanwhile), enter answers, /quit leaves cleanly."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "LINES": "40"}
    command = [sys.executable, "-m", "assistant.cli", "chat", "--model", "smollm2", "--index-dir", str(sample_home)]
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        _read_until(master, b"/quit or Ctrl-D")
        for char in QUESTION:
            os.write(master, char.encode())
            time.sleep(0.01)
        time.sleep(1.0)  # a pause: the typeahead retrieves for the draft in the background
        os.write(master, b"\r")
        out = _read_until(master, b"Checked answer")  # the streamed answer is over; the checked one follows
        assert b"Traceback" not in out
        os.write(master, b"/quit\r")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
