"""Embedding a question and its parts: one float32 batch, batches of like length, and those in bfloat16.

    python bench/question_embedding.py --index-dir /tmp/mh-home \
        --queries ../shared/eval/multihop/queries.dev.jsonl [--n 100] [--rounds 3] [--out FILE]

`Retriever.search` embeds a question and the parts `Retriever.parts` splits from it (the outlets the index holds
decide some of them, hence `--index-dir`). For each of n dev questions, that batch is embedded three ways in turn, on
one torch thread, as `LocalEmbeddings.encode` runs small batches:
- `one_batch`: one float32 batch, every text padded to the longest (the code before session 13);
- `length_groups`: float32, in the batches `index.embedding.length_groups` chooses;
- `length_groups_bf16`: the same batches under bfloat16 autocast (what `embed_questions` does where the CPU has
  AVX-512 BF16; elsewhere bfloat16 is emulated and slow, so the code keeps float32 there).
The modes alternate question by question, `--rounds` times, so the machine's load hits all alike; the cosine of each
bfloat16 vector to its float32 one is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "question-embedding.json")
    args = parser.parse_args()

    import numpy as np
    import torch

    from assistant.retrieval import Retriever
    from assistant.settings import load_settings
    from assistant.types import Filters
    from index.embedding import LocalEmbeddings, _one_torch_thread
    from index.store import Store

    embeddings = LocalEmbeddings()
    settings = load_settings(home=args.index_dir)
    store = Store(settings, embeddings)
    retriever = Retriever(store, settings)
    questions = [json.loads(line)["question"] for line in args.queries.open()][: args.n]
    batches = [list(dict.fromkeys([q] + [p.text for p in retriever.parts(q, Filters())])) for q in questions]

    def bf16(texts: list[str]) -> Any:  # forced, whatever the CPU (embed_questions decides by the CPU)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return embeddings.encode(texts)

    modes: dict[str, Callable[[list[str]], Any]] = {
        "one_batch": embeddings._encode,
        "length_groups": embeddings.encode,  # a few texts: batches of like length, on one thread
        "length_groups_bf16": bf16,
    }
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    cosines: list[float] = []
    load_before = os.getloadavg()[0]
    with _one_torch_thread():
        for fn in modes.values():  # warm-up
            fn(batches[0])
        for _ in range(args.rounds):
            for texts in batches:
                out = {}
                for mode, fn in modes.items():
                    start = time.perf_counter()
                    out[mode] = fn(texts)
                    times[mode].append(time.perf_counter() - start)
                exact, half = out["length_groups"], out["length_groups_bf16"]
                cosines.extend((exact * half).sum(axis=1) / np.linalg.norm(half, axis=1))
    store.close()

    pieces = [embeddings.count_tokens(texts) for texts in batches]
    result = {
        "command": " ".join(sys.argv),
        "machine": {
            "cores": os.cpu_count() or 0,
            "cpu": _cpu(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_has_bf16": embeddings.questions_in_bf16,
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
        },
        "questions": len(questions),
        "rounds": args.rounds,
        "texts_per_question": round(statistics.mean(len(b) for b in batches), 2),
        "word_pieces_per_question": round(statistics.mean(sum(p) for p in pieces), 1),
        "longest_text_pieces_mean": round(statistics.mean(max(p) for p in pieces), 1),
        "modes": {mode: _percentiles(values) for mode, values in times.items()},
        "ratio_p50_to_one_batch": {
            mode: round(statistics.median(values) / statistics.median(times["one_batch"]), 3)
            for mode, values in times.items()
        },
        "bf16_cosine_to_float32": {"min": round(float(min(cosines)), 6), "mean": round(float(np.mean(cosines)), 6)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 1),
        "mean_ms": round(statistics.mean(ordered) * 1000, 1),
    }


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()
