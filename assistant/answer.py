"""The answer chain: retrieve passages, number them, ask the chat model, keep only valid citations."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

from assistant.coverage import coverage_gap
from assistant.llm import verdict_first, yes_probability
from assistant.prompting import REFUSAL, load_prompt
from assistant.quoting import answer_from_statements
from assistant.types import Answer, Citation, Filters, Passage
from assistant.verify import CheckedSentence, check_answer, cited_numbers, content_terms

if TYPE_CHECKING:
    from assistant.retrieval import Retriever
    from assistant.settings import Settings

_MARKER = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")


Closeness = Callable[[Sequence[str]], Sequence[float]]  # how close in meaning each sentence is to the question


def sentences_at(schedule: int | Sequence[int], rank: int) -> int:
    """How many sentences the passage at `rank` (0 = best) shows: `schedule` per rank, its last number for the rest."""
    if isinstance(schedule, int):
        return schedule
    return schedule[min(rank, len(schedule) - 1)] if schedule else 0


def format_passages(
    passages: Sequence[Passage],
    question: str = "",
    sentences: int | Sequence[int] = 0,
    prefer: Mapping[str, Sequence[int]] | None = None,
    closeness: Closeness | None = None,
    shown: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """Number passages from 1 as the model sees them: marker, title, outlet and date, then the text.

    A later passage of an article already shown names that passage instead of repeating the title ("[5] Same
    article as [1] (outlet, date)"): on MultiHop-RAG a title is ~20 prompt tokens, read after enter (BENCHMARKS.md).

    With `sentences` > 0 each passage is cut to its sentences sharing most words with the question (see `excerpt`);
    a sequence gives the count by rank (see `sentences_at`). `prefer` maps chunk ids to sentences to keep where they
    are as good a choice, and `closeness` breaks ties between sentences (see `excerpt_sentences`). `shown`, when
    given, is the choice already made (`shown_sentences`), and the other arguments after `passages` are not used.
    """
    if shown is None:
        shown = shown_sentences(passages, question, sentences, prefer, closeness)
    blocks = []
    first_of: dict[str, int] = {}  # article -> the number of its first passage
    for n, p in enumerate(passages, start=1):
        meta = ", ".join(part for part in (p.source, p.published_at[:10]) if part)
        text = mask_instructions(p.text, "[instructions to AI removed]")
        if p.chunk_id in shown:
            text = _excerpt_text(text, _spans(text), shown[p.chunk_id])
        heading = f"Same article as [{first_of[p.doc_id]}]" if p.doc_id in first_of else p.title
        first_of.setdefault(p.doc_id, n)
        blocks.append(f"[{n}] {heading}" + (f" ({meta})" if meta else "") + f"\n{text}")
    return "\n\n".join(blocks)


def shown_sentences(
    passages: Sequence[Passage],
    question: str,
    sentences: int | Sequence[int],
    prefer: Mapping[str, Sequence[int]] | None = None,
    closeness: Closeness | None = None,
) -> dict[str, tuple[int, ...]]:
    """The sentences `format_passages` keeps of each passage, by chunk id (none listed when no passage is cut)."""
    if not any(sentences_at(sentences, rank) for rank in range(len(passages))):
        return {}
    chosen = {}
    for rank, p in enumerate(passages):
        text = mask_instructions(p.text, "[instructions to AI removed]")
        count = sentences_at(sentences, rank)
        chosen[p.chunk_id] = (
            excerpt_sentences(text, question, count, (prefer or {}).get(p.chunk_id), closeness)
            if count
            else tuple(range(len(_spans(text))))
        )
    return chosen


def _spans(text: str) -> list[tuple[int, int]]:
    from index.chunking import sentence_spans

    return sentence_spans(text)


class SentenceCloseness:
    """Cosine similarity of sentences to one question by the index's embedder, for `excerpt_sentences`' ties.

    Sentences are embedded only when asked, and remembered (per embedder and text) across questions: chat's drafts of
    one question ask about the same sentences again.
    """

    _vectors: ClassVar[dict[tuple[str, str], Any]] = {}
    _LIMIT: ClassVar[int] = 20_000

    def __init__(self, embeddings: Any, question: str) -> None:
        self.embeddings = embeddings
        self.question = question
        self._question_vector: Any = None

    def prepare(self, passages: Sequence[Passage], sentences: int | Sequence[int]) -> None:
        """Embed every sentence the excerpts of `passages` may ask about, in one batch rather than one a passage."""
        wanted = []
        for rank, p in enumerate(passages):
            text = mask_instructions(p.text, "[instructions to AI removed]")
            wanted += tied_sentences(text, self.question, sentences_at(sentences, rank))
        if wanted:
            self(wanted)

    def __call__(self, sentences: Sequence[str]) -> list[float]:
        import numpy as np

        model = str(getattr(self.embeddings, "model_id", type(self.embeddings).__name__))
        missing = list(dict.fromkeys(s for s in sentences if (model, s) not in self._vectors))
        if missing or self._question_vector is None:
            if len(self._vectors) + len(missing) > self._LIMIT:
                self._vectors.clear()
            # MiniLM embeds questions and passages alike: one batch holds the question too. These vectors are compared
            # and dropped, never stored: they are embedded as a question is (in bfloat16 where the CPU has it: 86
            # against 134 ms p50 on MultiHop, the same sentences shown for 100 of 100 questions; BENCHMARKS.md).
            ask = missing if self._question_vector is not None else [self.question, *missing]
            embed = getattr(self.embeddings, "embed_questions", self.embeddings.embed_documents)
            vectors = [np.asarray(v) for v in embed(ask)]
            if self._question_vector is None:
                self._question_vector = vectors.pop(0)
            for s, vector in zip(missing, vectors, strict=True):
                self._vectors[(model, s)] = vector
        return [float(self._vectors[(model, s)] @ self._question_vector) for s in sentences]


# Sentences in an article that address the model rather than the reader ("Ignore all previous instructions",
# "Note to AI assistants: ...", "[SYSTEM] ..."). The prompt already says passages are data; these sentences are also
# hidden from the model and cannot lend support or quotations to an answer, so obeying one leaves nothing to show.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions?|prompts?|rules|messages?)"
    r"|\b(?:note|message|instructions?|notice)\s+(?:to|for)\s+(?:any\s+|all\s+)?"
    r"(?:ai|a\.i\.|assistants?|language\s+models?|llms?|chatbots?|ai\s+assistants?|ai\s+models?)\b"
    r"|\b(?:new\s+)?instructions?\s+for\s+(?:any|the|all)\s+(?:ai|assistant|language\s+model|llm|chatbot)"
    r"|\[/?(?:system|inst)\]|<\|?(?:system|im_start|im_end)\|?>"
    r"|\b(?:reply|respond|answer)\s+(?:only|exactly|solely)\s+with\b"
    r"|\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot)\b",
    re.IGNORECASE,
)


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of text that give orders to an AI model (see `_INSTRUCTION`)."""
    from index.chunking import sentence_spans

    if not _INSTRUCTION.search(text):
        return []
    return [(a, b) for a, b in sentence_spans(text) if _INSTRUCTION.search(text[a:b])]


def mask_instructions(text: str, mask: str = " ") -> str:
    """Text with every instruction sentence blanked out (same length with the default mask, so offsets hold)."""
    for a, b in reversed(instruction_spans(text)):
        text = text[:a] + (mask * (b - a) if len(mask) == 1 else mask) + text[b:]
    return text


def excerpt_sentences(
    text: str,
    question: str,
    sentences: int,
    prefer: Sequence[int] | None = None,
    closeness: Closeness | None = None,
) -> tuple[int, ...]:
    """Which sentences of text `excerpt` shows: the `sentences` that share most content words with the question.

    Sentences that share as many words compete where the cut falls: `closeness` (see `SentenceCloseness`), when given,
    ranks them by meaning, else the earlier sentence wins. Measured on MultiHop-RAG dev questions, ranking ties by
    MiniLM's cosine keeps 1.5-1.8 points more of the gold facts the passages hold than taking the earlier sentence
    (`bench/excerpt_choice.py`). Unless `prefer` (sentences shown before, e.g. in the prompt of the question's draft
    that chat read ahead) is as good a choice: its sentences share as many words with the question, one for one.
    Keeping them keeps the prompt the same as the one already read.
    """
    spans, shared, order = _by_shared_words(text, question)
    if len(spans) <= sentences:
        return tuple(range(len(spans)))
    valid = prefer is not None and len(set(prefer)) == sentences and all(0 <= i < len(spans) for i in prefer)
    if valid and sorted(shared[i] for i in set(prefer or ())) == sorted(shared[i] for i in order[:sentences]):
        return tuple(sorted(set(prefer or ())))
    tied = _tied_at_cut(shared, order, sentences)
    if closeness is not None and tied:
        near = dict(zip(tied, closeness([text[spans[i][0] : spans[i][1]] for i in tied]), strict=True))
        order = sorted(range(len(spans)), key=lambda i: (-shared[i], -near.get(i, 0.0), i))
    return tuple(sorted(order[:sentences]))


def tied_sentences(text: str, question: str, sentences: int) -> list[str]:
    """The sentences of text that `excerpt_sentences` would ask `closeness` about (none when no tie meets the cut)."""
    spans, shared, order = _by_shared_words(text, question)
    if not 0 < sentences < len(spans):
        return []
    return [text[spans[i][0] : spans[i][1]] for i in _tied_at_cut(shared, order, sentences)]


def _by_shared_words(text: str, question: str) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """The sentence spans of text, how many content words each shares with the question, and their order by that
    (ties: the earlier first)."""
    spans = _spans(text)
    wanted = content_terms(question)
    shared = [len(content_terms(text[a:b]) & wanted) for a, b in spans]
    return spans, shared, sorted(range(len(spans)), key=lambda i: (-shared[i], i))


def _tied_at_cut(shared: Sequence[int], order: Sequence[int], sentences: int) -> list[int]:
    """Sentences sharing as many words as the last one kept, when one of them falls just outside the cut."""
    if sentences <= 0:
        return []
    cut = shared[order[sentences - 1]]
    if sentences < len(order) and shared[order[sentences]] == cut:
        return [i for i in range(len(shared)) if shared[i] == cut]
    return []


def excerpt(
    text: str,
    question: str,
    sentences: int,
    prefer: Sequence[int] | None = None,
    closeness: Closeness | None = None,
) -> str:
    """The `sentences` sentences of text that share most content words with the question, in text order.

    Omitted stretches are marked "...". The model reads less (prompt reading dominates the wait on a CPU), and what it
    quotes is still checked against the whole passage. See `excerpt_sentences` for `prefer` and `closeness`, and
    BENCHMARKS.md for how much of the gold facts excerpts keep.
    """
    spans = _spans(text)
    if len(spans) <= sentences:
        return text
    return _excerpt_text(text, spans, excerpt_sentences(text, question, sentences, prefer, closeness))


def _excerpt_text(text: str, spans: Sequence[tuple[int, int]], keep: Sequence[int]) -> str:
    """The sentences `keep` of text (spans: its sentences), omitted stretches marked "..."; text itself if all kept."""
    if len(keep) >= len(spans):
        return text
    runs: list[list[int]] = []  # stretches of consecutive kept sentences, shown as the text has them
    for i in keep:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    shown = " ... ".join(text[spans[run[0]][0] : spans[run[-1]][1]].strip() for run in runs)
    return ("... " if keep[0] else "") + shown + (" ..." if keep[-1] != len(spans) - 1 else "")


def answer_prompt() -> ChatPromptTemplate:
    """The system and user messages of the answer chain, from the prompt files (fill with `prompt_inputs`)."""
    system = load_prompt("answer_system", frozenset({"refusal"}))
    user = load_prompt("answer_user", frozenset({"passages", "question", "reply"}))
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)]).partial(refusal=REFUSAL)


def prompt_start() -> list[BaseMessage]:
    """The answer prompt with no passages and no question: its start (system rules, the user message's opening line)
    is the same for every question, so chat and `ask` have a local model read it ahead (llama.cpp reuses it)."""
    return answer_prompt().format_messages(**prompt_inputs("", ""))


def prompt_inputs(passages: str, question: str) -> dict[str, str]:
    """The user message's variables: the numbered passages, the question, and the closing line for its kind.

    The closing line asks a who/which/what question for the name first: with a general "direct answer first" line the
    1.5B model restated the question instead, or echoed the line itself (8 of 12 dev questions answered against 5).
    """
    reply = load_prompt("answer_reply_yes_no" if is_yes_no(question) else "answer_reply_open", frozenset())
    return {"passages": passages, "question": question, "reply": reply.strip()}


@dataclass(frozen=True)
class Plan:
    """What answering a question takes: either an answer already made (quote-first, or refused before any model) or
    the inputs of the answer prompt."""

    passages: list[Passage]
    done: Answer | None = None
    inputs: dict[str, str] | None = None
    excerpts: dict[str, tuple[int, ...]] = field(default_factory=dict)  # sentences shown of each passage (chunk id)

    def messages(self) -> list[BaseMessage]:
        """The messages the chat model reads (empty when no model is needed)."""
        return answer_prompt().format_messages(**self.inputs) if self.inputs is not None else []


def plan_answer(
    question: str,
    *,
    settings: Settings,
    retriever: Retriever,
    search_query: str | None = None,
    filters: Filters | None = None,
    prefer: Mapping[str, Sequence[int]] | None = None,
) -> Plan:
    """Everything `answer()` does before the chat model: quote-first, retrieval, the checks that refuse early, and
    the prompt. Chat also runs it on a question still being typed, to read that prompt into the model ahead; `prefer`
    is the `excerpts` of the prompt read last, kept where just as good (see `excerpt_sentences`)."""
    query = search_query or question
    quoted = answer_from_statements(question, query, retriever.store, filters=filters)
    if quoted is not None:
        return Plan(quoted.passages, done=quoted)
    passages = retriever.search(query, filters=filters)
    gap = coverage_gap(query, retriever.store)
    if gap is not None:
        return Plan(passages, done=Answer(question, REFUSAL, refused=True, passages=passages, reason=gap.reason()))
    if not retriever.is_relevant(query, passages):
        reason = "no passage is close to the question and none mentions a name in it"
        return Plan(passages, done=Answer(question, REFUSAL, refused=True, passages=passages, reason=reason))
    passages = retriever.worth_showing(query, passages)
    sentences = settings.retrieval.excerpt_sentences
    closeness = SentenceCloseness(retriever.store.embeddings, query)
    closeness.prepare(passages, sentences)
    excerpts = shown_sentences(passages, query, sentences, prefer, closeness)
    shown = format_passages(passages, shown=excerpts)
    return Plan(passages, inputs=prompt_inputs(shown, query), excerpts=excerpts)


def answer(
    question: str,
    *,
    settings: Settings,
    llm: BaseChatModel | Callable[[], BaseChatModel],
    retriever: Retriever,
    on_token: Callable[[str], None] | None = None,
    search_query: str | None = None,
    filters: Filters | None = None,
    prefer: Mapping[str, Sequence[int]] | None = None,
) -> Answer:
    """Answer `question` from the index: cited, or refused when the passages do not cover it.

    "What did X say (about Y)?" is answered from X's extracted statements when there are any (quote-first).
    `filters` keeps both paths to some outlets and dates. `prefer`: see `plan_answer`.
    """
    plan = plan_answer(
        question, settings=settings, retriever=retriever, search_query=search_query, filters=filters, prefer=prefer
    )
    if plan.done is not None:
        return plan.done
    assert plan.inputs is not None
    passages, inputs = plan.passages, plan.inputs
    model = llm if isinstance(llm, BaseChatModel) else llm()  # a loader: only questions that need a model load it
    yes_no = is_yes_no(inputs["question"])
    runnable: Runnable[Any, Any] = model
    if yes_no:
        p_yes = yes_probability(model, plan.messages())
        verdict = None if p_yes is None else ("Yes" if p_yes >= settings.llm.yes_threshold else "No")
        runnable = verdict_first(model, verdict)
    chain = answer_prompt() | runnable | StrOutputParser()
    pieces: list[str] = []
    for token in chain.stream(inputs):
        pieces.append(token)
        if on_token is not None:
            on_token(token)
        if len(pieces) % 8 == 0 and repetition_start("".join(pieces)) is not None:
            break  # greedy decoding of a small model can loop; what follows the first round adds nothing
    raw = "".join(pieces)
    return finalize(question, raw[: repetition_start(raw)], passages, yes_no=yes_no)


_LOOP_CHARS = 60


def repetition_start(text: str) -> int | None:
    """Where text starts repeating itself, if it does: a sentence end before the earlier copy of its tail ends."""
    if len(text) < 2 * _LOOP_CHARS:
        return None
    tail = text[-_LOOP_CHARS:]
    earlier = text.find(tail, 0, len(text) - 1)
    if earlier < 0 or earlier + _LOOP_CHARS > len(text) - _LOOP_CHARS:
        return None
    cut = earlier + _LOOP_CHARS
    sentence_end = max(text.rfind(mark, 0, cut) for mark in (". ", "] ", "\n", '." ', '" '))
    return sentence_end + 1 if sentence_end > 0 else cut


_AUXILIARY = r"(?:does|did|do|is|are|was|were|has|have|had|can|could|will|would|should)"
_YES_NO = re.compile(
    rf"^\s*{_AUXILIARY}\b"
    rf"|^\s*(?:after|before|between|following|considering|given|according|although|while|in|when|with|comparing|"
    rf"based)\b[^?]*?,\s*{_AUXILIARY}\b",
    re.IGNORECASE,
)


def is_yes_no(question: str) -> bool:
    """A question answered by yes or no: "Did ...?", or "After the report on ..., was there ...?"."""
    return bool(_YES_NO.search(question))


_VERDICT = re.compile(r"^(Yes|No)\b[\s.,;:!-]*", re.IGNORECASE)


def finalize(question: str, raw: str, passages: Sequence[Passage], *, yes_no: bool = False) -> Answer:
    """Turn the model's raw text into a checked Answer: valid markers only, verbatim quotes only, cited sentences.

    With `yes_no`, an opening "Yes"/"No" is the verdict and stands as its own sentence. When none of the sentences
    explaining it survive the check, the verdict is still shown, marked unsupported, citing the passages the model
    cited (or the two best ones): small models restate the question after the verdict, and that restatement finds
    no support even when the verdict is right (measured on MultiHop-RAG dev questions).
    """
    text = raw.strip()
    if is_refusal(text):
        reason = "the model found no answer in the passages"
        return Answer(question=question, text=REFUSAL, refused=True, passages=list(passages), reason=reason)
    verdict = _VERDICT.match(text) if yes_no else None
    if verdict is not None:
        rest = text[verdict.end() :]
        text = f"{verdict.group(1).capitalize()}." + (f" {rest[:1].upper()}{rest[1:]}" if rest else "")
    # Checked against the passages as the model saw them: a sentence copied from planted instructions has no support.
    evidence = [replace(p, text=mask_instructions(p.text)) for p in passages]
    checked = check_answer(text, evidence, refusal=REFUSAL)
    if not any(s.citations for s in checked.sentences):
        if verdict is not None:
            numbers = [n for n in cited_numbers(raw) if 1 <= n <= len(passages)] or _best_articles(passages, 2)
            reason = "the verdict alone: the sentences explaining it were not backed by the passages"
            alone: CheckedSentence | None = _alone(verdict.group(1).capitalize(), numbers, reason)
        else:
            alone = _named_answer(text, question, evidence)  # planted instructions cannot lend a name
        if alone is not None:
            checked.sentences = [alone]
            checked.text = alone.text
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


# "Sam Bankman-Fried is the individual who ...", "Alameda Research, covered by ...": a capitalised name opening the
# answer, before a verb or a comma.
_OPENING_NAME = re.compile(
    r"^((?:[A-Z][\w&'’.-]*|of|de|van|von|al|and)(?:\s+(?:[A-Z][\w&'’.-]*|of|de|van|von|al|and)){0,5}?)"
    r"(?=\s*(?:\[\d|,|\.|$|\s+(?:is|was|are|were|has|had|who|which|that)\b))"
)
_NOT_NAMES = {"the", "this", "that", "these", "those", "it", "its", "a", "an", "yes", "no", "which", "who", "what"}


def _named_answer(text: str, question: str, passages: Sequence[Passage]) -> CheckedSentence | None:
    """The name an answer opens with, alone, citing up to two passages that mention it; None when there is none.

    For a who/which/what question the 1.5B model often names the answer, then restates the question around it in one
    long sentence that no passage backs, so the checker drops the name with it. The name is kept when it is not in
    the question and passages mention it verbatim; it is marked unsupported, as the claim that it answers the
    question is the model's alone.
    """
    match = _OPENING_NAME.match(text.strip())
    if match is None:
        return None
    name = match.group(1).strip(" .")
    if not name or name.split()[0].lower() in _NOT_NAMES or name.lower() in question.lower():
        return None
    numbers = [n for n, p in enumerate(passages, start=1) if name in p.text or name in p.title][:2]
    if not numbers:
        return None
    return _alone(name, numbers, "the answer alone: the sentences around it were not backed by the passages")


def _alone(words: str, numbers: list[int], reason: str) -> CheckedSentence:
    """A one-word-or-name answer kept without the sentences the checker dropped: cited, and marked unsupported."""
    markers = "".join(f"[{n}]" for n in numbers)
    return CheckedSentence(f"{words} {markers}.", numbers, supported=False, support=0.0, reason=reason)


def _best_articles(passages: Sequence[Passage], count: int) -> list[int]:
    """Numbers of the best-ranked passage of each of the first `count` articles."""
    numbers: dict[str, int] = {}
    for n, p in enumerate(passages, start=1):
        if len(numbers) < count:
            numbers.setdefault(p.doc_id, n)
    return list(numbers.values())


def is_refusal(text: str) -> bool:
    """True when the model answered with the refusal sentence (alone, give or take punctuation and markers)."""
    bare = re.sub(r"[\W_]+", " ", _MARKER.sub("", text)).strip().lower()
    refusal = re.sub(r"[\W_]+", " ", REFUSAL).strip().lower()
    return bare == refusal or (bare.startswith(refusal) and len(bare) < len(refusal) + 40)
