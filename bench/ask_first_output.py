"""`assistant ask` from process start to its first output and to its exit, on a pseudo-terminal, fresh processes.

    python bench/ask_first_output.py [--rounds 2] [--checkout before=/tmp/wt --checkout now=.] [--out FILE.json]

The sample articles (indexed once into latency.sample_home()), latency.ASK_QUESTIONS, the default local model.
With several `--checkout LABEL=DIR`, every question is asked by each checkout in turn (the code under test put
first on PYTHONPATH; the installed `assistant` command is the same), so drift of the CPU's speed hits all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--checkout", action="append", default=[], help="LABEL=DIR (repeat to alternate)")
    parser.add_argument("--question", action="append", default=[], help="instead of latency.ASK_QUESTIONS")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ask-first-output.json")
    args = parser.parse_args()

    import latency

    checkouts = dict(c.split("=", 1) for c in args.checkout) or {"now": str(ROOT)}
    questions = args.question or latency.ASK_QUESTIONS
    home = latency.sample_home()
    runs: list[dict[str, Any]] = []
    for round_no in range(1, args.rounds + 1):
        for question in questions:
            for label, checkout in checkouts.items():
                os.environ["PYTHONPATH"] = str(Path(checkout).resolve())
                row = {"round": round_no, "checkout": label, **latency.ask_first_token(home, question)}
                runs.append(row)
                print(f"{label:8} {row['first_output_s']:6.2f} s first, {row['total_s']:6.2f} s exit  {question}")
    summary = {
        label: {
            "first_output_p50_s": statistics.median(r["first_output_s"] for r in runs if r["checkout"] == label),
            "exit_p50_s": statistics.median(r["total_s"] for r in runs if r["checkout"] == label),
        }
        for label in checkouts
    }
    result = {
        "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
        "machine": latency.machine(),
        "checkouts": checkouts,
        "summary": summary,
        "runs": runs,
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
