"""Ingest throughput against the raw encoder, measured in one run on the same passages.

Usage: python bench/ingest_throughput.py [CORPUS] [--limit N] [--out bench/results/ingest.json]

1. Ingests CORPUS (default: ../shared/eval/multihop/corpus.jsonl) into a fresh temporary index through the library
   (`index.ingest.ingest`, as the CLI does), timing it end to end.
2. Encodes exactly the passages that ingest produced (title header included, as ingest embeds them) with
   sentence-transformers' `encode`, same model and batch size, already loaded: the encoder's own ceiling.
The headline is the ratio of the two throughputs. Peak RSS is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared/eval/multihop/corpus.jsonl"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N JSONL records")
    parser.add_argument("--out", default=str(ROOT / "bench/results/ingest.json"))
    args = parser.parse_args()

    from assistant.settings import load_settings
    from index.chunking import header_for
    from index.embedding import LocalEmbeddings
    from index.ingest import ingest
    from index.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(args.corpus)
        if args.limit:
            corpus = Path(tmp) / "corpus.jsonl"
            lines = Path(args.corpus).read_text(encoding="utf-8").splitlines()[: args.limit]
            corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = load_settings(home=Path(tmp) / "home")
        embeddings = LocalEmbeddings(settings.embedder, batch_size=settings.index.embed_batch_size)
        embeddings.encode(["warm-up so both timings start with the model loaded"])
        store = Store(settings, embeddings)

        start = time.perf_counter()
        report = ingest([corpus], settings, store=store)
        ingest_seconds = time.perf_counter() - start

        rows = store.db.execute(
            "SELECT a.title, a.source, a.published_at, c.text FROM chunks c JOIN articles a USING (doc_id)"
        ).fetchall()
        texts = [header_for(title, source, published) + text for title, source, published, text in rows]
        start = time.perf_counter()
        embeddings.encode(texts)
        encode_seconds = time.perf_counter() - start
        store.close()

    passages = len(texts)
    result = {
        "command": "python bench/ingest_throughput.py " + " ".join(sys.argv[1:]),
        "machine": {"cores": _cores(), "ram_gib": _ram_gib(), "python": platform.python_version()},
        "articles": report.added,
        "failed": len(report.failed),
        "passages": passages,
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_passages_per_s": round(passages / ingest_seconds, 2),
        "ingest_articles_per_s": round(report.added / ingest_seconds, 2),
        "encode_seconds": round(encode_seconds, 2),
        "encode_passages_per_s": round(passages / encode_seconds, 2),
        "ratio_ingest_to_encode": round(encode_seconds / ingest_seconds, 3),
        "batch_size": settings.index.embed_batch_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def _ram_gib() -> float:
    import os

    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)


if __name__ == "__main__":
    main()
