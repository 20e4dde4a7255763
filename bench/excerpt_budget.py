"""What the model would miss with a smaller prompt: gold-fact retention of passage excerpts under character budgets.

    python bench/excerpt_budget.py --index-dir /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl --n 150

Prompt reading dominates the wait for the first answer token on a CPU (Qwen2.5-1.5B reads ~60 tokens/s on 2 cores),
so the first token within 6 s of issue 8 would need the passages cut to ~1,200 characters. This measures what that
costs. For n answerable dev questions (seeded shuffle), the same retrieval as `ask`; a gold fact counts as retrieved
when a passage holds 80% of its content terms, and as kept when the text shown to the model does. Schemes: `s3` is
what the model reads now (the 3 sentences of each passage sharing most words with the question); `bN` picks
sentences across all passages up to N characters: each passage's best sentence first, in rank order, then the next
best by shared words, skipping sentences that share none. `shownF`: `s3` over only the passages `ask` shows with
`retrieval.show_score` = F (`--show-scores`; the best passage, and the others with cosine >= F or a content word in
common with the question); `mean_passages` counts them.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from assistant.answer import excerpt
from assistant.retrieval import open_retriever
from assistant.settings import load_settings
from assistant.types import Passage
from assistant.verify import content_terms
from index.chunking import sentence_spans

BUDGETS = (900, 1200, 1600, 2000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show-scores", default="", help="Comma-separated show_score floors to try, e.g. 0.1,0.2,0.3")
    args = parser.parse_args()

    retriever = open_retriever(load_settings(home=args.index_dir))
    queries = [json.loads(line) for line in args.queries.open()]
    queries = [q for q in queries if q["question_type"] != "null_query"]
    random.Random(args.seed).shuffle(queries)
    queries = queries[: args.n]
    schemes: dict[str, int | float | None] = {"s3": None} | {f"b{b}": b for b in BUDGETS}
    schemes |= {f"shown{f}": float(f) for f in args.show_scores.split(",") if f}
    kept = dict.fromkeys(schemes, 0)
    chars = dict.fromkeys(schemes, 0)
    shown_passages = dict.fromkeys(schemes, 0)
    retrieved = 0
    for q in queries:
        passages = retriever.search(q["question"])
        facts = [content_terms(e["fact"]) for e in q["evidence"]]
        full = [content_terms(p.text) for p in passages]
        found = [f for f in facts if any(covers(f, t) for t in full)]
        retrieved += len(found)
        for name, budget in schemes.items():
            if budget is None:
                shown = [excerpt(p.text, q["question"], 3) for p in passages]
            elif isinstance(budget, float):
                retriever.settings.retrieval.show_score = budget
                worth = retriever.worth_showing(q["question"], passages)
                shown = [excerpt(p.text, q["question"], 3) for p in worth]
            else:
                shown = within_budget(passages, q["question"], budget)
            terms = [content_terms(s) for s in shown]
            kept[name] += sum(1 for f in found if any(covers(f, t) for t in terms))
            chars[name] += sum(len(s) for s in shown)
            shown_passages[name] += len(shown)
    result = {
        name: {
            "kept": kept[name],
            "retrieved": retrieved,
            "retention": round(kept[name] / max(retrieved, 1), 3),
            "mean_chars": round(chars[name] / len(queries)),
            "mean_passages": round(shown_passages[name] / len(queries), 2),
        }
        for name in schemes
    }
    print(json.dumps({"n": len(queries), "schemes": result}, indent=1))


def covers(fact: set[str], text: set[str]) -> bool:
    return bool(fact) and len(fact & text) / len(fact) >= 0.8


def within_budget(passages: list[Passage], question: str, budget: int) -> list[str]:
    wanted = content_terms(question)
    candidates = []  # (shared words, passage rank, sentence index, sentence)
    for i, p in enumerate(passages):
        for j, (a, b) in enumerate(sentence_spans(p.text)):
            candidates.append((len(content_terms(p.text[a:b]) & wanted), i, j, p.text[a:b]))
    best: dict[int, tuple[int, int, int, str]] = {}
    for c in candidates:
        if c[0] and (c[1] not in best or c[0] > best[c[1]][0]):
            best[c[1]] = c
    order = [best[i] for i in sorted(best)] + sorted(candidates, key=lambda c: (-c[0], c[1], c[2]))
    chosen: dict[tuple[int, int], str] = {}
    used = 0
    for shared, i, j, sentence in order:
        if (i, j) in chosen or not shared or (chosen and used + len(sentence) > budget):
            continue
        chosen[(i, j)] = sentence
        used += len(sentence)
    return [" ".join(s for (i, _), s in sorted(chosen.items()) if i == n) for n in range(len(passages))]


if __name__ == "__main__":
    main()
