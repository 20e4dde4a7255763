"""Chat's first answer token after enter, for a question typed key by key (typeahead on) and one pasted at once.

    python bench/chat_typing.py [--wpm 40] [--questions N] [--out bench/results/chat-typing.json]
    python bench/chat_typing.py --home /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl --questions 6

In one process, on the bundled sample articles (or an index of your own with `--home`, asked the first answerable
questions of a MultiHop-RAG-shaped `--queries` file), the default local model loaded and its fixed prompt start read (as
`assistant chat` does at start). For each question, alternating:
- `typed`: a simulated typist sends the question to the typeahead one keystroke at a time (`Typeahead.draft`, as the
  line editor does), at `--wpm` words a minute (5 characters a word) with seeded random gaps between keys
  (exponential around the mean, at least 40 ms), then presses enter: `Chat.ask`.
- `pasted`: the question arrives whole; nothing is read ahead (as before the typeahead, or a pasted question).
- `before`: pasted, and all k passages shown (`retrieval.show_score` = -1): chat as it was before session 8.
Before each question the conversation is forgotten and the model's cache is set back to the prompt start that chat
reads when it opens (`warm_up`), so every way starts alike. Reports enter -> first streamed token, enter -> full
checked answer, how many prompt tokens the answer still had to read after enter, and how long that reading took.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

MODES = ("typed", "pasted", "before")
QUESTIONS = [
    "Did Amara Lindqvist broker the ceasefire between Kolmar and Esteria?",
    "Which outlets reported the Sarn River ceasefire, and when?",
    "Why did Harbor City ration water?",
    "How many prisoners will Kolmar and Esteria exchange under the ceasefire?",
    "Why did rail workers in the Meridian region go on strike?",
    "How did the frost affect growers in the Serrano Valley?",
    "Where will Voltaris build its battery plant?",
    "What delayed the Eastgate trams?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wpm", type=float, default=40.0, help="Typing speed, words (5 characters) a minute.")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="An index to ask instead of the sample articles.")
    parser.add_argument("--queries", type=Path, help="With --home: JSONL questions (`question`, `question_type`).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "chat-typing.json")
    args = parser.parse_args()

    import latency
    from latency import FirstToken

    from assistant.answer import prompt_start
    from assistant.chat import Chat
    from assistant.llm import make_chat_model, prefill
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    questions = QUESTIONS
    if args.queries:
        rows_in = [json.loads(line) for line in args.queries.open()]
        questions = [q["question"] for q in rows_in if q.get("question_type") != "null_query"]
    settings = load_settings(home=args.home or latency.sample_home())
    chat = Chat(settings, make_chat_model(settings.model, settings), open_retriever(settings))
    llama = chat.llm.client  # type: ignore[attr-defined]
    chat.warm_up()
    chat.wait_warm()
    start_messages = prompt_start()  # what `warm_up` reads
    reads: list[int] = []
    original_eval = llama.eval

    spans: list[tuple[float, float]] = []  # when each eval started and ended

    def counting_eval(tokens: Any) -> None:
        reads.append(len(tokens))
        began = time.perf_counter()
        try:
            original_eval(tokens)
        finally:  # an interrupted read raises: its span still lines up with its count
            spans.append((began, time.perf_counter()))

    llama.eval = counting_eval
    typeahead = chat.start_typeahead()
    chat.ask("What did the Harbor City council decide?")  # first-use costs: MiniLM, catalog caches
    show_score = settings.retrieval.show_score
    rng = random.Random(args.seed)
    mean_gap = 60.0 / (args.wpm * 5)
    rows: list[dict[str, Any]] = []
    for question in questions[: args.questions]:
        for mode in MODES:
            settings.retrieval.show_score = -1.0 if mode == "before" else show_score
            chat.reset()
            prefill(chat.llm, start_messages)  # the cache as chat leaves it at start
            if mode == "typed":
                for i in range(1, len(question) + 1):
                    time.sleep(max(0.04, rng.expovariate(1 / mean_gap)))
                    typeahead.draft(question[:i])
                time.sleep(max(0.04, rng.expovariate(1 / mean_gap)))  # the enter key
            first = FirstToken()
            start = time.perf_counter()  # enter
            typeahead.hold()  # as `ask` does first: the step being read finishes
            read_ahead = typeahead.last.tokens_read if typeahead.last else 0
            offset = len(reads)
            result = chat.ask(question, on_token=first)
            end = time.perf_counter()
            after = reads[offset:]
            prompt_span = spans[offset] if after else (end, end)
            row = {
                "question": question,
                "mode": mode,
                "first_token_s": round((first.at or end) - start, 2),
                "full_answer_s": round(end - start, 2),
                "prompt_tokens_read_after_enter": after[0] if after else 0,
                "prompt_tokens_read_ahead": read_ahead if mode == "typed" else 0,
                "enter_to_prompt_read_s": round(prompt_span[0] - start, 2),  # retrieval, checks, the step under way
                "prompt_read_s": round(prompt_span[1] - prompt_span[0], 2),
                "last_draft_read": typeahead.last.draft if mode == "typed" and typeahead.last else None,
                "used_model": first.at is not None,
                "refused": result.refused,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            typeahead.last = None
    summary: dict[str, Any] = {}
    for mode in MODES:
        firsts = [r["first_token_s"] for r in rows if r["mode"] == mode and r["used_model"]]
        summary[mode] = {
            "first_token_s": {
                "p50": round(statistics.median(firsts), 2),
                "max": max(firsts),
                "values": firsts,
            },
            "within_6s": sum(f <= 6.0 for f in firsts),
            "n": len(firsts),
        }
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    result = {
        "wpm": args.wpm,
        "seed": args.seed,
        "home": str(settings.home),
        "summary": summary,
        "rows": rows,
        "loadavg_after": load,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    typeahead.close()


if __name__ == "__main__":
    main()
