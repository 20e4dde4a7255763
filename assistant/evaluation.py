"""Retrieval and answer metrics on questions shaped like MultiHop-RAG's `queries.*.jsonl`.

Retrieval metrics follow the benchmark's own `retrieval_evaluate.py`: a retrieved passage is a hit when a gold fact,
with spaces and newlines removed, is contained in the passage text with spaces and newlines removed (so a fact split
across two passages never hits). Null queries (no evidence) are excluded.

Answer metrics run the full answer chain. Answers and golds are normalised (case, punctuation, citation markers;
yes/true/correct read as "yes", no/false/incorrect as "no"). Strict: a yes/no gold must equal the answer's verdict
(its first yes/no-like word), any other gold must be contained in the answer, on word boundaries. Lenient is the
benchmark's own `qa_evaluate.py`: the answer shares at least one word with the gold. A refusal is never correct.
Quotations are audited here, apart from the checker in `assistant.verify` that repairs them: every quotation of three
or more words must be verbatim in a passage its sentence cites.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.types import Answer, Passage

_SPACE = re.compile(r"[ \n]+")


@dataclass(frozen=True)
class Query:
    """One benchmark question."""

    id: str
    question: str
    answer: str = ""
    question_type: str = ""
    facts: tuple[str, ...] = ()
    evidence_docs: tuple[str, ...] = ()

    @property
    def is_null(self) -> bool:
        """A question the corpus cannot answer."""
        return not self.facts or self.question_type == "null_query"


def load_queries(path: Path, *, limit: int | None = None) -> list[Query]:
    """Read questions from a JSONL file (`id`, `question`, and optionally `answer`, `question_type`, `evidence`)."""
    queries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read queries: {exc.strerror or exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            evidence = record.get("evidence") or []
            queries.append(
                Query(
                    id=str(record.get("id", number)),
                    question=str(record["question"]),
                    answer=str(record.get("answer") or ""),
                    question_type=str(record.get("question_type") or ""),
                    facts=tuple(str(e["fact"]) for e in evidence),
                    evidence_docs=tuple(str(e.get("doc_id", "")) for e in evidence),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a query record ({exc})") from exc
    return queries[:limit] if limit else queries


def sample_queries(queries: Sequence[Query], n: int, seed: int) -> list[Query]:
    """Draw n null and n answerable questions at random (fewer when fewer exist), kept in file order."""
    rng = random.Random(seed)
    null = [i for i, q in enumerate(queries) if q.is_null]
    answerable = [i for i, q in enumerate(queries) if not q.is_null]
    chosen = set(rng.sample(null, min(n, len(null)))) | set(rng.sample(answerable, min(n, len(answerable))))
    return [q for i, q in enumerate(queries) if i in chosen]


def squash(text: str) -> str:
    """Remove spaces and newlines, as the benchmark does before comparing."""
    return _SPACE.sub("", text)


def hit_ranks(facts: Sequence[str], passages: Sequence[Passage]) -> list[int | None]:
    """For each gold fact, the 1-based rank of the first passage containing it (None when none does)."""
    texts = [squash(p.text) for p in passages]
    ranks: list[int | None] = []
    for fact in facts:
        key = squash(fact)
        ranks.append(next((i for i, t in enumerate(texts, start=1) if key in t), None))
    return ranks


@dataclass
class RetrievalScores:
    """Sums of the per-question retrieval metrics, for the overall set and per question type."""

    n: int = 0
    hits4: float = 0.0
    hits10: float = 0.0
    mrr10: float = 0.0
    fact_recall10: float = 0.0
    all_evidence10: float = 0.0
    passage_tokens: float = 0.0
    passages: int = 0

    def add(self, ranks: Sequence[int | None], passage_tokens: Sequence[int]) -> None:
        """Add one question's fact ranks (over its top-10) and the token counts of its passages."""
        found = [r for r in ranks if r is not None and r <= 10]
        first = min(found) if found else None
        self.n += 1
        self.hits4 += 1.0 if first is not None and first <= 4 else 0.0
        self.hits10 += 1.0 if first is not None else 0.0
        self.mrr10 += 1.0 / first if first is not None else 0.0
        self.fact_recall10 += len(found) / len(ranks) if ranks else 0.0
        self.all_evidence10 += 1.0 if ranks and len(found) == len(ranks) else 0.0
        self.passage_tokens += sum(passage_tokens)
        self.passages += len(passage_tokens)

    def to_dict(self) -> dict[str, float | int]:
        """Return the means, rounded, in the shape `eval retrieval --json` prints."""
        n = max(self.n, 1)
        return {
            "n": self.n,
            "hits@4": round(self.hits4 / n, 4),
            "hits@10": round(self.hits10 / n, 4),
            "mrr@10": round(self.mrr10 / n, 4),
            "fact_recall@10": round(self.fact_recall10 / n, 4),
            "all_evidence@10": round(self.all_evidence10 / n, 4),
            "mean_passage_tokens": round(self.passage_tokens / max(self.passages, 1), 1),
        }


@dataclass
class RetrievalReport:
    """Overall and per-type retrieval scores."""

    overall: RetrievalScores = field(default_factory=RetrievalScores)
    by_type: dict[str, RetrievalScores] = field(default_factory=lambda: defaultdict(RetrievalScores))

    def add(self, query: Query, ranks: Sequence[int | None], passage_tokens: Sequence[int]) -> None:
        """Add one question to the overall and its type's scores."""
        self.overall.add(ranks, passage_tokens)
        self.by_type[query.question_type or "unknown"].add(ranks, passage_tokens)

    def to_dict(self) -> dict[str, Any]:
        """Return the report in the shape `eval retrieval --json` prints."""
        return {**self.overall.to_dict(), "by_type": {t: s.to_dict() for t, s in sorted(self.by_type.items())}}


def evaluate_retrieval(
    queries: Iterable[Query],
    search: Callable[[str], list[Passage]],
    count_tokens: Callable[[Sequence[str]], list[int]],
    *,
    on_progress: Callable[[], None] | None = None,
) -> RetrievalReport:
    """Run `search` (top-10) for each answerable question and score where the gold facts landed."""
    report = RetrievalReport()
    for query in queries:
        if query.is_null:
            continue
        passages = search(query.question)[:10]
        report.add(query, hit_ranks(query.facts, passages), count_tokens([p.text for p in passages]))
        if on_progress is not None:
            on_progress()
    return report


# --- answers -----------------------------------------------------------------------------------------------------

_MARKERS = re.compile(r"\[\s*\d+(?:\s*(?:[,;–-]|and)\s*\d+)*\s*\]")
_MARKER_NUMBERS = re.compile(r"(\d+)\s*[–-]\s*(\d+)|\d+")
_YES = frozenset({"yes", "true", "correct"})
_NO = frozenset({"no", "false", "incorrect"})
_NEGATION = frozenset({"not", "never"})
_QUOTE_STYLES = str.maketrans(dict.fromkeys('"“”„‟«»‘’‚‛ʼ`', "'"))
_CURLY_QUOTATION = re.compile(r"“([^“”\n]*)”")
_STRAIGHT_QUOTATION = re.compile(r'"([^"\n]*)"')
_ELLIPSIS = re.compile(r"\[\s*(?:\.\s*){3}\]|\[\s*…\s*\]|(?:\.\s*){3,}|…")
_EDGE_PUNCT = " .,;:"  # American punctuation puts a sentence's comma or full stop inside the closing mark
MIN_QUOTE_WORDS = 3  # shorter quotations ("so-called" words, names) are not claims of a verbatim passage


def normalize_answer(text: str) -> str:
    """Lower case, no markers, possessive 's or punctuation; yes/true/correct read as yes, no/false/incorrect as no."""
    text = _MARKERS.sub(" ", text).lower().translate(_QUOTE_STYLES)
    text = re.sub(r"'s\b", "", text)
    words = re.sub(r"[\W_]+", " ", text.replace("'", "")).split()
    return " ".join("yes" if w in _YES else "no" if w in _NO else w for w in words)


def verdict(answer_text: str) -> str | None:
    """The answer's yes/no: its first yes/no-like word ("Yes, ...", "No.", "That is true"), flipped after "not"."""
    words = normalize_answer(answer_text).split()
    for i, word in enumerate(words):
        if word in {"yes", "no"}:
            negated = i > 0 and words[i - 1] in _NEGATION
            return ("no" if word == "yes" else "yes") if negated else word
    return None


def strict_correct(gold: str, answer_text: str) -> bool:
    """Yes/no golds: the answer's verdict equals the gold. Other golds: the gold is contained in the answer."""
    target = normalize_answer(gold)
    if target in {"yes", "no"}:
        return verdict(answer_text) == target
    return bool(target) and f" {target} " in f" {normalize_answer(answer_text)} "


def lenient_correct(gold: str, answer_text: str) -> bool:
    """MultiHop-RAG's accuracy: the answer shares at least one word with the gold, after normalisation."""
    return bool(set(normalize_answer(gold).split()) & set(normalize_answer(answer_text).split()))


def marker_numbers(text: str) -> list[int]:
    """Every number the citation markers of `text` use ([2], [1, 3], [2-4] gives 2, 3, 4), in order."""
    numbers: list[int] = []
    for marker in _MARKERS.finditer(text):
        for m in _MARKER_NUMBERS.finditer(marker.group()):
            if m.group(1):
                low, high = int(m.group(1)), int(m.group(2))
                numbers.extend(range(low, high + 1) if high - low <= 50 else (low, high))
            else:
                numbers.append(int(m.group()))
    return numbers


def citations_valid(answer: Answer) -> bool:
    """Whether an answer cites, each citation is the passage shown under its number, and its markers are all listed."""
    shown = len(answer.passages)
    listed = {c.n for c in answer.citations}
    if not listed or not set(marker_numbers(answer.text)) <= listed:  # a marker in the text with no source listed
        return False
    return all(1 <= c.n <= shown and answer.passages[c.n - 1] == c.passage for c in answer.citations)


def cites_gold_article(answer: Answer, evidence_docs: Iterable[str]) -> bool:
    """Whether the answer cites at least one passage of a gold-evidence article."""
    gold = set(evidence_docs)
    return any(c.passage.doc_id in gold for c in answer.citations)


def quotations(text: str) -> list[str]:
    """The quoted spans ("..." or “...”) of three or more words in `text`, without their marks.

    Curly pairs are found first; straight quotes inside them belong to them and are not counted again.
    """
    found = [m.group(1) for m in _CURLY_QUOTATION.finditer(text)]
    rest = _CURLY_QUOTATION.sub(lambda m: " " * len(m.group()), text)
    found += [m.group(1) for m in _STRAIGHT_QUOTATION.finditer(rest)]
    return [q for q in found if len(_MARKERS.sub(" ", q).split()) >= MIN_QUOTE_WORDS]


def is_verbatim(quotation: str, texts: Sequence[str]) -> bool:
    """Whether the quotation occurs in one of `texts`, up to whitespace and quote style, on word boundaries.

    A trailing `.,;:` inside the closing mark may be missing from the source, and an ellipsis splits the quotation
    into parts that must each be verbatim (in the same text).
    """
    parts = [_plain(part).strip(_EDGE_PUNCT) for part in _ELLIPSIS.split(_MARKERS.sub(" ", quotation))]
    parts = [part for part in parts if part]
    if not parts:
        return True
    return any(all(_occurs(part, _plain(text)) for part in parts) for text in texts)


def audit_quotes(answer: Answer) -> tuple[int, int]:
    """(quotations, invented ones): each quotation is checked against the passages its own sentence cites.

    Sentences and their citations come from the checker's verdict when there is one; otherwise (quote-first answers)
    every quotation may come from any cited passage. Cited passages of one article that overlap or touch are also
    read joined, so a statement that runs across a passage boundary still counts as verbatim.
    """
    checked = answer.checked
    if checked is not None and not answer.refused:
        units = [
            (s.text, [answer.passages[n - 1] for n in s.citations if 1 <= n <= len(answer.passages)])
            for s in checked.sentences
        ]
    else:
        units = [(answer.text, [c.passage for c in answer.citations])]
    quotes = invented = 0
    for text, cited in units:
        sources = _joined_texts(cited)
        for quotation in quotations(text):
            quotes += 1
            invented += not is_verbatim(quotation, sources)
    return quotes, invented


def _plain(text: str) -> str:
    return " ".join(text.translate(_QUOTE_STYLES).split())


def _occurs(needle: str, haystack: str) -> bool:
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        left = not (needle[0].isalnum() and start > 0 and haystack[start - 1].isalnum())
        right = not (needle[-1].isalnum() and end < len(haystack) and haystack[end].isalnum())
        if left and right:
            return True
        start = haystack.find(needle, start + 1)
    return False


def _joined_texts(passages: Sequence[Passage]) -> list[str]:
    """The passages' texts, plus each run of same-article passages that overlap or touch, joined by their offsets."""
    texts = [p.text for p in passages]
    by_doc: dict[str, list[Passage]] = defaultdict(list)
    for p in dict.fromkeys(passages):
        by_doc[p.doc_id].append(p)
    for doc_passages in by_doc.values():
        run: list[Passage] = []
        for p in sorted(doc_passages, key=lambda q: (q.start, q.end)):
            if run and p.start > max(q.end for q in run):
                texts += [_join_run(run)] if len(run) > 1 else []
                run = []
            run.append(p)
        texts += [_join_run(run)] if len(run) > 1 else []
    return texts


def _join_run(run: Sequence[Passage]) -> str:
    text, reached = run[0].text, run[0].end
    for p in run[1:]:
        if p.end > reached:
            text += p.text[reached - p.start :]
            reached = p.end
    return text


@dataclass(frozen=True)
class AnswerRecord:
    """One question's outcome in `eval answers`: what was asked, what came back, and how it scored."""

    id: str
    type: str
    question: str
    gold: str
    answer: str
    refused: bool
    citations: list[int]
    cited_docs: list[str]
    strict: bool
    lenient: bool
    seconds: float
    null: bool = False
    citations_valid: bool = False  # only meaningful when not refused
    cites_gold: bool = False
    quotes: int = 0
    invented_quotes: int = 0
    reason: str = ""  # why it refused, when it did
    dropped: list[str] = field(default_factory=list)  # sentences the checker removed, with the reason

    def to_dict(self) -> dict[str, Any]:
        """Return the record as one line of `eval answers --records`."""
        return asdict(self)


@dataclass
class AnswerScores:
    """Counts behind the answer metrics, for the overall set or one question type."""

    answerable: int = 0
    null: int = 0
    correct: int = 0  # strict, over answerable questions
    lenient: int = 0
    refused_null: int = 0
    refused_answerable: int = 0
    answered: int = 0  # not refused, null and answerable alike
    valid_citations: int = 0  # among answered
    citing_gold: int = 0  # among answered answerable
    quotes: int = 0
    invented_quotes: int = 0
    seconds: float = 0.0

    def add(self, record: AnswerRecord) -> None:
        """Count one question's record."""
        if record.null:
            self.null += 1
            self.refused_null += record.refused
        else:
            self.answerable += 1
            self.correct += record.strict
            self.lenient += record.lenient
            self.refused_answerable += record.refused
            self.citing_gold += not record.refused and record.cites_gold
        if not record.refused:
            self.answered += 1
            self.valid_citations += record.citations_valid
        self.quotes += record.quotes
        self.invented_quotes += record.invented_quotes
        self.seconds += record.seconds

    def to_dict(self) -> dict[str, Any]:
        """Return the rates, rounded; a rate with nothing to count (no null questions, say) is None."""
        n = self.answerable + self.null
        answered_answerable = self.answerable - self.refused_answerable
        return {
            "n": n,
            "accuracy": _rate(self.correct, self.answerable),
            "accuracy_lenient": _rate(self.lenient, self.answerable),
            "refusal_rate_null": _rate(self.refused_null, self.null),
            "false_refusal_rate": _rate(self.refused_answerable, self.answerable),
            "citation_validity": _rate(self.valid_citations, self.answered),
            "answerable": self.answerable,
            "null": self.null,
            "accuracy_answered": _rate(self.correct, answered_answerable),
            "citing_gold_article": _rate(self.citing_gold, answered_answerable),
            "quotes": self.quotes,
            "invented_quotes": self.invented_quotes,
            "seconds_per_answer": round(self.seconds / n, 2) if n else None,
        }


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


@dataclass
class AnswerReport:
    """Overall and per-type answer scores."""

    overall: AnswerScores = field(default_factory=AnswerScores)
    by_type: dict[str, AnswerScores] = field(default_factory=lambda: defaultdict(AnswerScores))

    def add(self, record: AnswerRecord) -> None:
        """Add one question to the overall and its type's scores."""
        self.overall.add(record)
        self.by_type[record.type or "unknown"].add(record)

    def to_dict(self) -> dict[str, Any]:
        """Return the report in the shape `eval answers --json` prints."""
        return {**self.overall.to_dict(), "by_type": {t: s.to_dict() for t, s in sorted(self.by_type.items())}}


def score_answer(query: Query, answer: Answer, seconds: float) -> AnswerRecord:
    """Score one answer to one benchmark question."""
    quotes, invented = audit_quotes(answer)
    answered = not answer.refused
    return AnswerRecord(
        id=query.id,
        type=query.question_type or "unknown",
        question=query.question,
        gold=query.answer,
        answer=answer.text,
        refused=answer.refused,
        citations=[c.n for c in answer.citations],
        cited_docs=list(dict.fromkeys(c.passage.doc_id for c in answer.citations)),
        strict=answered and not query.is_null and strict_correct(query.answer, answer.text),
        lenient=answered and not query.is_null and lenient_correct(query.answer, answer.text),
        seconds=round(seconds, 3),
        null=query.is_null,
        citations_valid=answered and citations_valid(answer),
        cites_gold=answered and cites_gold_article(answer, query.evidence_docs),
        quotes=quotes,
        invented_quotes=invented,
        reason=answer.reason,
        dropped=list(answer.checked.dropped) if answer.checked is not None else [],
    )


def evaluate_answers(
    queries: Iterable[Query],
    ask: Callable[[str], Answer],
    *,
    on_progress: Callable[[AnswerRecord], None] | None = None,
) -> tuple[AnswerReport, list[AnswerRecord]]:
    """Answer every question with `ask` and score it; `on_progress` gets each record as soon as it is scored."""
    report = AnswerReport()
    records = []
    for query in queries:
        started = time.perf_counter()
        answer = ask(query.question)
        record = score_answer(query, answer, time.perf_counter() - started)
        report.add(record)
        records.append(record)
        if on_progress is not None:
            on_progress(record)
    return report, records
