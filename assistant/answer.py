"""The answer chain: retrieve passages, number them, ask the chat model, keep only valid citations."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from assistant.coverage import coverage_gap
from assistant.prompting import REFUSAL, load_prompt
from assistant.quoting import answer_from_statements
from assistant.types import Answer, Citation, Filters, Passage
from assistant.verify import check_answer

if TYPE_CHECKING:
    from assistant.retrieval import Retriever
    from assistant.settings import Settings

_MARKER = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")


def format_passages(passages: Sequence[Passage]) -> str:
    """Number passages from 1 as the model sees them: marker, title, outlet and date, then the text."""
    blocks = []
    for n, p in enumerate(passages, start=1):
        meta = ", ".join(part for part in (p.source, p.published_at[:10]) if part)
        blocks.append(f"[{n}] {p.title}" + (f" ({meta})" if meta else "") + f"\n{p.text}")
    return "\n\n".join(blocks)


def answer_prompt() -> ChatPromptTemplate:
    """The system and user messages of the answer chain, from the prompt files."""
    system = load_prompt("answer_system", frozenset({"refusal"}))
    user = load_prompt("answer_user", frozenset({"passages", "question"}))
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)]).partial(refusal=REFUSAL)


def answer(
    question: str,
    *,
    settings: Settings,
    llm: BaseChatModel | Callable[[], BaseChatModel],
    retriever: Retriever,
    on_token: Callable[[str], None] | None = None,
    search_query: str | None = None,
    filters: Filters | None = None,
) -> Answer:
    """Answer `question` from the index: cited, or refused when the passages do not cover it.

    "What did X say (about Y)?" is answered from X's extracted statements when there are any (quote-first).
    `filters` keeps both paths to some outlets and dates.
    """
    query = search_query or question
    quoted = answer_from_statements(question, query, retriever.store, filters=filters)
    if quoted is not None:
        return quoted
    passages = retriever.search(query, filters=filters)
    gap = coverage_gap(query, retriever.store)
    if gap is not None:
        return Answer(question=question, text=REFUSAL, refused=True, passages=passages, reason=gap.reason())
    if not retriever.is_relevant(query, passages):
        reason = "no passage is close to the question and none mentions a name in it"
        return Answer(question=question, text=REFUSAL, refused=True, passages=passages, reason=reason)
    model = llm if isinstance(llm, BaseChatModel) else llm()  # a loader: only questions that need a model load it
    chain = answer_prompt() | model | StrOutputParser()
    pieces: list[str] = []
    for token in chain.stream({"passages": format_passages(passages), "question": query}):
        pieces.append(token)
        if on_token is not None:
            on_token(token)
    return finalize(question, "".join(pieces), passages)


def finalize(question: str, raw: str, passages: Sequence[Passage]) -> Answer:
    """Turn the model's raw text into a checked Answer: valid markers only, verbatim quotes only, cited sentences."""
    text = raw.strip()
    if is_refusal(text):
        reason = "the model found no answer in the passages"
        return Answer(question=question, text=REFUSAL, refused=True, passages=list(passages), reason=reason)
    checked = check_answer(text, passages, refusal=REFUSAL)
    if not checked.text.strip() or is_refusal(checked.text):
        # Nothing the passages back survived the check: say so rather than show unbacked text.
        reason = "no sentence of the model's answer was backed by the passages"
        return Answer(
            question=question, text=REFUSAL, refused=True, passages=list(passages), checked=checked, reason=reason
        )
    cited = list(dict.fromkeys(n for s in checked.sentences for n in s.citations))
    citations = [Citation(n, passages[n - 1]) for n in sorted(cited)]
    return Answer(
        question=question,
        text=checked.text,
        refused=False,
        citations=citations,
        passages=list(passages),
        checked=checked,
    )


def is_refusal(text: str) -> bool:
    """True when the model answered with the refusal sentence (alone, give or take punctuation and markers)."""
    bare = re.sub(r"[\W_]+", " ", _MARKER.sub("", text)).strip().lower()
    refusal = re.sub(r"[\W_]+", " ", REFUSAL).strip().lower()
    return bare == refusal or (bare.startswith(refusal) and len(bare) < len(refusal) + 40)
