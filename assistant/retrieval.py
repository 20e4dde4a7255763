"""Find the passages that answer a question.

Dense (MiniLM) and lexical (BM25) rankings are fused by weighted reciprocal rank fusion. Questions that name
outlets ("... according to TechCrunch, and ... as reported by The Verge?") are split into one part per outlet; each
part is retrieved within its outlet's articles, and the parts' rankings are interleaved so the top passages cover
every part instead of ten near-copies from one article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from assistant.types import Filters, Passage

if TYPE_CHECKING:
    from assistant.settings import Settings
    from index.store import Store

# Reciprocal rank fusion: score = sum(weight / (RRF_K + rank)). The weights are set by measurement on the
# MultiHop-RAG dev questions (see BENCHMARKS.md).
RRF_K = 60
_CANDIDATES = 40
_CLAUSE_BREAK = re.compile(
    r",\s*(?:and|while|but|whereas|yet|which|who|that)?\s*|;|\s+(?:while|whereas|compared to|in contrast to)\s+"
    r"|\s+and\s+(?=(?:the|is|was|are|were|does|did|has|have|also|then|that|which|who|what|how)\b)",
    re.IGNORECASE,
)
_MIN_CLAUSE_WORDS = 4
_PER_DOC_FIRST_PASS = 2
_NAME = re.compile(r"\b[A-Z][\w'’-]*[a-z][\w'’-]*\b")
_QUESTION_WORDS = frozenset(
    (
        "What Who Whom Whose When Where Which Why How Did Does Do Is Are Was Were Has Have Had Can Could Will "
        "Would Should In On At According After Before The A An And Or Of For To From By With About Tell List Name "
        "Give Please Summarize Summarise Explain Describe Compare"
    ).split()
)


@dataclass(frozen=True)
class Part:
    """One part of a decomposed question: the words to search with, and the outlet it is about."""

    text: str
    filters: Filters


@dataclass
class Retriever:
    """Hybrid retrieval over one index. `score` on returned passages is the cosine similarity to the question."""

    store: Store
    settings: Settings
    mode: str = "hybrid"  # dense | lexical | hybrid
    dense_weight: float = 0.5  # measured: dense at half weight beats equal weights and BM25 alone (BENCHMARKS.md)
    lexical_weight: float = 1.0
    decompose: bool = True
    merge: str = "interleave"  # how part rankings combine: interleave | rrf
    _sources: list[str] | None = field(default=None, repr=False)

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Passage]:
        """Return up to k passages for `query`, best first."""
        k = k or self.settings.retrieval.k
        filters = filters or Filters()
        vector = self.store.embeddings.embed_query(query)
        ranking = self._ranked(query, vector, filters, max(_CANDIDATES, k))
        parts = self.parts(query, filters) if self.decompose else []
        if parts:
            rankings = [ranking]
            for part in parts:
                part_vector = self.store.embeddings.embed_query(part.text)
                rankings.append(self._ranked(part.text, part_vector, part.filters, max(_CANDIDATES, k)))
            ranking = fuse([(r, 1.0) for r in rankings]) if self.merge == "rrf" else interleave(rankings)
        return self._with_cosine(diversify(ranking, k), vector)

    def parts(self, query: str, filters: Filters) -> list[Part]:
        """Decompose a question by the outlets and dates it names, and into its clauses.

        Evidence nearly always comes from the outlets a question names, so every part searches within them: the
        whole question within all of them and within each one, and each clause within the outlet it names (else
        within all named outlets), on the day it names if any.
        """
        outlets = self._outlets_in(query, filters)
        scope = replace(filters, sources=tuple(outlets)) if outlets else filters
        parts = [Part(query, scope)] if outlets else []
        if len(outlets) > 1:
            parts += [Part(query, replace(filters, sources=(source,))) for source in outlets]
        clauses = [c.strip(" ,;?") for c in _CLAUSE_BREAK.split(query)]
        clauses = [c for c in clauses if len(c.split()) >= _MIN_CLAUSE_WORDS]
        for clause in clauses if len(clauses) > 1 else []:
            named = self._outlets_in(clause, filters)
            part_filters = replace(filters, sources=(named[0],)) if len(named) == 1 else scope
            parts.append(Part(clause, _on_day_named(clause, part_filters)))
        return parts

    def _outlets_in(self, text: str, filters: Filters) -> list[str]:
        found = [
            source
            for source, pattern in self._outlet_patterns
            if (not filters.sources or source in filters.sources) and pattern.search(text)
        ]
        # "The Verge" also matches a source named "Verge": keep the longest name at each place.
        return [s for s in found if not any(s != o and s.lower() in o.lower() for o in found)]

    @cached_property
    def _outlet_patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        patterns = []
        for source in self.store.sources():
            name = re.sub(r"^the\s+", "", source.strip(), flags=re.IGNORECASE)
            if len(name) < 3:
                continue
            patterns.append((source, re.compile(rf"(?<!\w)(?:the\s+)?['‘\"“]?{re.escape(name)}(?!\w)", re.IGNORECASE)))
        return patterns

    def is_relevant(self, query: str, passages: list[Passage]) -> bool:
        """Decide, without the LLM, whether the passages can be about the question at all.

        Relevant when the best passage is semantically close, or when a name in the question (a capitalised
        word that is not a question word) occurs in a passage.
        """
        if not passages:
            return False
        if max(p.score for p in passages) >= self.settings.retrieval.min_score:
            return True
        names = {w for w in _NAME.findall(query) if w not in _QUESTION_WORDS}
        return any(re.search(rf"\b{re.escape(name)}\b", p.text + " " + p.title) for name in names for p in passages)

    def _ranked(self, query: str, vector: list[float], filters: Filters, n: int) -> list[Passage]:
        dense = self.store.dense_search(vector, n, filters) if self.mode != "lexical" else []
        lexical = self.store.lexical_search(query, n, filters) if self.mode != "dense" else []
        return fuse([(dense, self.dense_weight), (lexical, self.lexical_weight)])

    def _with_cosine(self, passages: list[Passage], vector: list[float]) -> list[Passage]:
        known = self.store.vectors([p.chunk_id for p in passages])
        return [replace(p, score=_dot(known[p.chunk_id], vector) if p.chunk_id in known else 0.0) for p in passages]


def _on_day_named(text: str, filters: Filters) -> Filters:
    """Narrow filters to a day named in text ("on October 7, 2023"), give or take a day for time zones."""
    from index.metadata import parse_date

    found = parse_date(text)
    if not found or filters.since or filters.until:
        return filters
    day = date.fromisoformat(found[:10])
    return replace(filters, since=_day_key(day - timedelta(days=1)), until=_day_key(day + timedelta(days=1)))


def _day_key(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=False))


def fuse(rankings: list[tuple[list[Passage], float]]) -> list[Passage]:
    """Weighted reciprocal rank fusion of several rankings of passages; ties keep first-seen order."""
    scores: dict[str, float] = {}
    first: dict[str, Passage] = {}
    for ranking, weight in rankings:
        for rank, passage in enumerate(ranking, start=1):
            scores[passage.chunk_id] = scores.get(passage.chunk_id, 0.0) + weight / (RRF_K + rank)
            first.setdefault(passage.chunk_id, passage)
    order = sorted(scores, key=lambda cid: -scores[cid])
    return [first[cid] for cid in order]


def interleave(rankings: list[list[Passage]]) -> list[Passage]:
    """Round-robin merge: the best of each ranking, then the second of each, and so on, without repeats."""
    seen: set[str] = set()
    merged: list[Passage] = []
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank].chunk_id not in seen:
                seen.add(ranking[rank].chunk_id)
                merged.append(ranking[rank])
    return merged


def diversify(ranking: list[Passage], k: int, per_doc: int = _PER_DOC_FIRST_PASS) -> list[Passage]:
    """Take the top k, at most `per_doc` passages of any one article first, then fill up in rank order."""
    counts: dict[str, int] = {}
    chosen: set[str] = set()
    for passage in ranking:
        counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
        if counts[passage.doc_id] <= per_doc and len(chosen) < k:
            chosen.add(passage.chunk_id)
    for passage in ranking:
        if len(chosen) >= k:
            break
        chosen.add(passage.chunk_id)
    return [p for p in ranking if p.chunk_id in chosen]


def open_retriever(settings: Settings) -> Retriever:
    """Open the index named by `settings` with its embedder and return a retriever over it."""
    from index.embedding import LocalEmbeddings
    from index.store import Store

    embeddings = LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size)
    return Retriever(Store(settings, embeddings), settings)
