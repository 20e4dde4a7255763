"""Retrieval as `ask` does it, with a question's outlets searched one by one or in one pass, on a kept scale index.

    python bench/outlet_merge.py --home /tmp/scale-bench/run/embedded/home [--questions 50] [--out FILE]

A question naming two outlets is searched within both of them and within each. Before session 6 that was three
hybrid rankings (three dense and three lexical searches). Now the ranking within both is merged by score from the
two single-outlet rankings, and one lexical pass scores every named outlet. This times both ways on the long
synthetic questions of `bench/scale.py` (MultiHop-shaped, two outlets each), alternating per question in one
process so that the machine's load hits both alike, and checks that they return the same passages. The index is one
`bench/scale.py --keep` built (random vectors stand in for embeddings, as there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.retrieval import Part, Retriever  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from assistant.types import Filters  # noqa: E402
from bench.scale import SEED, RandomEmbeddings, Vocabulary, synthetic_questions  # noqa: E402
from index.store import Store  # noqa: E402


class TextSeeded(RandomEmbeddings):
    """Random vectors seeded by each text, so that both ways search with the same vectors."""

    def embed_documents(self, texts: list[str], on_progress: Any = None) -> list[list[float]]:
        if on_progress is not None:
            on_progress(len(texts))
        return [self.embed_query(text) for text in texts]


class OneByOne(Retriever):
    """The decomposition before session 6: the named outlets together and each alone, as separate parts."""

    def parts(self, query: str, filters: Filters) -> list[Part]:
        found = []
        for part in super().parts(query, filters):
            found.append(replace(part, each_source=False))
            if part.each_source:
                found += [Part(query, replace(part.filters, sources=(s,))) for s in part.filters.sources]
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="the `home` dir of a kept bench/scale.py index")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--dense-recall",
        type=int,
        default=0,
        metavar="N",
        help="also, for N questions, the recall@40 of each way's dense search within both outlets against brute force",
    )
    args = parser.parse_args()

    settings = load_settings(home=args.home)
    store = Store(settings, TextSeeded(SEED))  # type: ignore[arg-type]  # LocalEmbeddings' interface
    questions = [q.text for q in synthetic_questions(Vocabulary.build(), long=True)][: args.questions]
    ways = {"one_by_one": OneByOne(store, settings), "one_pass": Retriever(store, settings)}
    for retriever in ways.values():  # warm-up: caches and the first-use costs of both
        for question in questions[:3]:
            retriever.search(question, 10)
    times: dict[str, list[float]] = {name: [] for name in ways}
    same = 0
    for question in questions:
        found = {}
        for name, retriever in ways.items():
            start = time.perf_counter()
            found[name] = [p.chunk_id for p in retriever.search(question, 10)]
            times[name].append(time.perf_counter() - start)
        same += found["one_by_one"] == found["one_pass"]
    result = {
        "command": "python bench/outlet_merge.py " + " ".join(sys.argv[1:]),
        "chunks": store.count_chunks(),
        "questions": len(questions),
        "same_passages": same,
        **{name: _percentiles(t) for name, t in times.items()},
        "ratio_p50": round(statistics.median(times["one_pass"]) / statistics.median(times["one_by_one"]), 3),
        "loadavg": float(Path("/proc/loadavg").read_text().split()[0]),
    }
    if args.dense_recall:
        result["dense_recall@40"] = dense_recall(store, questions[: args.dense_recall])
    store.close()
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


def dense_recall(store: Store, questions: list[str], k: int = 40) -> dict[str, float]:
    """Mean recall@k, against exact cosine over every allowed vector, of one search within both of a question's
    outlets (what `ask` did before) and of the merge of one search within each (what it does now)."""
    import numpy as np

    from assistant.retrieval import merged

    retriever = Retriever(store, store.settings)
    one, each = [], []
    for question in questions:
        both = next(p.filters for p in retriever.parts(question, Filters()) if p.each_source)
        vector = store.embeddings.embed_query(question)
        ids = store._chunk_ids_allowed(both, 10**9)
        got = store.collection.get(ids=ids, include=["embeddings"])
        scores = np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
        exact = {got["ids"][i] for i in np.argsort(-scores)[:k]}
        together = store.dense_search(vector, k, both)
        alone = merged([store.dense_search(vector, k, replace(both, sources=(s,))) for s in both.sources], k)
        one.append(len(exact & {p.chunk_id for p in together}) / k)
        each.append(len(exact & {p.chunk_id for p in alone}) / k)
    return {
        "questions": len(questions),
        "one_search": round(statistics.fmean(one), 3),
        "merged_per_outlet": round(statistics.fmean(each), 3),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 1),
    }


if __name__ == "__main__":
    main()
