"""Prompt tokens saved by heading a second passage of an article "Same article as [n]" instead of its title.

    python bench/same_article_tokens.py --index-dir /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl \
        --n 200 --offset 400 --out bench/results/same-article-tokens.json

For answerable questions of a MultiHop-RAG-shaped file (from `--offset` on) that reach the model, the passages are
formatted as `ask` shows them, then again as before session 15 (every passage with its title: each passage is made
its own article), and both are counted with the default local model's tokenizer (its file must be in the cache).
`--questions-out` writes the questions whose prompt changed (for an answer A/B with `assistant eval answers`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--offset", type=int, default=400)
    parser.add_argument("--questions-out", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "same-article-tokens.json")
    args = parser.parse_args()

    from llama_cpp import Llama

    from assistant.answer import format_passages, plan_answer
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings
    from assistant.weights import local_model_path

    settings = load_settings(home=args.index_dir)
    retriever = open_retriever(settings, create=False)
    llama = Llama(str(local_model_path(settings.cache_dir)), vocab_only=True, verbose=False)
    rows = [json.loads(line) for line in args.queries.open()]
    answerable = [r for r in rows if r.get("question_type") != "null_query"][args.offset :][: args.n]
    before, saved, changed = [], [], []
    for row in answerable:
        plan = plan_answer(row["question"], settings=settings, retriever=retriever)
        if not plan.messages():
            continue  # answered or refused without the model
        now = format_passages(plan.passages, shown=plan.excerpts)
        apart = [dataclasses.replace(p, doc_id=p.chunk_id) for p in plan.passages]
        old = format_passages(apart, shown=plan.excerpts)
        n_old = len(llama.tokenize(old.encode(), add_bos=False))
        n_now = len(llama.tokenize(now.encode(), add_bos=False))
        before.append(n_old)
        saved.append(n_old - n_now)
        if n_old != n_now:
            changed.append(row)
    result = {
        "questions": len(before),
        "with_a_second_passage_of_an_article": len(changed),
        "passage_tokens_before_mean": round(statistics.mean(before), 1),
        "saved_mean": round(statistics.mean(saved), 2),
        "saved_when_changed_mean": round(statistics.mean([s for s in saved if s]), 2) if changed else 0,
    }
    if args.questions_out:
        args.questions_out.write_text("".join(json.dumps(r) + "\n" for r in changed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
