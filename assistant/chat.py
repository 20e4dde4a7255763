"""A conversation: follow-ups are rewritten into standalone questions, then answered by the same `answer()`."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser

from assistant.answer import answer, plan_answer, prompt_start
from assistant.llm import prefill_saved
from assistant.prompting import load_prompt

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.retrieval import Retriever
    from assistant.settings import Settings
    from assistant.typeahead import Typeahead
    from assistant.types import Answer, Filters

_TURNS_KEPT = 3
_PRONOUN = re.compile(r"\b(he|she|they|him|her|his|hers|them|their|it|its|that|this|those)\b", re.IGNORECASE)
_ANSWER_CHARS_KEPT = 400
_WARM_QUESTION = "What happened?"  # no name or outlet: it goes through search, the checks and the excerpts


@dataclass
class Chat:
    """Holds the history of one conversation; `ask()` answers the next question in its context."""

    settings: Settings
    llm: BaseChatModel
    retriever: Retriever
    history: list[tuple[str, str]] = field(default_factory=list)  # (standalone question, answer text)
    last: Answer | None = None
    filters: Filters | None = None  # outlets and dates the whole conversation keeps to
    _warming: list[threading.Thread] = field(default_factory=list, repr=False)
    typeahead: Typeahead | None = field(default=None, repr=False)
    # The sentences of each passage in the prompt the typeahead read last (`Plan.excerpts`): where just as good, the
    # answer's prompt shows the same ones, so it can reuse what was read.
    read_ahead: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)

    def warm_up(self) -> None:
        """Get ready for the first question in the background: the model and the index, side by side.

        - Read the fixed start of the answer prompt into the local model's cache. llama.cpp reuses the longest cached
          prefix of a prompt, so the first question then costs only its passages (about 4 s less on 2 cores for
          Qwen-1.5B). After the first chat, that cache is loaded from a file instead (`prefill_saved`).
        - Plan an answer to a throwaway question: the first retrieval of a process imports sentence-transformers and
          Chroma and loads MiniLM and the index's word lists, 6-8 s on 2 cores that the first question would
          otherwise wait for after enter (BENCHMARKS.md).

        Run side by side, both are done ~1-2 s sooner than one after the other. `ask` and the typeahead wait for them.
        """
        messages = prompt_start()
        self._warming = [
            threading.Thread(target=self._warm_retrieval, daemon=True),
            threading.Thread(target=prefill_saved, args=(self.llm, messages, self.settings.cache_dir), daemon=True),
        ]
        for thread in self._warming:
            thread.start()

    def _warm_retrieval(self) -> None:
        with contextlib.suppress(Exception):  # the first real question meets the same error and says it
            plan_answer(_WARM_QUESTION, settings=self.settings, retriever=self.retriever, filters=self.filters)

    def wait_warm(self) -> None:
        """Wait for `warm_up` to finish (if it ran)."""
        for thread in list(self._warming):
            thread.join()

    def start_typeahead(self) -> Typeahead:
        """Read the prompt of the question being typed ahead of enter (see assistant/typeahead.py); feed it with
        `typeahead.draft(text)` on every keystroke."""
        from assistant.typeahead import Typeahead

        if self.typeahead is None:
            self.typeahead = Typeahead(self)
        return self.typeahead

    def rewrites(self, question: str) -> bool:
        """Whether `ask` would have the model rewrite this question with the conversation's context first."""
        return bool(self.history) and needs_context(question)

    def ask(self, question: str, on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer a question, resolving references to earlier turns first.

        Only a question that leans on the conversation ("he", "that", "and what about...", a few words) is rewritten:
        a rewrite is a whole model call before the answer's first word, and a question that names what it asks about
        gains nothing from it.
        """
        if self.typeahead is not None:
            self.typeahead.hold()
        try:
            return self._ask(question, on_token)
        finally:
            if self.typeahead is not None:
                self.typeahead.release()

    def _ask(self, question: str, on_token: Callable[[str], None] | None) -> Answer:
        self.wait_warm()
        standalone = self.condense(question) if self.rewrites(question) else question
        result = answer(
            question,
            settings=self.settings,
            llm=self.llm,
            retriever=self.retriever,
            on_token=on_token,
            search_query=standalone,
            filters=self.filters,
            prefer=self.read_ahead,
        )
        self.read_ahead = {}
        if standalone != question:
            result.standalone_question = standalone
        self.history.append((standalone, result.text))
        self.last = result
        return result

    def condense(self, question: str) -> str:
        """Rewrite a follow-up ("What else did he say?") into a standalone question using the history."""
        turns = self.history[-_TURNS_KEPT:]
        history = "\n".join(f"User: {q}\nAssistant: {a[:_ANSWER_CHARS_KEPT]}" for q, a in turns)
        prompt = load_prompt("condense", frozenset({"history", "question"})).format(history=history, question=question)
        raw = (self.llm | StrOutputParser()).invoke([HumanMessage(prompt)])
        rewritten = _first_line(raw)
        # A small model sometimes answers instead of rewriting, or leaves the pronoun in place: then the last
        # standalone question goes along as context, so retrieval still finds who "he" is.
        unresolved = rewritten.lower() == question.lower() and _PRONOUN.search(question)
        # A rewrite of a question is a question: "The following is a standalone question..." is not.
        not_a_question = question.rstrip().endswith("?") and not rewritten.rstrip().endswith("?")
        if not rewritten or unresolved or not_a_question or len(rewritten) > 4 * len(question) + 200:
            return f"{question} ({turns[-1][0]})"
        return rewritten

    def reset(self) -> None:
        """Forget the conversation."""
        self.history.clear()
        self.last = None


_LEANS_ON = re.compile(r"^\s*(?:and|also|but|so|what about|how about|who else|what else)\b", re.IGNORECASE)


def needs_context(question: str) -> bool:
    """Whether a follow-up leans on earlier turns: a pronoun, an opening "and"/"what about", or a few words."""
    return bool(_PRONOUN.search(question) or _LEANS_ON.search(question) or len(question.split()) <= 4)


def _first_line(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line.strip(), flags=re.IGNORECASE)
    return line.strip().strip('"“”').strip()
