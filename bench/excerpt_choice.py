"""Which sentences of each passage the model reads: gold facts kept against prompt tokens, for ways to choose them.

    python bench/excerpt_choice.py --index-dir /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl \
        --n 300 --offset 0 [--out bench/results/excerpt-choice.json]

For n answerable dev questions (the same seeded shuffle as `bench/excerpt_budget.py`, from `--offset`), retrieval and
the passages shown exactly as `ask` does (`Retriever.search`, `worth_showing`). A gold fact counts as retrieved when
a shown passage holds 80% of its content terms, and as kept when the excerpt the model reads does. Each way is a count
of sentences by passage rank (`retrieval.excerpt_sentences`; the last number holds for the rest) and how sentences
sharing as many words with the question are ranked where the cut falls: `earlier` (the earlier sentence) or `closer`
(MiniLM's cosine to the question, `SentenceCloseness`, as `ask` does now). Tokens: the numbered passages as the model
reads them (`format_passages`), counted with the default local model's tokenizer when its file is in the cache.
`closeness_ms`: the time spent choosing sentences, per question, tied ones embedded in one batch as `plan_answer`
does (embedder loaded, nothing cached between ways).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from assistant.answer import SentenceCloseness, format_passages, mask_instructions, shown_sentences
from assistant.retrieval import open_retriever
from assistant.settings import load_settings
from assistant.verify import content_terms
from index.chunking import sentence_spans

ROOT = Path(__file__).resolve().parent.parent
MODEL = Path.home() / ".cache" / "assistant" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
WAYS: dict[str, tuple[list[int], bool]] = {
    "3 each, earlier (session 11)": ([3], False),
    "3 each, closer": ([3], True),
    "3,3,2, earlier": ([3, 3, 2], False),
    "3,3,2, closer (now)": ([3, 3, 2], True),
    "4,3,2, earlier": ([4, 3, 2], False),
    "4,3,2, closer": ([4, 3, 2], True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    retriever = open_retriever(load_settings(home=args.index_dir))
    count_tokens = _token_counter()
    queries = [json.loads(line) for line in args.queries.open()]
    queries = [q for q in queries if q["question_type"] != "null_query"]
    random.Random(args.seed).shuffle(queries)
    queries = queries[args.offset : args.offset + args.n]
    kept = dict.fromkeys(WAYS, 0)
    tokens: dict[str, list[int]] = {way: [] for way in WAYS}
    spent: dict[str, list[float]] = {way: [] for way in WAYS}
    retrieved = 0
    for q in queries:
        question = q["question"]
        passages = retriever.worth_showing(question, retriever.search(question))
        facts = [content_terms(e["fact"]) for e in q["evidence"]]
        found = [f for f in facts if any(covers(f, content_terms(p.text)) for p in passages)]
        retrieved += len(found)
        for way, (schedule, closer) in WAYS.items():
            SentenceCloseness._vectors.clear()
            closeness = SentenceCloseness(retriever.store.embeddings, question) if closer else None
            start = time.perf_counter()
            if closeness is not None:
                closeness.prepare(passages, schedule)  # as `plan_answer` does
            chosen = shown_sentences(passages, question, schedule, closeness=closeness)
            spent[way].append(time.perf_counter() - start)
            shown = []
            for p in passages:
                text = mask_instructions(p.text, "[instructions to AI removed]")  # as `shown_sentences` counts them
                spans = sentence_spans(text)
                shown.append(content_terms(" ".join(text[spans[i][0] : spans[i][1]] for i in chosen[p.chunk_id])))
            kept[way] += sum(1 for f in found if any(covers(f, terms) for terms in shown))
            tokens[way].append(count_tokens(format_passages(passages, question, schedule, closeness=closeness)))
    result: dict[str, Any] = {
        "n": len(queries),
        "offset": args.offset,
        "retrieved_facts": retrieved,
        "token_unit": "qwen" if MODEL.is_file() else "characters",
        "ways": {
            way: {
                "kept": kept[way],
                "retention": round(kept[way] / max(retrieved, 1), 3),
                "mean_tokens": round(statistics.mean(tokens[way])),
                "closeness_ms_p50": round(1000 * statistics.median(spent[way]), 1),
                "closeness_ms_p95": round(1000 * sorted(spent[way])[int(0.95 * (len(spent[way]) - 1))], 1),
            }
            for way in WAYS
        },
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


def covers(fact: set[str], text: set[str]) -> bool:
    return bool(fact) and len(fact & text) / len(fact) >= 0.8


def _token_counter() -> Any:
    if not MODEL.is_file():
        return len
    import llama_cpp

    vocab = llama_cpp.Llama(model_path=str(MODEL), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode(), add_bos=False))


if __name__ == "__main__":
    main()
