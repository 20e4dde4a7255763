"""Score quote extraction and speaker attribution against the hand-labelled set in tests/data/quotes.

Usage: python bench/quotes_eval.py [--json] [--errors]

A predicted statement matches a gold one when their spans overlap by at least half of the shorter span (one to one,
best overlap first). Attribution is correct when the matched gold speaker matches the predicted speaker by
`speaker_matches`. Span exact match compares the texts after stripping surrounding whitespace and punctuation.
Precision is counted over predictions (by predicted kind), recall over gold statements (by gold kind).
Three sets are scored, all labelled by hand before the extractor first ran on them: `dev` (tests/data/quotes;
the extractor was debugged against it, so its numbers are optimistic), `heldout` (tests/data/quotes/heldout; its
first run exposed general gaps that were then fixed) and `fresh` (tests/data/quotes/fresh; scored after the last
change to the rules, the least biased estimate).
Also checks the seed article (../shared/eval/seed) when it is present.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.quotes import Statement, extract_statements, speaker_matches

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "quotes"
SETS = {"dev": DATA, "heldout": DATA / "heldout", "fresh": DATA / "fresh"}
SEED = ROOT.parent / "shared" / "eval" / "seed" / "dawn-2023-06-27-pakistan-demarche.txt"
KINDS = ("direct", "reported")
STRIP = " \t\n.,;:!?\"'“”‘’()—–-"


@dataclass(frozen=True)
class Gold:
    article: str
    speaker: str
    kind: str
    text: str
    start: int
    end: int


def load_gold(data: Path = DATA) -> tuple[dict[str, str], list[Gold]]:
    """Read the articles and the labels, locating each label's span in its article."""
    articles = {p.name: p.read_text(encoding="utf-8") for p in sorted((data / "articles").glob("*.txt"))}
    gold: list[Gold] = []
    for n, line in enumerate((data / "labels.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = articles[row["article"]]
        start = text.find(row["text"])
        if start < 0 or text.find(row["text"], start + 1) >= 0:
            raise SystemExit(f"labels.jsonl line {n}: text must occur exactly once in {row['article']}")
        gold.append(Gold(row["article"], row["speaker"], row["kind"], row["text"], start, start + len(row["text"])))
    return articles, gold


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0])
    return inter / shorter if inter > 0 and shorter > 0 else 0.0


def _norm(text: str) -> str:
    return " ".join(text.strip(STRIP).split())


def _ratio(num: int, den: int) -> float:
    return round(num / den, 4) if den else 0.0


def _f1(p: float, r: float) -> float:
    return round(2 * p * r / (p + r), 4) if p + r else 0.0


def score(articles: dict[str, str], gold: list[Gold]) -> dict[str, Any]:
    """Match predictions to gold statements and compute attribution and span scores, overall and per kind."""
    pred_kind: list[str] = []
    pred_ok: list[bool] = []
    pred_exact: list[bool] = []
    gold_ok = [False] * len(gold)
    gold_exact = [False] * len(gold)
    errors: list[dict[str, Any]] = []
    for name, text in articles.items():
        preds = extract_statements(text)
        g_idx = [i for i, g in enumerate(gold) if g.article == name]
        pairs = sorted(
            (
                (_overlap((p.start, p.end), (gold[i].start, gold[i].end)), pi, i)
                for pi, p in enumerate(preds)
                for i in g_idx
            ),
            reverse=True,
        )
        match: dict[int, int] = {}
        used: set[int] = set()
        for ov, pi, gi in pairs:
            if ov >= 0.5 and pi not in match and gi not in used:
                match[pi] = gi
                used.add(gi)
        exact_used: set[int] = set()
        for pi, p in enumerate(preds):
            matched = match.get(pi)
            ok = matched is not None and speaker_matches(gold[matched].speaker, p.speaker)
            exact = next((i for i in g_idx if i not in exact_used and _norm(gold[i].text) == _norm(p.text)), None)
            if exact is not None:
                exact_used.add(exact)
                gold_exact[exact] = True
            pred_kind.append(p.kind)
            pred_ok.append(ok)
            pred_exact.append(exact is not None)
            if matched is not None and ok:
                gold_ok[matched] = True
            if not ok:
                errors.append(_error(name, p, gold[matched] if matched is not None else None))
        for gi in g_idx:
            if gi not in used:
                errors.append(
                    {
                        "article": name,
                        "type": "missed",
                        "gold_speaker": gold[gi].speaker,
                        "gold_kind": gold[gi].kind,
                        "text": gold[gi].text,
                    }
                )

    def block(kind: str | None) -> dict[str, Any]:
        p_sel = [i for i, k in enumerate(pred_kind) if kind is None or k == kind]
        g_sel = [i for i, g in enumerate(gold) if kind is None or g.kind == kind]
        precision = _ratio(sum(pred_ok[i] for i in p_sel), len(p_sel))
        recall = _ratio(sum(gold_ok[i] for i in g_sel), len(g_sel))
        ex_p = _ratio(sum(pred_exact[i] for i in p_sel), len(p_sel))
        ex_r = _ratio(sum(gold_exact[i] for i in g_sel), len(g_sel))
        return {
            "predicted": len(p_sel),
            "gold": len(g_sel),
            "attribution_precision": precision,
            "attribution_recall": recall,
            "attribution_f1": _f1(precision, recall),
            "span_exact_precision": ex_p,
            "span_exact_recall": ex_r,
            "span_exact_f1": _f1(ex_p, ex_r),
        }

    return {
        "articles": len(articles),
        "overall": block(None),
        "per_kind": {k: block(k) for k in KINDS},
        "errors": errors,
    }


def _error(article: str, p: Statement, g: Gold | None) -> dict[str, Any]:
    if g is None:
        return {"article": article, "type": "spurious", "pred_speaker": p.speaker, "pred_kind": p.kind, "text": p.text}
    return {
        "article": article,
        "type": "wrong_speaker",
        "pred_speaker": p.speaker,
        "gold_speaker": g.speaker,
        "pred_kind": p.kind,
        "text": p.text,
    }


def seed_check(path: Path = SEED) -> dict[str, Any]:
    """Check that the seed article yields Miller's four statements, with offsets that slice back."""
    if not path.exists():
        return {"present": False, "passed": None, "problems": []}
    text = path.read_text(encoding="utf-8")
    statements = extract_statements(text)
    problems = [f"offsets do not slice back: {s.text[:40]!r}" for s in statements if text[s.start : s.end] != s.text]
    miller = [s for s in statements if speaker_matches("Miller", s.speaker)]
    expected = [  # (kind, words the statement starts with, words it must contain)
        ("direct", "First of all, we remain committed", "suffered tremendously from terrorist attacks over the years"),
        ("reported", "both Pakistan and India for continuing", "uphold the ceasefire on the LOC"),
        ("reported", "the United States has “been consistent", "including LeT, Jaish-i-Mohammed"),
        ("direct", "We raise the issue regularly", "March 2023 CT dialogue"),
    ]
    if len(miller) != len(expected):
        problems.append(f"expected {len(expected)} statements by Miller, got {len(miller)}")
    for kind, begins, contains in expected:
        hit = [s for s in miller if s.kind == kind and s.text.startswith(begins) and contains in s.text]
        if not hit:
            problems.append(f"missing {kind} statement starting {begins!r}")
        for s in hit:
            if s.speaker != "Mathew Miller" or s.role != "US State Department spokesperson":
                problems.append(f"wrong speaker or role on {begins!r}: {s.speaker!r}, {s.role!r}")
    return {
        "present": True,
        "passed": not problems,
        "problems": problems,
        "miller": [{"kind": s.kind, "text": s.text} for s in miller],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the scores for each set; exit 1 when the seed check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--errors", action="store_true", help="list every wrong, spurious and missed statement")
    args = parser.parse_args(argv)
    sets = {name: score(*load_gold(path)) for name, path in SETS.items()}
    seed = seed_check()
    if args.json:
        if not args.errors:
            sets = {name: {k: v for k, v in r.items() if k != "errors"} for name, r in sets.items()}
        print(json.dumps({"sets": sets, "seed": seed}, indent=2, ensure_ascii=False))
        return 1 if seed["passed"] is False else 0
    for name, result in sets.items():
        print(f"[{name}] {result['articles']} articles, {result['overall']['gold']} gold statements")
        print(f"{'':10} {'pred':>5} {'gold':>5} {'attr P':>7} {'attr R':>7} {'attr F1':>7} {'exact F1':>8}")
        for row, b in [("overall", result["overall"]), *result["per_kind"].items()]:
            print(
                f"{row:10} {b['predicted']:5} {b['gold']:5} {b['attribution_precision']:7.3f} "
                f"{b['attribution_recall']:7.3f} {b['attribution_f1']:7.3f} {b['span_exact_f1']:8.3f}"
            )
        if args.errors:
            for e in result["errors"]:
                print("  " + json.dumps(e, ensure_ascii=False))
        print()
    status = "absent" if not seed["present"] else "PASS" if seed["passed"] else "FAIL"
    print(f"seed article check: {status}")
    for problem in seed["problems"]:
        print(f"  - {problem}")
    return 1 if seed["passed"] is False else 0


if __name__ == "__main__":
    sys.exit(main())
