"""How long choosing excerpt sentences by closeness takes, as float32 documents or as questions (bfloat16 where the
CPU has it), and whether the sentences shown change.

    python bench/closeness_speed.py --index-dir /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl \
        --n 100 --offset 600 --out bench/results/closeness-speed.json

For answerable questions of a MultiHop-RAG-shaped file (from `--offset` on), retrieval and the passages shown as `ask`
does; then `SentenceCloseness.prepare` (the question and the tied sentences embedded in one call) is timed with an empty
sentence cache, each way in turn, two rounds. `same_as_float32` counts questions whose shown sentences
(`shown_sentences`) are the same as with float32 `embed_documents`, the way before session 15.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--offset", type=int, default=600)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "closeness-speed.json")
    args = parser.parse_args()

    from assistant.answer import SentenceCloseness, mask_instructions, sentences_at, shown_sentences, tied_sentences
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    settings = load_settings(home=args.index_dir)
    retriever = open_retriever(settings, create=False)
    embeddings = retriever.store.embeddings
    rows = [json.loads(line) for line in args.queries.open()]
    questions = [r["question"] for r in rows if r.get("question_type") != "null_query"][args.offset :][: args.n]
    schedule = settings.retrieval.excerpt_sentences
    plans = [(q, retriever.worth_showing(q, retriever.search(q))) for q in questions]
    texts = [
        1
        + sum(
            len(tied_sentences(mask_instructions(p.text, "[instructions to AI removed]"), q, sentences_at(schedule, r)))
            for r, p in enumerate(passages)
        )
        for q, passages in plans
    ]

    class AsDocuments:  # the embedder seen through `embed_documents` only: float32, as before
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.model_id = inner.model_id

        def embed_documents(self, batch: list[str]) -> list[list[float]]:
            return self.inner.embed_documents(batch)  # type: ignore[no-any-return]

    ways = {"float32_documents": AsDocuments(embeddings), "as_questions": embeddings}
    times: dict[str, list[float]] = {w: [] for w in ways}
    shown: dict[str, list[Any]] = {w: [] for w in ways}
    for round_ in range(2):
        for question, passages in plans:
            for way, embedder in ways.items():
                SentenceCloseness._vectors.clear()
                closeness = SentenceCloseness(embedder, question)
                start = time.perf_counter()
                closeness.prepare(passages, schedule)
                times[way].append((time.perf_counter() - start) * 1000)
                if round_ == 0:
                    shown[way].append(shown_sentences(passages, question, schedule, None, closeness))
    result: dict[str, Any] = {
        "questions": len(plans),
        "texts_per_question": {"p50": statistics.median(texts), "max": max(texts)},
        "bf16": bool(getattr(embeddings, "questions_in_bf16", False)),
    }
    for way in ways:
        ms = sorted(times[way])
        result[way] = {
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
            "same_as_float32": sum(a == b for a, b in zip(shown[way], shown["float32_documents"], strict=True)),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
