"""Embedding a question's batch with torch's default threads against one thread, quiet or under load.

    python bench/query_threads.py --queries ../shared/eval/multihop/queries.dev.jsonl --n 30

`ask` embeds a question and its parts in one small batch. For each of n dev questions, that batch (the question,
its two halves, its first and last 80 characters: 5 texts, as a question with ~4 parts) is embedded three ways in
turn: on torch's default threads (2 here), on one thread set for the whole process, and on one thread set around
the call and restored after it (what `LocalEmbeddings.encode` now does for batches of up to 16 texts). Run it once
on a quiet machine and once while something else keeps the cores busy (e.g. an `assistant eval answers`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "query-threads.json")
    args = parser.parse_args()

    import torch

    from index.embedding import LocalEmbeddings

    embeddings = LocalEmbeddings()
    questions = [json.loads(line)["question"] for line in args.queries.open()][: args.n]
    default = torch.get_num_threads()
    model = embeddings.model

    def encode(texts: list[str]) -> None:
        model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    def batch(q: str) -> list[str]:
        return [q, q[: len(q) // 2], q[len(q) // 2 :], q[:80], q[-80:]]

    encode(batch(questions[0]))
    times: dict[str, list[float]] = {f"default_{default}": [], "one_thread": [], "one_thread_around_call": []}
    load_before = os.getloadavg()[0]
    for q in questions:
        for mode, values in times.items():
            torch.set_num_threads(1 if mode == "one_thread" else default)
            start = time.perf_counter()
            if mode == "one_thread_around_call":
                torch.set_num_threads(1)
                encode(batch(q))
                torch.set_num_threads(default)
            else:
                encode(batch(q))
            values.append((time.perf_counter() - start) * 1000)
    torch.set_num_threads(default)
    result = {
        "n": len(questions),
        "texts_per_batch": 5,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "ms": {
            mode: {"p50": round(statistics.median(v), 1), "p95": round(sorted(v)[max(0, int(0.95 * len(v)) - 1)], 1)}
            for mode, v in times.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
