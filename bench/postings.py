"""BM25 by FTS5's bm25() walk against BM25 over our postings (index/lexicon.py), on a kept scale index.

    python bench/postings.py --home /tmp/scale-bench/run/embedded/home [--questions 50] [--out FILE]

Both ways run in one process, alternating per question so that the machine's load hits both alike:
- one lexical ranking (top 40), unfiltered and filtered to one outlet and two months, for the short and the long
  synthetic questions of `bench/scale.py`; the rankings are checked to hold the same passages with the same scores;
- retrieval as `ask` does it for the long questions (every part of the decomposed question): as in session 6 (FTS5,
  and a filter's dense search by Chroma over listed ids), with FTS5 and the catalog's vectors, and now (postings and
  the catalog's vectors).

Opening an index made before the postings existed builds them first (timed, reported as `built_s`).
The index is one `bench/scale.py --keep` built (random vectors stand in for embeddings, as there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.retrieval import Retriever  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from assistant.types import Filters, Passage  # noqa: E402
from bench.outlet_merge import TextSeeded, _percentiles  # noqa: E402
from bench.scale import SEED, Vocabulary, synthetic_questions  # noqa: E402
from index.store import Store, lexical_words  # noqa: E402

K = 40


class FtsStore(Store):
    """The store as it was before the postings: lexical search by FTS5's bm25() over every match."""

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Passage]:
        return self._fts_search(lexical_words(query), k, filters)

    def lexical_search_by_source(self, query: str, k: int, filters: Filters) -> dict[str, list[Passage]]:
        # One FTS5 pass for every outlet, as `lexical_search_by_source` did in session 6.
        from dataclasses import replace

        return {s: self._fts_search(lexical_words(query), k, replace(filters, sources=(s,))) for s in filters.sources}


class Session6Store(FtsStore):
    """FTS5 as above, and a filter's dense search by Chroma over the listed ids, as before the catalog kept vectors."""

    def dense_search(self, vector: Sequence[float], k: int, filters: Filters | None = None) -> list[Passage]:
        if not (filters and filters.chroma_where()):
            return super().dense_search(vector, k, filters)
        allowed = self._chunk_ids_allowed(filters, 5001)
        if not allowed:
            return []
        scope = {"ids": allowed} if len(allowed) <= 5000 else {"where": filters.chroma_where()}
        result = self.collection.query(
            query_embeddings=[list(vector)],
            n_results=k,
            include=["distances"],
            **scope,  # type: ignore[arg-type]
        )
        return self._catalog_passages(
            [(cid, 1.0 - d) for cid, d in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True)]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="the `home` dir of a kept bench/scale.py index")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    settings = load_settings(home=args.home)
    start = time.perf_counter()
    new = Store(settings, TextSeeded(SEED))  # type: ignore[arg-type]  # LocalEmbeddings' interface
    built_s = time.perf_counter() - start
    old = FtsStore(settings, TextSeeded(SEED))  # type: ignore[arg-type]
    before = Session6Store(settings, TextSeeded(SEED))  # type: ignore[arg-type]
    vocab = Vocabulary.build()
    result: dict[str, Any] = {
        "command": "python bench/postings.py " + " ".join(sys.argv[1:]),
        "chunks": new.count_chunks(),
        "built_s": round(built_s, 1),
    }
    for kind in ("short", "long"):
        queries = synthetic_questions(vocab, long=kind == "long")[: args.questions]
        for filtered in (False, True):
            calls = [
                (q.text, q.filters() if filtered else None) for q in queries
            ]  # the same question and filter for both ways
            result[f"{kind}_lexical{'_filtered' if filtered else ''}"] = _alternate(
                {
                    "fts5": lambda c, s=old: s.lexical_search(c[0], K, c[1]),
                    "postings": lambda c, s=new: s.lexical_search(c[0], K, c[1]),
                },
                calls,
            )
    long_questions = [q.text for q in synthetic_questions(vocab, long=True)][: args.questions]
    ways = {
        "session6": Retriever(before, settings),
        "fts5": Retriever(old, settings),
        "postings": Retriever(new, settings),
    }
    result["long_as_ask_retrieves"] = _alternate(
        {name: (lambda q, r=r: r.search(q, 10)) for name, r in ways.items()}, long_questions
    )
    result["loadavg"] = float(Path("/proc/loadavg").read_text().split()[0])
    for store in (new, old, before):
        store.close()
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


def _alternate(ways: dict[str, Callable[[Any], list[Passage]]], calls: list[Any]) -> dict[str, Any]:
    """Time each way on each call, alternating; count the calls whose passages and scores agree."""
    for call in calls[:3]:  # warm-up: caches and first-use costs of both
        for way in ways.values():
            way(call)
    times: dict[str, list[float]] = {name: [] for name in ways}
    same = 0
    for call in calls:
        found = {}
        for name, way in ways.items():
            start = time.perf_counter()
            found[name] = [(p.chunk_id, round(p.score, 9)) for p in way(call)]
            times[name].append(time.perf_counter() - start)
        same += found["postings"] == found["fts5"]
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        "questions": len(calls),
        "same_passages": same,  # postings against fts5
        **{name: _percentiles(t) for name, t in times.items()},
        **{f"ratio_p50_to_{n}": round(medians["postings"] / medians[n], 3) for n in ways if n != "postings"},
    }


if __name__ == "__main__":
    main()
