"""Retrieval latency and index size at growing index sizes, for the embedded Chroma store and a Chroma server.

Usage: python bench/scale.py [--sizes 10000,100000,1000000] [--backend embedded|server|both]
       [--out bench/results/scale.json] [--workdir DIR] [--keep] [--resume] [--max-build-minutes 60]

One index per backend is grown in steps (never rebuilt) through the real write path, `index.store.Store.write`:
SQLite catalog, FTS5 lexical index, statement extraction and the Chroma collection are all real. The articles are
synthetic and news-like: ~10 paragraphs of ~200 words per article, one chunk per paragraph, words drawn Zipf-like
from a fixed list of English news words extended by a tail of generated pseudo-words, plus recurring people,
places, organisations and quotes; 40 outlets, dates across 2023. Only the embedder is replaced: `RandomEmbeddings`
returns seeded random unit vectors of MiniLM's dimension (384), so 1M chunks take no days of encoding.

At each size, after warm-up queries, 100 synthetic questions are timed through dense search (k=40), lexical search
(k=40) and the hybrid query `Retriever.search` runs for one undecomposed part (dense + lexical + fusion + cosine
rescoring, k=10), each also with an outlet and date-range filter; then the index is measured on disk. The query
vector comes from the fake embedder (microseconds), so the real MiniLM `embed_query` is timed once, separately:
add it to the hybrid numbers for a question's retrieval latency. Results are written after every size.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from assistant.retrieval import Retriever
    from assistant.settings import Settings
    from assistant.types import Filters
    from index.chunking import Chunk
    from index.embedding import LocalEmbeddings
    from index.loaders import Article
    from index.store import Store

DIM = 384  # all-MiniLM-L6-v2's dimension
SEED = 8  # issue 8
QUERIES = 100
WARMUP = 10
DENSE_K = 40  # Retriever's candidates per ranking
HYBRID_K = 10
PSEUDO_WORDS = 20_000  # the vocabulary's tail: a real archive has a long one, and BM25 cost depends on it
ZIPF_S = 1.0
YEAR = 2023

# The head of the vocabulary, most frequent first: function words, then common news words.
_NEWS_WORDS = """
the of and to in a that is for on was with as said by at from it has have be are an its were not but this
they which will had their been more after would also who about up new than over year could two into people
percent last government first years one police some can out other million state three week against may when
officials city country there told before since told president company minister time only under while public
report market talks plan law court national security billion during between group former months military prices
health since public economic several including money deal where support workers children rate rates energy
officials data investors bank election party leader vote votes voters campaign council federal county school
schools students teachers hospital patients doctors water power oil gas fuel climate weather storm flood fire
fires emergency border trade tariffs exports imports growth inflation interest budget tax taxes spending debt
shares stock stocks profit profits revenue sales jobs unemployment wages strike union unions contract contracts
agreement ceasefire troops forces attack attacks war peace aid refugees migrants asylum protest protests rally
crowd arrest arrested charged trial judge jury verdict sentence prison appeal ruling lawsuit investigation
inquiry probe evidence witness witnesses statement spokesman spokeswoman ministry department agency regulator
regulators commission committee parliament senate congress bill bills legislation reform policy policies
program project projects construction housing rent homes property prices mortgage banks lending credit loans
technology software data privacy users platform app apps chips chip factory factories plant plants production
supply shortage shortages demand consumers retail retailers airline airlines flights airport travel tourism
hotel hotels season team teams coach players match league championship final finals record records game games
season fans stadium club transfer contract injury injured killed dead deaths died injured victims survivors
rescue crews firefighters hospitalised residents neighbourhood village town region province district coast
island river bridge road roads rail railway train trains bus transport traffic crash accident safety risk risks
warning warned warns expected expects plans planned announced announce announcement decision decided rejected
approved approve proposal proposed deadline delay delayed cost costs price rise rose fell fall drop dropped
increase increased decrease cut cuts higher lower largest biggest smallest early late latest recent former
senior chief executive director manager officer analyst analysts experts researchers scientists study studies
survey results figures quarter annual monthly weekly daily today yesterday tomorrow morning evening night local
international foreign domestic regional global european asian african american western eastern northern
southern central
""".split()
_FIRST = """
Amara Ben Carla Dmitri Elena Farid Grace Hiroshi Ines Jamal Katarzyna Liam Maria Nadia Omar Priya Quentin Rosa
Samuel Tariq Ursula Victor Wen Ximena Yusuf Zofia Adebayo Brigitte Chen Daniela Emeka Fatima Gustavo Hannah Ivan
Jin Kofi Leila Mateo Ngozi Olga Pablo Rania Sven Thandiwe Uma Vikram Willa Yara Aleksander Beatriz Cormac Dalia
Esteban Freya Goran Hye Idris Joanna Kenji
""".split()
_LAST = """
Okafor Miller Novak Rahman Silva Tanaka Kowalski Haddad Mensah Lindqvist Moreau Petrov Nakamura Osei Castillo
Brennan Achterberg Bianchi Chowdhury Delacroix Eriksen Fernandes Gallagher Horvath Iwu Jansen Kaur Lombardi
Mbeki Nieminen OConnell Papadopoulos Quispe Rossi Sato Takahashi Ueda Varga Wojcik Xu Yilmaz Zapata Abiodun Baptiste
Cardoso Dubois Esposito Fischer Guerrero Hoffmann Ibrahim Jovanovic Kim Larsen Mahmoud Nguyen Ortega Pereira
Quinn Ramos Schmidt Torres Ulloa Vasquez Weber Yamamoto Zimmermann Adeyemi Bergstrom Costa Diallo Eze Fontaine
Grant Hussain
""".split()
_PLACES = """
Lagos Krakow Porto Osaka Nairobi Tampere Lyon Accra Bergen Valencia Dundee Leeds Gdansk Sapporo Mombasa Cusco
Antwerp Bologna Brno Cork Dakar Durban Fresno Galway Hobart Izmir Jaipur Kigali Leipzig Lima Malmo Mysore Nantes
Oaxaca Perth Quito Rotterdam Salta Tbilisi Turin Utrecht Vilnius Windhoek Yerevan Zagreb Aarhus Bilbao Chennai
Dresden Essen Faro Graz Halifax Innsbruck Juba Kobe Linz Minsk Nice Odesa Padua Riga Seville Tallinn Umea Varna
Winnipeg Xiamen Yokohama Zurich
""".split()
_ORGS = [
    f"{a} {b}"
    for a in "Northwind Bluefield Orion Meridian Harbourline Kestrel Summit Ironbridge Cobalt Larkspur".split()
    for b in "Energy Holdings Bank Airways Telecom Motors Foods Pharma".split()
]
_ROLES = """
minister spokesperson mayor governor economist analyst director chairman professor commissioner prosecutor
lawyer union organiser chief executive senator researcher coach
""".split()
OUTLETS = [
    "Harbor Ledger", "Northern Courier", "The Daily Meridian", "Valley Gazette", "Coastline Post", "Metro Chronicle",
    "The Evening Standard-Bearer", "Capital Dispatch", "Riverside Herald", "The Morning Lantern", "Summit Times",
    "Plains Observer", "Eastern Tribune", "Western Sentinel", "The Granite Review", "Bayview Bulletin",
    "Lakeside Journal", "The Civic Record", "Frontier Examiner", "Market Wire", "TechPulse", "Circuit Daily",
    "The Policy Desk", "Green Ledger", "Sports Crossing", "Pitchside", "The Health Beat", "Science Current",
    "Global Briefing", "The Continental", "Harbour Business Review", "Newsline 24", "The Weekly Compass",
    "Crossroads Magazine", "Island Voice", "Highland Courier", "The Urban Pulse", "Delta Times", "Atlas Report",
    "The Quiet Observer",
]  # fmt: skip
_QUESTIONS = [
    "What did {person} say about the {w1} {w2}?",
    "How did {org} respond to the {w1} in {place}?",
    "Why did {w1} {w2} change in {place} according to {person}?",
    "When did {org} announce the {w1} {w2} plan?",
    "What happened to {w1} {w2} and {w3} in {place}?",
    "Who criticised {org} over {w1} {w2}?",
    "What is {person}'s position on {w1} and {w2}?",
    "Which {w1} did {org} and {person} discuss in {place}?",
]


@dataclass(frozen=True)
class Vocabulary:
    """The words of the synthetic archive, most frequent first, with Zipf cumulative weights."""

    words: list[str]
    cum_weights: list[float]

    @classmethod
    def build(cls, seed: int = SEED, pseudo_words: int = PSEUDO_WORDS) -> Vocabulary:
        """Return the news word list followed by a seeded tail of pronounceable pseudo-words."""
        words = list(dict.fromkeys(_NEWS_WORDS))
        seen = set(words)
        rng = random.Random(seed)
        onsets, vowels, codas = "b c d f g h k l m n p r s t v w z br tr st pl gr ch sh".split(), "aeiou", "nrstlm"
        target = len(words) + pseudo_words
        while len(words) < target:
            syllables = [rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 3))]
            word = "".join(syllables) + (rng.choice(codas) if rng.random() < 0.5 else "")
            if word not in seen:
                seen.add(word)
                words.append(word)
        total = 0.0
        cum = []
        for rank in range(1, len(words) + 1):
            total += 1.0 / rank**ZIPF_S
            cum.append(total)
        return cls(words, cum)

    def sample(self, rng: random.Random, n: int, *, skip: int = 0) -> list[str]:
        """Draw n words Zipf-like; `skip` leaves out the most frequent ranks (questions use content words)."""
        if not skip:
            return rng.choices(self.words, cum_weights=self.cum_weights, k=n)
        base, top = self.cum_weights[skip - 1], self.cum_weights[-1]
        draws = (base + rng.random() * (top - base) for _ in range(n))
        return [self.words[bisect.bisect_left(self.cum_weights, x, lo=skip)] for x in draws]


class RandomEmbeddings(Embeddings):
    """Stands in for `index.embedding.LocalEmbeddings`: seeded random unit vectors of MiniLM's size, no model.

    Documents get vectors from one seeded stream (deterministic for a fixed write order); a query's vector is
    seeded by its text, so the same question always gets the same vector.
    """

    spec = f"random-unit-{DIM}"

    def __init__(self, seed: int = SEED, *, dim: int = DIM, batch_size: int = 64) -> None:
        self.dim = dim
        self.seed = seed
        self.batch_size = batch_size
        self.path = Path(self.spec)  # the catalog records the embedder's path when it is not the packaged one
        self.model_id = f"random-unit-{dim}-seed{seed}"  # names the collection: the same when a run resumes
        self._rng = np.random.default_rng(seed)

    def start_stream(self, stream: int) -> None:
        """Draw document vectors from another seeded stream (a resumed run must not repeat the first vectors)."""
        self._rng = np.random.default_rng([self.seed, stream])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return whitespace word counts (no tokenizer): chunks here are built by words."""
        return [len(t.split()) for t in texts]

    def embed_documents(self, texts: list[str], on_progress: Any = None) -> list[list[float]]:
        """Return one random unit vector per text."""
        if on_progress is not None:
            on_progress(len(texts))
        return _unit(self._rng.standard_normal((len(texts), self.dim), dtype=np.float32)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Return a random unit vector seeded by the text."""
        rng = np.random.default_rng(int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big"))
        return _unit(rng.standard_normal((1, self.dim), dtype=np.float32))[0].tolist()

    def encode(self, texts: Sequence[str]) -> Any:
        """Return a numpy array of random unit vectors, as `LocalEmbeddings.encode` returns real ones."""
        return _unit(self._rng.standard_normal((len(texts), self.dim), dtype=np.float32))


def _unit(matrix: Any) -> Any:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


# -- Synthetic archive ---------------------------------------------------------------------------------------------


def synthetic_article(n: int, vocab: Vocabulary, seed: int = SEED) -> tuple[Article, list[Chunk]]:
    """Return article number n (always the same for the same n and seed) and its chunks, one per paragraph."""
    from index.chunking import Chunk
    from index.loaders import Article

    rng = random.Random(seed * 1_000_003 + n)
    people = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(3)]
    place, org, outlet = rng.choice(_PLACES), rng.choice(_ORGS), rng.choice(OUTLETS)
    day = date(YEAR, 1, 1) + timedelta(days=rng.randrange(365))
    paragraphs = []
    for _ in range(rng.randint(8, 12)):
        target, words, sentences = rng.randint(170, 230), 0, []
        while words < target:
            sentence = _sentence(rng, vocab, people, place, org)
            sentences.append(sentence)
            words += sentence.count(" ") + 1
        paragraphs.append(" ".join(sentences))
    text = "\n\n".join(paragraphs)
    chunks, start = [], 0
    for no, paragraph in enumerate(paragraphs):
        chunks.append(Chunk(no, start, start + len(paragraph), paragraph))
        start += len(paragraph) + 2
    head = vocab.sample(rng, 3, skip=100)
    article = Article(
        doc_id=f"syn-{n:07d}",
        path=f"synthetic/{n:07d}.txt",
        title=f"{org} {head[0]} {head[1]} as {place} {head[2]}",
        source=outlet,
        published_at=f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00",
        author=rng.choice(people),
        url=f"https://{outlet.lower().replace(' ', '-')}.example/{n}",
        text=text,
    )
    return article, chunks


def _sentence(rng: random.Random, vocab: Vocabulary, people: list[str], place: str, org: str) -> str:
    words = vocab.sample(rng, rng.randint(10, 24))
    roll = rng.random()
    if roll < 0.25:
        words.insert(rng.randrange(len(words)), rng.choice((place, org, people[0].split()[1])))
    body = " ".join(words)
    body = body[0].upper() + body[1:]  # not str.capitalize: it lowercases the names inside
    person = rng.choice(people)
    if roll > 0.9:  # a direct quote, attributed
        return f"“{body},” said {person}, the {rng.choice(_ROLES)} of {org}."
    if roll > 0.82:  # reported speech
        return f"{person} said that {body[0].lower() + body[1:]}."
    return body + "."


def archive(start: int, vocab: Vocabulary) -> Iterator[tuple[Article, list[Chunk]]]:
    """Yield synthetic articles from number `start` on, forever."""
    n = start
    while True:
        yield synthetic_article(n, vocab)
        n += 1


@dataclass(frozen=True)
class Query:
    """A synthetic question and the outlet/date filter used for its filtered variant."""

    text: str
    source: str
    since: int
    until: int

    def filters(self) -> Filters:
        """The outlet and date-range filter of the filtered variant."""
        from assistant.types import Filters

        return Filters(sources=(self.source,), since=self.since, until=self.until)


def synthetic_questions(vocab: Vocabulary, n: int = QUERIES, seed: int = SEED, *, long: bool = False) -> list[Query]:
    """Return n questions, each with an outlet and a two-month range for its filtered variant; fixed seed.

    Short ones come from templates (content words from vocabulary rank 100 on, one or two entities); long ones are
    shaped like MultiHop-RAG's (~50 words in two clauses naming two outlets), whose many common terms make BM25
    score most of the index.
    """
    rng = random.Random(seed + 1 if long else seed)
    out = []
    for _ in range(n):
        text = _long_question(rng, vocab) if long else _short_question(rng, vocab)
        first = date(YEAR, 1, 1) + timedelta(days=rng.randrange(365 - 60))
        last = first + timedelta(days=60)  # two months of one outlet: ~0.4% of the archive
        out.append(Query(text, rng.choice(OUTLETS), _day_key(first), _day_key(last)))
    return out


def _short_question(rng: random.Random, vocab: Vocabulary) -> str:
    w1, w2, w3 = vocab.sample(rng, 3, skip=100)
    person = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return rng.choice(_QUESTIONS).format(
        person=person, org=rng.choice(_ORGS), place=rng.choice(_PLACES), w1=w1, w2=w2, w3=w3
    )


def _long_question(rng: random.Random, vocab: Vocabulary) -> str:
    first, second = " ".join(vocab.sample(rng, 16)), " ".join(vocab.sample(rng, 12))
    person = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return (
        f"Which {rng.choice(_ROLES)} {first} in {rng.choice(_PLACES)}, according to '{rng.choice(OUTLETS)}', and "
        f"{second} after {person} of {rng.choice(_ORGS)} spoke, as reported by '{rng.choice(OUTLETS)}'?"
    )


def _day_key(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


# -- Building --------------------------------------------------------------------------------------------------


class BuildClock:
    """Seconds spent in the parts of `Store.write` that can be told apart from outside: extraction, Chroma."""

    def __init__(self) -> None:
        self.extract = 0.0
        self.chroma = 0.0

    def timed(self, fn: Callable[..., Any], attr: str) -> Callable[..., Any]:
        """Wrap fn so its wall time adds to `attr`."""

        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                setattr(self, attr, getattr(self, attr) + time.perf_counter() - start)

        return call


class _TimedCollection:
    """The store's collection with `upsert` timed; everything else passes through."""

    def __init__(self, collection: Any, clock: BuildClock) -> None:
        self._collection = collection
        self.upsert = clock.timed(collection.upsert, "chroma")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


def grow(
    store: Store,
    articles: Iterator[tuple[Article, list[Chunk]]],
    target: int,
    *,
    batch_passages: int,
    max_seconds: float,
) -> dict[str, Any]:
    """Write articles until the index holds `target` chunks or the time budget runs out; return build figures."""
    import index.store

    clock = BuildClock()
    extract = index.store.extract_statements
    index.store.extract_statements = clock.timed(extract, "extract")  # timing only: the same function, wrapped
    store._collection = _TimedCollection(store.collection, clock)  # type: ignore[assignment]  # timing only
    have = store.count_chunks()
    begin = have
    start = last_report = time.perf_counter()
    last_have = have
    generate = rate = 0.0
    stopped = ""
    try:
        while have < target:
            t = time.perf_counter()
            batch, passages = [], 0
            while passages < batch_passages and have + passages < target:
                article, chunks = next(articles)
                batch.append((article, chunks))
                passages += len(chunks)
            generate += time.perf_counter() - t
            added, _ = store.write(batch)
            have += added
            now = time.perf_counter()
            if now - last_report >= 30 or have >= target:
                rate = (have - last_have) / (now - last_report)  # the recent rate: writes slow down as the index grows
                last_report, last_have = now, have
                projected = (now - start) + (target - have) / rate
                elapsed = now - start
                _log(f"  {have:,} / {target:,} chunks, now {rate:,.0f} chunks/s, {elapsed:,.0f} s, load {_load()[0]}")
                if projected > max_seconds:
                    stopped = f"stopped at {have:,} chunks: projected {projected / 60:,.0f} min > budget"
                    _log("  " + stopped)
                    break
    finally:
        index.store.extract_statements = extract
        store._collection = store._collection._collection  # type: ignore[union-attr]
    seconds = time.perf_counter() - start
    return {
        "chunks_added": have - begin,
        "seconds": round(seconds, 1),
        "chunks_per_s": round((have - begin) / seconds, 1) if seconds else None,
        "generate_seconds": round(generate, 1),
        "statement_extraction_seconds": round(clock.extract, 1),
        "chroma_upsert_seconds": round(clock.chroma, 1),
        "other_write_seconds": round(seconds - generate - clock.extract - clock.chroma, 1),
        "last_window_chunks_per_s": round(rate, 1) if rate else None,
        "stopped": stopped or None,
    }


# -- Measuring -------------------------------------------------------------------------------------------------


def measure(store: Store, settings: Settings, questions: dict[str, list[Query]]) -> dict[str, Any]:
    """Time dense, lexical and hybrid retrieval, plain and filtered, per question set, after a warm-up.

    Dense search does not depend on the words (the vectors are random), so it is timed on the first set only.
    """
    from assistant.retrieval import Retriever
    from index.embedding import LocalEmbeddings

    retriever = Retriever(store, settings, decompose=False)
    asking = Retriever(store, settings)  # as `ask` retrieves: parts per outlet and clause named, each searched
    minilm = LocalEmbeddings("minilm")
    out: dict[str, Any] = {"load_before": _load()}
    for n, (set_name, queries) in enumerate(questions.items()):
        out[set_name] = {"lexical_match_fraction": lexical_match_fraction(store, queries)}
        for name, call in _calls(store, retriever, asking, minilm, queries).items():
            if n and name.startswith("dense"):
                continue
            for i in range(WARMUP):
                call(len(queries) - 1 - i)
            times, found = [], []
            for i in range(len(queries)):
                start = time.perf_counter()
                result = call(i)
                times.append((time.perf_counter() - start) * 1000)
                found.append(len(result))
            timed = out[set_name][name] = {**_stats(times), "mean_results": round(statistics.fmean(found), 1)}
            _log(f"  {set_name:5} {name:17} p50 {timed['p50_ms']:8.2f} ms  p95 {timed['p95_ms']:8.2f} ms")
    out["load_after"] = _load()
    return out


class CostlyStandIn:
    """The random stand-in's vectors at MiniLM's cost: a question's batch is embedded by the packaged MiniLM as
    `Retriever.search` embeds it (where and when the code under test does it), then the random vectors are returned."""

    def __init__(self, random: Any, minilm: LocalEmbeddings) -> None:
        self.random = random
        self.embed = getattr(minilm, "embed_questions", minilm.embed_documents)  # whichever the code under test has

    def embed_questions(self, texts: list[str]) -> list[list[float]]:
        self.embed(texts)
        return self.random.embed_documents(texts)

    embed_documents = embed_questions  # what Retriever.search called before embed_questions

    def embed_query(self, text: str) -> list[float]:
        return self.embed_questions([text])[0]


def _calls(
    store: Store, retriever: Retriever, asking: Retriever, minilm: LocalEmbeddings, queries: list[Query]
) -> dict[str, Callable[[int], list[Any]]]:
    """The retrieval calls to time, each taking a question's index."""

    vectors = [store.embeddings.embed_query(q.text) for q in queries]
    costly = CostlyStandIn(store.embeddings, minilm)

    def as_ask_minilm(i: int) -> list[Any]:
        random, store.embeddings = store.embeddings, costly
        try:
            return asking.search(queries[i].text, HYBRID_K)
        finally:
            store.embeddings = random

    return {
        "dense": lambda i: store.dense_search(vectors[i], DENSE_K),
        "lexical": lambda i: store.lexical_search(queries[i].text, DENSE_K),
        "hybrid": lambda i: retriever.search(queries[i].text, HYBRID_K),
        "hybrid_as_ask": lambda i: asking.search(queries[i].text, HYBRID_K),
        "hybrid_as_ask_minilm": as_ask_minilm,
        "dense_filtered": lambda i: store.dense_search(vectors[i], DENSE_K, queries[i].filters()),
        "lexical_filtered": lambda i: store.lexical_search(queries[i].text, DENSE_K, queries[i].filters()),
        "hybrid_filtered": lambda i: retriever.search(queries[i].text, HYBRID_K, queries[i].filters()),
    }


def lexical_match_fraction(store: Store, queries: list[Query]) -> float:
    """Mean fraction of the chunks that a question's BM25 query matches (all of them are scored to rank)."""
    from index.store import _LEXICAL_STOPWORDS  # the same terms as Store.lexical_search

    total = store.count_chunks()
    fractions = []
    for q in queries:
        terms = [t for t in re.findall(r"\w+", q.text.lower()) if t not in _LEXICAL_STOPWORDS]
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))
        matched = store.db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)).fetchone()
        fractions.append(matched[0] / total)
    return round(statistics.fmean(fractions), 3)


def measure_minilm(queries: list[Query]) -> dict[str, Any]:
    """Time the real MiniLM `embed_query` over the questions, warmed up, at torch's default threads and at one."""
    import torch

    from index.embedding import LocalEmbeddings

    embeddings = LocalEmbeddings("minilm")
    default_threads = torch.get_num_threads()
    out: dict[str, Any] = {"model": "all-MiniLM-L6-v2 (packaged), LocalEmbeddings.embed_query"}
    try:
        for threads in dict.fromkeys((default_threads, 1)):
            torch.set_num_threads(threads)
            for q in queries[:WARMUP]:
                embeddings.embed_query(q.text)
            times = []
            load = _load()
            for q in queries:
                start = time.perf_counter()
                embeddings.embed_query(q.text)
                times.append((time.perf_counter() - start) * 1000)
            key = f"torch_threads_{threads}" + ("_default" if threads == default_threads else "")
            out[key] = {**_stats(times), "load_before": load, "load_after": _load()}
            _log(f"  {key:17} p50 {out[key]['p50_ms']:8.2f} ms  p95 {out[key]['p95_ms']:8.2f} ms")
    finally:
        torch.set_num_threads(default_threads)
    return out


def fts_doc_scan_ms(store: Store) -> dict[str, float]:
    """Milliseconds to find one article's lexical rows: by `chunks_fts.doc_id` (a full scan, as `Store.write` did
    before fts_docs) and through fts_docs (as it does now)."""
    lookups = {
        "scan": "SELECT COUNT(*) FROM chunks_fts WHERE doc_id = ?",
        "fts_docs": "SELECT COUNT(*) FROM fts_docs WHERE doc_id = ?",
    }
    out = {}
    for name, sql in lookups.items():
        times = []
        for i in range(5):
            start = time.perf_counter()
            store.db.execute(sql, (f"absent-{i}",)).fetchone()
            times.append((time.perf_counter() - start) * 1000)
        out[name] = round(statistics.median(times), 2)
    return out


def disk_usage(home: Path, chroma_dir: Path, store: Store) -> dict[str, Any]:
    """Bytes on disk of the whole index, split into catalog (SQLite) and Chroma, and the catalog's tables."""
    catalog = _bytes(store.dir)
    chroma = _bytes(chroma_dir)
    home_total = _bytes(home)
    if not chroma_dir.is_relative_to(home):
        home_total = {k: home_total[k] + chroma[k] for k in home_total}
    tables = dict(store.db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall())
    wal = store.dir / "catalog.sqlite3-wal"
    return {
        "total_bytes": home_total["bytes"],
        "total_allocated_bytes": home_total["allocated"],
        "catalog_bytes": catalog["bytes"],
        "catalog_wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "chroma_bytes": chroma["bytes"],
        "chroma_allocated_bytes": chroma["allocated"],
        "catalog_tables_bytes": {name: size for name, size in tables.items() if size >= 1 << 20},
    }


def _bytes(path: Path) -> dict[str, int]:
    """Apparent and allocated bytes of every file below path (HNSW files can be sparse)."""
    apparent = allocated = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:  # a temporary file that went away
                continue
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return {"bytes": apparent, "allocated": allocated}


def _stats(times_ms: list[float]) -> dict[str, float]:
    p = np.percentile(times_ms, [50, 95])
    return {
        "p50_ms": round(float(p[0]), 2),
        "p95_ms": round(float(p[1]), 2),
        "mean_ms": round(statistics.fmean(times_ms), 2),
        "max_ms": round(max(times_ms), 2),
        "n": len(times_ms),
    }


def _load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- Running ---------------------------------------------------------------------------------------------------


def run_backend(
    backend: str,
    sizes: list[int],
    workdir: Path,
    questions: dict[str, list[Query]],
    vocab: Vocabulary,
    *,
    batch_passages: int,
    max_build_minutes: float,
    record: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """Grow one index on `backend` through `sizes`, measuring at each; call `record` with each step's figures."""
    from assistant.settings import load_settings
    from index.store import Store
    from tests.servers import chroma_server  # the tests' bounded start-up and shutdown of `chroma run`

    home = workdir / backend / "home"
    server_dir = workdir / backend / "chroma-server"
    home.mkdir(parents=True, exist_ok=True)
    server = chroma_server(server_dir, workdir / backend) if backend == "server" else nullcontext(None)
    steps: list[dict[str, Any]] = []
    with server as url:
        settings = load_settings(home=home, chroma_url=url)
        embeddings = RandomEmbeddings(SEED)
        store = Store(settings, embeddings)  # type: ignore[arg-type]  # a stand-in with LocalEmbeddings' interface
        held = int(store.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])  # > 0 when resuming
        if held:
            embeddings.start_stream(held)
        articles = archive(held, vocab)
        try:
            for size in sizes:
                _log(f"[{backend}] growing to {size:,} chunks")
                build = grow(store, articles, size, batch_passages=batch_passages, max_seconds=max_build_minutes * 60)
                chunks = store.count_chunks()
                _log(f"[{backend}] measuring at {chunks:,} chunks")
                step: dict[str, Any] = {
                    "backend": backend,
                    "target_chunks": size,
                    "chunks": chunks,
                    "articles": int(store.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]),
                    "vectors": store.collection.count(),
                    "build": build,
                    "fts_doc_scan_ms": fts_doc_scan_ms(store),
                    "latency": measure(store, settings, questions),
                    "disk": disk_usage(home, server_dir if url else home / "chroma", store),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                }
                steps.append(step)
                record(step)
                disk = step["disk"]
                _log(
                    f"[{backend}] {chunks:,} chunks: {disk['total_bytes'] / 2**20:,.0f} MiB "
                    f"(catalog {disk['catalog_bytes'] / 2**20:,.0f}, chroma {disk['chroma_bytes'] / 2**20:,.0f})"
                )
                if build["stopped"]:
                    break
        finally:
            store.close()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="chunk counts to measure at, ascending")
    parser.add_argument("--backend", choices=("embedded", "server", "both"), default="both")
    parser.add_argument("--out", default=str(ROOT / "bench/results/scale.json"))
    parser.add_argument("--workdir", help="where the indexes are built (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir afterwards")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="grow the indexes a kept --workdir holds (sizes at or below theirs are only measured again)",
    )
    parser.add_argument(
        "--batch-passages", type=int, default=256, help="passages per Store.write (ingest's default batch)"
    )
    parser.add_argument(
        "--max-build-minutes",
        type=float,
        default=60.0,
        help="stop growing (and measure there) when a step is projected to take longer than this",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = ["embedded", "server"] if args.backend == "both" else [args.backend]

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="scale-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        if (workdir / backend).exists() and not args.resume:
            parser.error(f"{workdir / backend} exists: pass an empty --workdir, or --resume to grow it on")
    vocab = Vocabulary.build()
    questions = {"short": synthetic_questions(vocab), "long": synthetic_questions(vocab, long=True)}
    result: dict[str, Any] = {
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cores": os.cpu_count() or 0,
            "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "load_at_start": _load(),
        },
        "setup": {
            "embedder": (
                f"RandomEmbeddings: seeded random unit vectors, dimension {DIM}, in place of MiniLM for documents "
                "and queries (query embedding cost excluded from every latency below except hybrid_as_ask_minilm; see "
                "minilm_embed_query)"
            ),
            "write_path": "index.store.Store.write (catalog, FTS5, statement extraction, Chroma), "
            f"batches of ~{args.batch_passages} passages; build.other_write_seconds is Store.write outside statement "
            "extraction and the Chroma upsert: SQLite catalog and FTS5 writes; a replaced article's lexical rows are "
            "found through fts_docs (see fts_doc_scan_ms: before fts_docs it was a full scan of chunks_fts)",
            "articles": "synthetic, 8-12 paragraphs of 170-230 words, one chunk per paragraph, 40 outlets, "
            f"dates across {YEAR}, ~10% quoted and ~8% reported-speech sentences",
            "vocabulary": f"{len(vocab.words) - PSEUDO_WORDS} news words then {PSEUDO_WORDS:,} pseudo-words, "
            f"Zipf s={ZIPF_S}",
            "queries": f"short: {QUERIES} template questions (~10 words; content words from vocabulary rank 100 on, "
            f"one or two entities); long: {QUERIES} MultiHop-RAG-shaped questions (~50 words, two clauses, two "
            f"outlets); {WARMUP} warm-up calls per kind; dense timed on the short set only (random vectors)",
            "dense_k": DENSE_K,
            "lexical_k": DENSE_K,
            "hybrid": f"Retriever(store, settings, decompose=False).search(query, {HYBRID_K}): dense k=40 + "
            "lexical k=40 + weighted RRF + diversify + cosine rescoring from stored vectors",
            "hybrid_as_ask": f"Retriever(store, settings).search(query, {HYBRID_K}), as `ask` retrieves: also one "
            "hybrid ranking per outlet and clause the question names (long questions name two outlets: ~6 rankings, "
            "most filtered by outlet), merged by article; the question's embedding batch is the random stand-in",
            "hybrid_as_ask_minilm": "hybrid_as_ask with the real cost of its embedding: Retriever.search embeds the "
            "question and its parts where and when it does (since session 14 beside its lexical searches) by the "
            "packaged MiniLM (LocalEmbeddings.embed_questions), and searches with the random stand-in's vectors",
            "filter": "one outlet and a 61-day range (Filters(sources=(outlet,), since, until)), ~0.4% of chunks",
        },
        "minilm_embed_query": None,
        "steps": [],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def record(step: dict[str, Any] | None = None) -> None:
        if step is not None:
            result["steps"].append(step)
        out.write_text(json.dumps(result, indent=2) + "\n")

    try:
        _log("timing MiniLM embed_query")
        result["minilm_embed_query"] = measure_minilm(questions["short"])
        record()
        for backend in backends:
            run_backend(
                backend,
                sizes,
                workdir,
                questions,
                vocab,
                batch_passages=args.batch_passages,
                max_build_minutes=args.max_build_minutes,
                record=record,
            )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary(result))


def summary(result: dict[str, Any]) -> str:
    """Return a plain table of the steps: p50/p95 in ms per question set and kind."""
    minilm = result["minilm_embed_query"]
    lines = [f"MiniLM embed_query p50, {k}: {v['p50_ms']} ms" for k, v in minilm.items() if isinstance(v, dict)]
    columns = [("short", "dense"), ("short", "lexical"), ("short", "hybrid"), ("short", "hybrid_filtered")]
    columns += [("long", "lexical"), ("long", "hybrid")]
    header = "".join(f"{f'{q}.{k}':>24}" for q, k in columns)
    lines.append(f"{'backend':9}{'chunks':>10}{'build s':>9}{'disk MiB':>9}{header}")
    for s in result["steps"]:
        lat = s["latency"]
        cells = "".join(f"{_p50_p95(lat[q][k]):>24}" for q, k in columns)
        disk_mib = s["disk"]["total_bytes"] / 2**20
        lines.append(f"{s['backend']:9}{s['chunks']:>10,}{s['build']['seconds']:>9,.0f}{disk_mib:>9,.0f}{cells}")
    return "\n".join(lines)


def _p50_p95(stats: dict[str, float]) -> str:
    return f"{stats['p50_ms']:.1f}/{stats['p95_ms']:.1f}"


if __name__ == "__main__":
    main()
