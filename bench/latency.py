"""Query latency: CLI start-up, retrieval p50/p95 with models loaded, and time to the first answer token.

    python bench/latency.py --index-dir /tmp/mh-home --queries ../shared/eval/multihop/queries.dev.jsonl
    python bench/latency.py ... --only retrieval --out /tmp/retrieval.json    # some of the measurements

Measures, in one run:
- `assistant --help` wall time (a fresh process each time; median of 5);
- retrieval (`Retriever.search`, the same call `ask` makes: decomposition, hybrid ranking, merge) over the first
  100 questions of --queries, embedder loaded and warmed up: p50, p95, mean;
- `ask` as a user runs it in a terminal: a fresh `assistant ask` process on a pseudo-terminal, from process start to
  the first streamed answer token and to exit (model weights in the OS page cache after a warm-up run);
- `chat` with the model loaded: from submitting a question to its first streamed token, over --chat-questions
  questions answered by one `Chat` session (each question is a new topic: /reset between them).

Writes bench/results/latency.json. The machine's load average is recorded beside each number.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# In-process measurements (retrieval) run this checkout's code; `ask` and `chat` run the installed `assistant`.
sys.path.insert(0, str(ROOT))
ASK_QUESTIONS = [
    "Did Amara Lindqvist broker the ceasefire between Kolmar and Esteria?",
    "Which outlets reported the Sarn River ceasefire, and when?",
    "Why did Harbor City ration water?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True, help="An index built from the MultiHop corpus.")
    parser.add_argument("--queries", type=Path, required=True, help="Questions for retrieval timing (JSONL).")
    parser.add_argument("--n", type=int, default=100, help="Questions for retrieval timing.")
    parser.add_argument("--sample-home", type=Path, default=None, help="Index of examples/articles for ask/chat.")
    parser.add_argument("--chat-questions", type=int, default=len(ASK_QUESTIONS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency.json")
    parser.add_argument(
        "--only", choices=("help", "retrieval", "ask", "chat"), nargs="+", help="Measure only these (default: all)."
    )
    args = parser.parse_args()
    wanted = set(args.only or ("help", "retrieval", "ask", "chat"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    result: dict[str, Any] = {"machine": machine()}
    if "help" in wanted:
        result["help"] = help_time()
        log(f"--help: {result['help']}")
    if "retrieval" in wanted:
        result["retrieval"] = retrieval_latency(args.index_dir, args.queries, args.n)
        log(f"retrieval: {result['retrieval']}")
    if wanted & {"ask", "chat"}:
        home = args.sample_home or sample_home()
    if "ask" in wanted:
        result["ask"] = [ask_first_token(home, q) for q in ASK_QUESTIONS]
        log(f"ask: {result['ask']}")
    if "chat" in wanted:
        result["chat"] = chat_first_token(home, ASK_QUESTIONS[: args.chat_questions])
        log(f"chat: {result['chat']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": sys.version.split()[0], "loadavg_start": load()}


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
        "loadavg": load(),
    }


def help_time() -> dict[str, Any]:
    exe = str(Path(sys.executable).with_name("assistant"))
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(runs), 3), "runs_s": [round(r, 3) for r in runs], "loadavg": load()}


def retrieval_latency(index_dir: Path, queries: Path, n: int) -> dict[str, Any]:
    from assistant.evaluation import load_queries
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    retriever = open_retriever(load_settings(home=index_dir))
    questions = [q.question for q in load_queries(queries)][:n]
    for question in questions[:3]:  # load the embedder, warm the caches
        retriever.search(question)
    timings = []
    for question in questions:
        start = time.perf_counter()
        retriever.search(question)
        timings.append(time.perf_counter() - start)
    return {"questions": len(questions), "chunks": retriever.store.count_chunks(), **percentiles(timings)}


def sample_home() -> Path:
    home = Path("/tmp/assistant-latency-home")
    if not home.exists():
        exe = str(Path(sys.executable).with_name("assistant"))
        subprocess.run([exe, "ingest", str(ROOT / "examples" / "articles"), "--index-dir", str(home)], check=True)
    return home


def ask_first_token(home: Path, question: str) -> dict[str, Any]:
    """Run `assistant ask` on a pseudo-terminal (so it streams) and time its first output byte and its exit."""
    exe = str(Path(sys.executable).with_name("assistant"))
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execv(exe, [exe, "ask", question, "--index-dir", str(home)])
    first = None
    output = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 600)
        if not ready:
            break
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        if first is None and chunk.strip():
            first = time.perf_counter() - start
        output += chunk
    os.waitpid(pid, 0)
    total = time.perf_counter() - start
    return {
        "question": question,
        "first_output_s": round(first or total, 2),
        "total_s": round(total, 2),
        "streamed": b"Checked answer" in output,
        "loadavg": load(),
    }


class FirstToken:
    """An on_token callback that remembers when the first token arrived."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, token: str) -> None:
        if self.at is None:
            self.at = time.perf_counter()


def chat_first_token(home: Path, questions: list[str]) -> dict[str, Any]:
    from assistant.chat import Chat
    from assistant.llm import make_chat_model
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    settings = load_settings(home=home)
    session = Chat(settings, make_chat_model(settings.model, settings), open_retriever(settings))
    session.ask("What did the Harbor City council decide?")  # load weights, warm up
    firsts, totals = [], []
    for question in questions:
        session.reset()
        first = FirstToken()
        start = time.perf_counter()
        session.ask(question, on_token=first)
        totals.append(time.perf_counter() - start)
        firsts.append((first.at or time.perf_counter()) - start)
    return {
        "first_token": {**percentiles(firsts), "values_s": [round(f, 2) for f in firsts]},
        "full_answer": {**percentiles(totals), "values_s": [round(t, 2) for t in totals]},
    }


if __name__ == "__main__":
    main()
