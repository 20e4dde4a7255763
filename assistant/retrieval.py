"""Find the passages that answer a question.

Dense (MiniLM) and lexical (BM25) rankings are fused by weighted reciprocal rank fusion. Questions that name
outlets ("... according to TechCrunch, and ... as reported by The Verge?") are split into one part per outlet and
per clause; each part is retrieved within its outlet's articles. The parts' rankings then vote for articles, and the
top passages are dealt out round-robin from the best few articles, so they cover the several articles a multi-part
question is about instead of ten near-copies from one.
"""

from __future__ import annotations

import re
from collections import Counter
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
_ATTRIBUTION_WORDS = frozenset(
    "as reported by both and according to the an a article articles from in on published report reports said says "
    "stated per".split()
)
_HIDDEN_COMMA = "\x00"
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
# Pseudo-relevance feedback for the whole question: words shared by at least 2 of its 5 best BM25 passages, up to 10,
# expand a second BM25 ranking fused at half weight. On MultiHop-RAG dev questions 600-2044 (not used to choose
# these numbers): Hits@4 +0.022, Hits@10 +0.012, MRR@10 +0.008 (BENCHMARKS.md).
_FEEDBACK_PASSAGES = 5
_FEEDBACK_WORDS = 10
_FEEDBACK_MIN_PASSAGES = 2
# Passages are dealt from this many best articles first (measured on MultiHop-RAG dev questions: 3 and 5 did worse).
_ARTICLES = 4
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
    # Rank within each of the filter's outlets as well as within all of them together.
    each_source: bool = False


@dataclass
class Retriever:
    """Hybrid retrieval over one index. `score` on returned passages is the cosine similarity to the question."""

    store: Store
    settings: Settings
    mode: str = "hybrid"  # dense | lexical | hybrid
    dense_weight: float = 0.5  # measured: dense at half weight beats equal weights and BM25 alone (BENCHMARKS.md)
    lexical_weight: float = 1.0
    feedback_weight: float = 0.5  # 0 turns pseudo-relevance feedback off
    decompose: bool = True
    _sources: list[str] | None = field(default=None, repr=False)

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Passage]:
        """Return up to k passages for `query`, best first."""
        k = k or self.settings.retrieval.k
        filters = filters or Filters()
        parts = self.parts(query, filters) if self.decompose else []
        # One call embeds the question and its parts (in batches of like length, `LocalEmbeddings.encode`); the part
        # searching the named outlets is the question itself.
        texts = list(dict.fromkeys([query] + [part.text for part in parts]))
        embeddings = self.store.embeddings
        embed = getattr(embeddings, "embed_questions", embeddings.embed_documents)  # LocalEmbeddings has it
        vectors = dict(zip(texts, embed(texts), strict=True))
        vector = vectors[query]
        n = max(_CANDIDATES, k)
        rankings = [self._ranked(query, vector, filters, n, feedback=True)]
        for part in parts:
            part_vector = vectors[part.text]
            if part.each_source:
                rankings += self._ranked_each_source(part.text, part_vector, part.filters, n)
            else:
                rankings.append(self._ranked(part.text, part_vector, part.filters, n, feedback=part.text == query))
        return self._with_cosine(by_article(rankings, k), vector)

    def parts(self, query: str, filters: Filters) -> list[Part]:
        """Decompose a question by the outlets and dates it names, and into its clauses.

        Evidence nearly always comes from the outlets a question names, so every part searches within them: the
        whole question within all of them and within each one, and each clause within the outlet it names (else
        within all named outlets), in the time it names if any (a day, a month, after or before a date).
        """
        outlets = self._outlets_in(query, filters)
        scope = replace(filters, sources=tuple(outlets)) if outlets else filters
        parts = [Part(query, scope, each_source=len(outlets) > 1)] if outlets else []
        protected = _hide_inner_commas(query)
        clauses = [c.strip(" ,;?").replace(_HIDDEN_COMMA, ",") for c in _CLAUSE_BREAK.split(protected)]
        clauses = [c for c in clauses if len(c.split()) >= _MIN_CLAUSE_WORDS]
        # A clause that only attributes ("as reported by The Age") is no search of its own: the clause before it,
        # if that names no outlet, is what the outlet reported.
        kept: list[tuple[str, list[str]]] = []
        for clause in clauses if len(clauses) > 1 else []:
            named = self._outlets_in(clause, filters)
            if named and self._only_attribution(clause):
                if kept and not kept[-1][1]:
                    kept[-1] = (kept[-1][0], named)
                continue
            kept.append((clause, named))
        for clause, named in kept:
            part_filters = replace(filters, sources=(named[0],)) if len(named) == 1 else scope
            parts.append(Part(clause, _when_named(clause, part_filters)))
        if len(clauses) <= 1 and (dated := _when_named(query, scope)) != scope:
            parts.append(Part(query, dated))
        return parts

    def _outlets_in(self, text: str, filters: Filters) -> list[str]:
        found = [
            source
            for source, pattern in self._outlet_patterns
            if (not filters.sources or source in filters.sources) and pattern.search(text)
        ]
        # "The Verge" also matches a source named "Verge": keep the longest name at each place.
        return [s for s in found if not any(s != o and s.lower() in o.lower() for o in found)]

    def _only_attribution(self, clause: str) -> bool:
        """Whether a clause says nothing but who reported it ("as reported by both CBSSports.com and Sporting News")."""
        for _, pattern in self._outlet_patterns:
            clause = pattern.sub(" ", clause)
        return not [w for w in re.findall(r"[a-z]+", clause.lower()) if w not in _ATTRIBUTION_WORDS]

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
        names = _names(query)
        return any(_mentions(p, names) for p in passages)

    def worth_showing(self, query: str, passages: list[Passage]) -> list[Passage]:
        """The passages worth the model's reading time: the best, and each other that is close in meaning
        (`retrieval.show_score`) or names someone or something the question names (a capitalised word).

        In a small archive the top k are filled up with articles about something else; each costs the model ~2 s
        of prompt reading on 2 cores and offers nothing to cite. In a large one nearly every passage passes.
        """
        floor = self.settings.retrieval.show_score
        names = _names(query)
        return [p for i, p in enumerate(passages) if i == 0 or p.score >= floor or _mentions(p, names)]

    def _ranked(
        self, query: str, vector: list[float], filters: Filters, n: int, *, feedback: bool = False
    ) -> list[Passage]:
        dense = self.store.dense_search(vector, n, filters) if self.mode != "lexical" else []
        lexical = self.store.lexical_search(query, n, filters) if self.mode != "dense" else []
        ranked = fuse([(dense, self.dense_weight), (lexical, self.lexical_weight)])
        if not feedback or self.mode == "dense" or not self.feedback_weight:
            return ranked
        extra = feedback_words(query, [p.text for p in lexical[:_FEEDBACK_PASSAGES]])
        if not extra:
            return ranked
        expanded = self.store.lexical_search(f"{query} {' '.join(extra)}", n, filters)
        return fuse([(ranked, 1.0), (expanded, self.feedback_weight)])

    def _ranked_each_source(self, query: str, vector: list[float], filters: Filters, n: int) -> list[list[Passage]]:
        """The ranking within all of `filters.sources`, then one within each of them.

        The first is merged from the others by score, which gives the same passages as searching all the outlets at
        once (the scores do not depend on the filter), and one lexical pass serves every outlet.
        """
        each = [replace(filters, sources=(source,)) for source in filters.sources]
        dense = [self.store.dense_search(vector, n, f) if self.mode != "lexical" else [] for f in each]
        lexical = (
            list(self.store.lexical_search_by_source(query, n, filters).values())
            if self.mode != "dense"
            else [[] for _ in each]
        )
        rankings = [(merged(dense, n), merged(lexical, n)), *zip(dense, lexical, strict=True)]
        return [fuse([(d, self.dense_weight), (lx, self.lexical_weight)]) for d, lx in rankings]

    def _with_cosine(self, passages: list[Passage], vector: list[float]) -> list[Passage]:
        import numpy as np

        known = self.store.unit_vectors([p.chunk_id for p in passages])
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        return [replace(p, score=float(known[p.chunk_id] @ query) if p.chunk_id in known else 0.0) for p in passages]


def feedback_words(query: str, texts: list[str]) -> list[str]:
    """Words that at least 2 of `texts` (a question's best BM25 passages) share and the question lacks, most shared
    first: the question's likely vocabulary in the articles (names, places, the event's own words)."""
    from index.store import lexical_words

    asked = set(lexical_words(query))
    shared: Counter[str] = Counter()
    for text in texts:
        shared.update(w for w in lexical_words(text) if w not in asked and len(w) > 2 and not w.isdigit())
    # most_common keeps first-seen order among equal counts: the same words on every run.
    return [w for w, count in shared.most_common(_FEEDBACK_WORDS) if count >= _FEEDBACK_MIN_PASSAGES]


def _hide_inner_commas(text: str) -> str:
    """Text with the commas inside dates ("October 22, 2023") and numbers ("2,000") hidden from the clause split."""
    from index.metadata import days_named

    chars = list(_THOUSANDS.sub(_HIDDEN_COMMA, text))
    for start, end, _ in days_named(text):
        chars[start:end] = text[start:end].replace(",", _HIDDEN_COMMA)
    return "".join(chars)


def _when_named(text: str, filters: Filters) -> Filters:
    """Narrow filters to the time named in text: a day ("on October 7, 2023", give or take a day for time zones), a
    month ("in October 2023"), or everything after or before one ("published after October 7, 2023")."""
    from index.metadata import period_named

    period = period_named(text)
    if not period or filters.since or filters.until:
        return filters
    first, last = period
    return replace(
        filters,
        since=_day_key(first - timedelta(days=1)) if first else 0,
        until=_day_key(last + timedelta(days=1)) if last else 0,
    )


def _day_key(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _names(query: str) -> list[re.Pattern[str]]:
    """The capitalised words of a question that are not question words, as whole-word patterns."""
    return [re.compile(rf"\b{re.escape(w)}\b") for w in sorted(set(_NAME.findall(query)) - _QUESTION_WORDS)]


def _mentions(passage: Passage, names: list[re.Pattern[str]]) -> bool:
    text = f"{passage.title} {passage.text}"
    return any(name.search(text) for name in names)


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


def merged(rankings: list[list[Passage]], n: int) -> list[Passage]:
    """The n best passages of several rankings by score (higher is better)."""
    return sorted((p for ranking in rankings for p in ranking), key=lambda p: -p.score)[:n]


def by_article(rankings: list[list[Passage]], k: int, articles: int = _ARTICLES) -> list[Passage]:
    """Merge the rankings of a question's parts into k passages that cover its best few articles.

    Every ranking votes for articles (1/(1+r) for the article at rank r among the articles it returns) and for
    passages (1/(1+r) at rank r). Passages are then dealt round-robin from the `articles` best articles, each article
    giving its best-voted passage first; leftover places go to the best-voted passages elsewhere.
    """
    article_votes: dict[str, float] = {}
    passage_votes: dict[str, float] = {}
    passages: dict[str, Passage] = {}
    for ranking in rankings:
        order = list(dict.fromkeys(p.doc_id for p in ranking))
        for rank, doc_id in enumerate(order, start=1):
            article_votes[doc_id] = article_votes.get(doc_id, 0.0) + 1.0 / (1 + rank)
        for rank, passage in enumerate(ranking, start=1):
            passage_votes[passage.chunk_id] = passage_votes.get(passage.chunk_id, 0.0) + 1.0 / (1 + rank)
            passages.setdefault(passage.chunk_id, passage)
    best = sorted(passage_votes, key=lambda cid: -passage_votes[cid])
    per_article: dict[str, list[str]] = {}
    for cid in best:
        per_article.setdefault(passages[cid].doc_id, []).append(cid)
    top_articles = sorted(article_votes, key=lambda d: -article_votes[d])[:articles]
    chosen: list[str] = []
    for rank in range(k):
        chosen += [per_article[d][rank] for d in top_articles if rank < len(per_article[d])]
    chosen = list(dict.fromkeys(chosen))[:k]
    chosen += [cid for cid in best if cid not in set(chosen)][: k - len(chosen)]
    return [passages[cid] for cid in chosen]


def open_retriever(settings: Settings, *, create: bool = True) -> Retriever:
    """Open the index named by `settings` with its embedder and return a retriever over it.

    With `create=False` a missing index stays missing on disk (see `Store`).
    """
    from index.embedding import LocalEmbeddings
    from index.store import Store

    embeddings = LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size)
    return Retriever(Store(settings, embeddings, create=create), settings)
