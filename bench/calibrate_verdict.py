"""Calibrate `llm.yes_threshold`: the local model's P(Yes) on yes/no dev questions kept out of the answers sample.

    python bench/calibrate_verdict.py --index-dir /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl \
        --n 60 --exclude-sample 150 --exclude-seed 0 --out bench/results/verdict-calibration.jsonl

For each question: the same retrieval and prompt as `assistant ask`, then P(Yes)/(P(Yes)+P(No)) of the first answer
token. Prints the accuracy of each threshold and the one that is best; the questions drawn by
`eval answers --sample N --seed S` are left out, so the eval that follows is not measured on calibration questions.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from assistant.answer import answer_prompt, format_passages, is_yes_no, prompt_inputs
from assistant.evaluation import load_queries, sample_queries
from assistant.llm import make_chat_model, yes_probability
from assistant.retrieval import open_retriever
from assistant.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--exclude-sample", type=int, default=150)
    parser.add_argument("--exclude-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    queries = load_queries(args.queries)
    excluded = {q.id for q in sample_queries(queries, args.exclude_sample, args.exclude_seed)}
    pool = [q for q in queries if q.id not in excluded and q.answer.lower() in {"yes", "no"} and is_yes_no(q.question)]
    chosen = random.Random(args.seed).sample(pool, min(args.n, len(pool)))
    settings = load_settings(home=args.index_dir)
    retriever = open_retriever(settings)
    model = make_chat_model(settings.model, settings)
    rows = []
    with args.out.open("w") as out:
        for i, q in enumerate(chosen, start=1):
            start = time.perf_counter()
            passages = retriever.search(q.question)
            shown = format_passages(passages, q.question, settings.retrieval.excerpt_sentences)
            messages = answer_prompt().format_messages(**prompt_inputs(shown, q.question))
            p_yes = yes_probability(model, messages)
            row = {
                "id": q.id,
                "gold": q.answer.lower(),
                "p_yes": p_yes,
                "seconds": round(time.perf_counter() - start, 1),
            }
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"{i}/{len(chosen)} {row}", file=sys.stderr)
    report(rows)


def report(rows: list[dict]) -> None:
    cuts = sorted({round(r["p_yes"], 3) for r in rows} | {0.5})
    best = max(cuts, key=lambda t: (accuracy(rows, t), -abs(t - 0.5)))
    yes_share = sum(r["gold"] == "yes" for r in rows) / len(rows)
    print(
        json.dumps(
            {
                "n": len(rows),
                "gold_yes_share": round(yes_share, 3),
                "accuracy_at_0.5": accuracy(rows, 0.5),
                "best_threshold": best,
                "accuracy_at_best": accuracy(rows, best),
            }
        )
    )


def accuracy(rows: list[dict], threshold: float) -> float:
    right = sum((r["p_yes"] >= threshold) == (r["gold"] == "yes") for r in rows)
    return round(right / len(rows), 3)


if __name__ == "__main__":
    main()
