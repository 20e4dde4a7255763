"""Merge a rerun of some questions into an `eval answers` records file and score the whole sample again.

    python bench/merge_rerun.py --records bench/results/answers-s150-records.jsonl \
        --rerun rerun-records.jsonl --ids rerun-ids.json --out bench/results/answers-s150-patched.json

For a change to the code that can only alter some answers (here: the name rescue, which acts only on answers
refused as "no sentence ... backed"), the questions it can change are run again with the new code
(`assistant eval answers --queries SUBSET --records rerun-records.jsonl`) and replace their old records. `--ids`
is {"patch": [ids replaced], "check": [ids rerun only to see whether answers repeat]}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=Path, required=True)
    parser.add_argument("--rerun", type=Path, required=True)
    parser.add_argument("--ids", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    records = [json.loads(line) for line in args.records.open()]
    rerun = {r["id"]: r for r in map(json.loads, args.rerun.open())}
    ids = json.loads(args.ids.read_text())
    old = {r["id"]: r for r in records}
    repeated = {i: rerun[i]["answer"] == old[i]["answer"] for i in ids["check"] if i in rerun}
    merged = [rerun[r["id"]] if r["id"] in ids["patch"] and r["id"] in rerun else r for r in records]
    answerable = [r for r in merged if not r["null"]]
    null = [r for r in merged if r["null"]]
    answered = [r for r in merged if not r["refused"]]
    result = {
        "answerable": len(answerable),
        "null": len(null),
        "strict": round(sum(r["strict"] for r in answerable) / len(answerable), 4),
        "lenient": round(sum(r["lenient"] for r in answerable) / len(answerable), 4),
        "false_refusal_rate": round(sum(r["refused"] for r in answerable) / len(answerable), 4),
        "refusal_rate_null": round(sum(r["refused"] for r in null) / len(null), 4),
        "citation_validity": round(sum(r["citations_valid"] for r in answered) / max(1, len(answered)), 4),
        "quotes": sum(r["quotes"] for r in merged),
        "invented_quotes": sum(r["invented_quotes"] for r in merged),
        "rerun": len(ids["patch"]),
        "changed": sum(1 for i in ids["patch"] if i in rerun and rerun[i]["answer"] != old[i]["answer"]),
        "check_repeated": repeated,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
