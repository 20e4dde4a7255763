"""Retrieval and answer metrics on questions shaped like MultiHop-RAG's `queries.*.jsonl`.

Retrieval metrics follow the benchmark's own `retrieval_evaluate.py`: a retrieved passage is a hit when a gold fact,
with spaces and newlines removed, is contained in the passage text with spaces and newlines removed (so a fact split
across two passages never hits). Null queries (no evidence) are excluded.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.types import Passage

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
