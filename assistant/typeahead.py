"""Read the answer prompt of a question while it is still being typed, so the answer starts sooner after enter.

On a CPU the local model's wait before its first word is reading the prompt: ~780 tokens of passages at 60-90 tokens
a second (BENCHMARKS.md). A user typing a question gives it seconds it would otherwise idle away. Whenever the draft
pauses, `Typeahead` retrieves for it as `ask` would and reads that prompt into llama.cpp's cache, a few dozen tokens
at a time. At enter, the answer's prompt reuses the longest prefix it shares with what was read: when the last
words typed do not change the passages, only the question itself is left to read.

Only one thread may use the model and the index at a time: `hold()` (called by `Chat.ask`) stops the reading after
its current step and waits for it; `release()` lets it go on with the next draft.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answer import plan_answer
from assistant.llm import prefill_steps

if TYPE_CHECKING:
    from assistant.chat import Chat

PAUSE_S = 0.3  # a draft is read once typing has paused this long (keystrokes come every ~0.1-0.3 s)
# Tokens read per step. Enter waits for the step under way; steps of 32 read ~20% slower than one big batch on 2 cores
# (63 against 81 tokens/s), steps of 64 about as fast (79).
STEP = 64
MIN_WORDS = 3


@dataclass
class Prepared:
    """The last draft whose prompt was read, and how far."""

    draft: str
    question: str = ""  # what was retrieved for and read: the draft without a word still being typed, with "?"
    tokens_read: int = 0  # tokens of its prompt in the model's cache
    tokens: int = 0  # tokens of its prompt once all are read (0 until then, or when it needs no model)


class Typeahead:
    """A background reader of the prompts of drafts (see module docstring). `draft()` is called on every keystroke."""

    def __init__(self, chat: Chat, pause: float = PAUSE_S, step: int = STEP) -> None:
        self.chat = chat
        self.pause = pause
        self.step = step
        self.last: Prepared | None = None
        self.errors: list[BaseException] = []  # what a draft's preparation raised (the answer itself will say it)
        self._cond = threading.Condition()
        self._draft = ""
        self._changed = 0.0
        self._held = False
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="typeahead", daemon=True)
        self._thread.start()

    def draft(self, text: str) -> None:
        """The text being typed has changed."""
        with self._cond:
            self._draft = text
            self._changed = time.monotonic()
            self._cond.notify_all()

    def hold(self) -> None:
        """Stop reading after the current step and wait until the model and index are free."""
        with self._cond:
            self._held = True
            self._cond.notify_all()
            while self._busy:
                self._cond.wait()

    def release(self) -> None:
        """Let reading go on (with the next draft)."""
        with self._cond:
            self._held = False
            self._draft = ""
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the reader for good."""
        self.hold()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _eligible(self, text: str) -> bool:
        if text.startswith("/") or len(text.split()) < MIN_WORDS:
            return False
        if self.last is not None and self.last.draft == text:
            return False
        # A follow-up that leans on earlier turns is rewritten by the model first: its prompt cannot be known yet.
        return not self.chat.rewrites(text)

    def _next(self) -> str | None:
        """Wait for a draft that has paused and is worth reading; None when closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                text = self._draft.strip()
                if not self._held and self._eligible(text):
                    wait = self._changed + self.pause - time.monotonic()
                    if wait <= 0:
                        self._busy = True
                        return text
                    self._cond.wait(wait)
                else:
                    self._cond.wait()

    def _run(self) -> None:
        self.chat.wait_warm()
        while (text := self._next()) is not None:
            try:
                self._prepare(text)
            except Exception as exc:  # a draft's failure must not end the chat; the answer will meet it and say so
                self.errors.append(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _prepare(self, text: str) -> None:
        chat = self.chat
        words = self._whole_words(text)
        # Most questions end with "?", and it moves MiniLM's vector enough to reorder passages: a draft is read as if
        # it were there, so the finished question's prompt matches it.
        question = words if words.endswith(("?", ".", "!")) else words + "?"
        self.last = prepared = Prepared(text, question)
        if len(words.split()) < MIN_WORDS:
            return
        plan = plan_answer(
            question, settings=chat.settings, retriever=chat.retriever, filters=chat.filters, prefer=chat.read_ahead
        )
        messages = plan.messages()
        if not messages:
            return
        chat.read_ahead = plan.excerpts
        for done in prefill_steps(chat.llm, messages, step=self.step):
            prepared.tokens_read = done
            with self._cond:
                # Stop for enter, or for a newer draft that has paused; go on while the user is still typing,
                # since the next draft's prompt most likely starts as this one does.
                newer = self._draft.strip() != text and time.monotonic() - self._changed >= self.pause
                if self._held or self._closed or newer:
                    return
        prepared.tokens = prepared.tokens_read

    def _whole_words(self, text: str) -> str:
        """The draft without a fragment of a word still being typed ("... the Sarn River cea"): a fragment that is no
        word of the archive takes retrieval away from where the finished word will take it. A last word that is one
        (the question may be finished: "... under the ceasefire") stays."""
        head, _, last = text.rpartition(" ")
        if not head or not last[-1:].isalnum() or self.chat.retriever.store.knows_word(last):
            return text
        return head.rstrip()
