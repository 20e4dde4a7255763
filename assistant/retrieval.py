"""Find the passages that answer a question: dense (MiniLM) and lexical (BM25) results, fused by weighted RRF."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from assistant.types import Passage

if TYPE_CHECKING:
    from assistant.settings import Settings
    from index.store import Store

# Reciprocal rank fusion: score = sum(weight / (RRF_K + rank)). A small dense embedder is weak on names, which
# news questions hinge on; the weights are set by measurement (see BENCHMARKS.md).
RRF_K = 60
_CANDIDATES = 40
_NAME = re.compile(r"\b[A-Z][\w'’-]*[a-z][\w'’-]*\b")
_QUESTION_WORDS = frozenset(
    (
        "What Who Whom Whose When Where Which Why How Did Does Do Is Are Was Were Has Have Had Can Could Will "
        "Would Should In On At According After Before The A An And Or Of For To From By With About Tell List Name "
        "Give Please Summarize Summarise Explain Describe Compare"
    ).split()
)


@dataclass
class Retriever:
    """Hybrid retrieval over one index. `score` on returned passages is the cosine similarity to the question."""

    store: Store
    settings: Settings
    mode: str = "hybrid"  # dense | lexical | hybrid
    dense_weight: float = 1.0
    lexical_weight: float = 1.0

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """Return up to k passages for `query`, best first."""
        k = k or self.settings.retrieval.k
        vector = self.store.embeddings.embed_query(query)
        n = max(_CANDIDATES, k)
        dense = self.store.dense_search(vector, n) if self.mode != "lexical" else []
        lexical = self.store.lexical_search(query, n) if self.mode != "dense" else []
        fused = fuse([(dense, self.dense_weight), (lexical, self.lexical_weight)])[:k]
        return self._with_cosine(fused, vector, {p.chunk_id: p.score for p in dense})

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

    def _with_cosine(self, passages: list[Passage], vector: list[float], known: dict[str, float]) -> list[Passage]:
        missing = [p.chunk_id for p in passages if p.chunk_id not in known]
        if missing:
            for cid, vec in self.store.vectors(missing).items():
                known[cid] = sum(a * b for a, b in zip(vec, vector, strict=False))
        return [replace(p, score=known.get(p.chunk_id, 0.0)) for p in passages]


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


def open_retriever(settings: Settings) -> Retriever:
    """Open the index named by `settings` with its embedder and return a retriever over it."""
    from index.embedding import LocalEmbeddings
    from index.store import Store

    embeddings = LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size)
    return Retriever(Store(settings, embeddings), settings)
