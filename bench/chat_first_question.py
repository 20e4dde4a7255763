"""Chat's first question: enter → first answer token, with and without the prompt-prefix warm-up at chat start.

    python bench/chat_first_question.py --runs 2 [--out bench/results/chat-first-question.json]

Each run is a fresh process (a cold llama.cpp cache), on the bundled sample articles, model loaded before timing.
`warm`: `Chat.warm_up()` has finished before the question is asked (a user types for a few seconds), as `assistant
chat` does, and how long it took (`warm_up_s`); `cold`: no warm-up. Alternates the two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Did Amara Lindqvist broker the ceasefire between Kolmar and Esteria?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--one", choices=["warm", "cold"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "chat-first-question.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one == "warm")))
        return
    results: dict[str, list[float]] = {"warm": [], "cold": []}
    warm_up: list[float] = []
    for _ in range(args.runs):
        for mode in ("cold", "warm"):
            out = subprocess.run([sys.executable, __file__, "--one", mode], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(row["first_token_s"])
            if "warm_up_s" in row:
                warm_up.append(row["warm_up_s"])
            print(mode, row, file=sys.stderr)
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    result = {"question": QUESTION, "first_token_s": results, "warm_up_s": warm_up, "loadavg_after": load}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


def one(warm: bool) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "bench"))
    import latency

    from assistant.chat import Chat
    from assistant.llm import make_chat_model
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    settings = load_settings(home=latency.sample_home())
    session = Chat(settings, make_chat_model(settings.model, settings), open_retriever(settings))
    result = {}
    if warm:
        began = time.perf_counter()
        session.warm_up()
        session.wait_warm()
        result["warm_up_s"] = round(time.perf_counter() - began, 2)
    first: list[float] = []
    start = time.perf_counter()
    session.ask(QUESTION, on_token=lambda _: first or first.append(time.perf_counter()))
    result["first_token_s"] = round((first[0] if first else time.perf_counter()) - start, 2)
    return result


if __name__ == "__main__":
    main()
