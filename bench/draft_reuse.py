"""How much of an answer's prompt chat has already read when the question's last words come, without the model.

    python bench/draft_reuse.py [--out bench/results/draft-reuse-sample.json]
    python bench/draft_reuse.py --home /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl --questions 40

For each question (the sample questions of `chat_typing.py`, or the first answerable ones of a MultiHop-RAG-shaped
`--queries` file on an index of your own), a draft is the question without its last k words (k = 1, 2, 4), read as
the typeahead reads it (with "?"). Its prompt is what the model's cache would hold at enter; the answer then reads the
tokens of its own prompt after the prefix the two share. Reported per k, in the default model's tokens, two ways in
one run: `prefer`, where the answer keeps a passage's sentences from the draft's prompt when they share as many words
with the question (as chat does), and `anew`, where each passage's sentences are chosen for the question alone.
Only the tokenizer is loaded: this counts tokens, it does not time the model (see `chat_typing.py` for that).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

CUTS = (1, 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="An index to ask instead of the sample articles.")
    parser.add_argument("--queries", type=Path, help="With --home: JSONL questions (`question`, `question_type`).")
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "draft-reuse.json")
    args = parser.parse_args()

    import latency
    from chat_typing import QUESTIONS
    from llama_cpp import Llama

    from assistant.answer import plan_answer
    from assistant.llm import _prompt_tokens
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings
    from assistant.weights import local_model_path

    questions = QUESTIONS
    if args.queries:
        rows_in = [json.loads(line) for line in args.queries.open()]
        questions = [q["question"] for q in rows_in if q.get("question_type") != "null_query"][: args.questions]
    settings = load_settings(home=args.home or latency.sample_home())
    retriever = open_retriever(settings, create=False)
    llama = Llama(str(local_model_path(settings.cache_dir)), vocab_only=True, verbose=False)

    def plan(question: str, prefer: Any = None) -> Any:
        return plan_answer(question, settings=settings, retriever=retriever, prefer=prefer)

    rows: list[dict[str, Any]] = []
    for question in questions:
        final = plan(question)
        if not final.messages():
            continue  # answered or refused without the model
        words = question.rstrip("?").split()
        for k in CUTS:
            if len(words) <= k + 2:
                continue
            draft = plan(" ".join(words[:-k]) + "?")
            if not draft.messages():
                continue
            cached = _prompt_tokens(llama, draft.messages()) or []
            row: dict[str, Any] = {"question": question, "k": k}
            for way, prefer in (("anew", None), ("prefer", draft.excerpts)):
                tokens = _prompt_tokens(llama, plan(question, prefer).messages()) or []
                common = next((i for i, (a, b) in enumerate(zip(cached, tokens, strict=False)) if a != b), None)
                shared = min(len(cached), len(tokens)) if common is None else common
                row[way] = len(tokens) - shared
                row["prompt_tokens"] = len(tokens)
            row["same_passages"] = [p.chunk_id for p in draft.passages] == [p.chunk_id for p in final.passages]
            rows.append(row)
    summary: dict[str, Any] = {}
    for k in CUTS:
        these = [r for r in rows if r["k"] == k]
        if not these:
            continue
        summary[f"k={k}"] = {
            "n": len(these),
            "prompt_tokens_mean": round(statistics.mean(r["prompt_tokens"] for r in these)),
            "same_passages": sum(r["same_passages"] for r in these),
            **{
                f"left_{way}": {
                    "p50": statistics.median(r[way] for r in these),
                    "mean": round(statistics.mean(r[way] for r in these)),
                    "at_most_100": sum(r[way] <= 100 for r in these),
                }
                for way in ("anew", "prefer")
            },
        }
    result = {"home": str(settings.home), "summary": summary, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
